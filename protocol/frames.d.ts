export declare const VERSION = 1;
/** Largest frame either side sends or accepts, in bytes (the relay announces its own in WELCOME). */
export declare const MAX_FRAME = 16384;
export declare const TOPIC_LEN = 16;
export declare const ID_LEN = 8;
/** Frame types (an enum, so the bundler inlines the numbers). */
export declare const enum T {
    HELLO = 1,
    WELCOME = 2,
    PING = 3,
    PONG = 4,
    ERROR = 5,
    RECORDS = 6,
    JOIN = 16,
    LEAVE = 17,
    MEMBERS = 18,
    JOINED = 19,
    LEFT = 20,
    SEND = 21,
    BCAST = 22,
    DELIVER = 23
}
/** Every frame type by name (for tests and tools; the bundle does not need it). */
export declare const TYPES: {
    readonly HELLO: 1;
    readonly WELCOME: 2;
    readonly PING: 3;
    readonly PONG: 4;
    readonly ERROR: 5;
    readonly RECORDS: 6;
    readonly JOIN: 16;
    readonly LEAVE: 17;
    readonly MEMBERS: 18;
    readonly JOINED: 19;
    readonly LEFT: 20;
    readonly SEND: 21;
    readonly BCAST: 22;
    readonly DELIVER: 23;
};
/** ERROR codes. 1xx: protocol, 2xx: limits, 3xx: rooms. */
export declare const E: {
    readonly VERSION: 100;
    readonly MALFORMED: 101;
    readonly UNEXPECTED: 102;
    readonly FRAME_SIZE: 200;
    readonly RATE: 201;
    readonly ROOMS: 202;
    readonly MEMBERS: 203;
    readonly SESSIONS: 204;
    readonly NOT_JOINED: 300;
    readonly ID_TAKEN: 301;
    readonly NO_PEER: 302;
    readonly ID_MISMATCH: 303;
};
export type Frame = {
    t: 1;
    min: number;
    max: number;
} | {
    t: 2;
    version: number;
    maxFrame: number;
    rate: number;
    msgRate: number;
} | {
    t: 3 | 4;
    data: Uint8Array;
} | {
    t: 5;
    code: number;
    message: string;
} | {
    t: 6;
    json: string;
} | {
    t: 16;
    topic: Uint8Array;
    id: Uint8Array;
} | {
    t: 17;
    topic: Uint8Array;
} | {
    t: 18;
    topic: Uint8Array;
    ids: Uint8Array[];
} | {
    t: 19 | 20;
    topic: Uint8Array;
    id: Uint8Array;
} | {
    t: 21;
    topic: Uint8Array;
    to: Uint8Array;
    data: Uint8Array;
} | {
    t: 22;
    topic: Uint8Array;
    data: Uint8Array;
} | {
    t: 23;
    topic: Uint8Array;
    from: Uint8Array;
    bcast: boolean;
    data: Uint8Array;
};
/** Bytes of a frame of type `t` before its variable part (type byte included): SEND 25, BCAST 17, DELIVER 26. */
export declare const headerBytes: (t: T) => number;
/** How much longer the DELIVER the relay makes of a SEND or a BCAST is than the frame itself. */
export declare const deliverGrowth: (t: T.SEND | T.BCAST) => number;
export declare function encode(f: Frame): Uint8Array;
/** Decode one frame; null when the bytes are not a well-formed v1 frame. */
export declare function decode(b: Uint8Array): Frame | null;
