export interface RelayRecord {
    lumamesh: 1;
    /** "ip:port" or "[ipv6]:port" */
    addr: string;
    /** SHA-256 fingerprint of the relay's DTLS certificate, uppercase colon hex */
    fp: string;
    /** Ed25519 public key, 64 hex chars */
    id: string;
    /** The sat the relay inscribes this record on, once registered */
    sat?: number;
    /** Monotonic version (seconds since the epoch when signed); a newer one replaces an older one */
    seq: number;
    /** Ed25519 signature (base64url) over recordSignedBytes(record) */
    sig: string;
}
export type UnsignedRecord = Omit<RelayRecord, "sig">;
/** The exact bytes signed: "lumamesh-record:" + the record without `sig` as JSON, keys in this fixed order. */
export declare function recordSignedBytes(r: UnsignedRecord): Uint8Array<ArrayBuffer>;
/** The record's fields if its shape is right (its signature is not checked here); else a reason. */
export declare function recordShape(x: unknown): RelayRecord | string;
