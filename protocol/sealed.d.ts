/** Sealed message types (the first payload byte; also bound into the AD). */
export declare const enum Sealed {
    /** SDP offer: JSON {sdp, nick} */
    OFFER = 1,
    /** SDP answer: JSON {sdp, nick} */
    ANSWER = 2,
    /** ICE candidate: JSON RTCIceCandidateInit */
    CAND = 3,
    /** One data frame (protocol/chunk.ts) of a pair without a direct path */
    DATA = 4
}
export declare const NONCE_BYTES = 12, TAG_BYTES = 16, SEQ_BYTES = 4;
/** What sealing adds to a body: type, nonce, sequence number, tag (33 bytes). */
export declare const SEAL_OVERHEAD: number;
/** A relayed data frame's overhead in the DELIVER that carries it (59 bytes): data frames are cut to the relay's maxFrame minus this. */
export declare const RELAYED_OVERHEAD: number;
/** The additional data a sealed message is bound to. RangeError on bad ids or type. */
export declare function sealedAD(topic: Uint8Array, from: Uint8Array, to: Uint8Array | null, type: number): Uint8Array;
