export interface RelayInfo {
    /** "ip:port" or "[ipv6]:port" */
    addr: string;
    /** SHA-256 fingerprint of the relay's DTLS certificate, colon hex as in SDP. */
    fp: string;
}
export interface Bootstrap {
    /** Relays named by address and fingerprint. */
    relays: RelayInfo[];
    /** Sats whose newest inscription is a registered relay's signed record. */
    sats: number[];
}
/** Entries read from one config at most (a config is a few dozen relays). */
export declare const MAX_BOOTSTRAP_ENTRIES = 64;
/** A bootstrap config's relays and sats, or why it is unusable. Bad entries are skipped. */
export declare function parseBootstrap(text: string): Bootstrap | string;
/** A config naming these relays (what pages cache). */
export declare const bootstrapText: (relays: RelayInfo[]) => string;
