/** Parse "ip:port" / "[v6]:port"; null when malformed. */
export declare function parseAddr(addr: string): {
    ip: string;
    port: number;
    v6: boolean;
} | null;
/** A SHA-256 certificate fingerprint as SDP writes it: 32 uppercase hex bytes, colon separated. */
export declare const FP_RE: RegExp;
/** 32 random ICE characters (192 bits): base64's alphabet is exactly ice-char's (RFC 8839 §5.4). */
export declare const randomUfrag: () => string;
/** A peer id: the first 8 bytes of a colon-hex SHA-256 certificate fingerprint. */
export declare const fpId: (fp: string) => Uint8Array;
