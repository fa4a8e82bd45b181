/** The largest data frame on a direct channel (relayed frames are smaller: relay maxFrame − sealed.ts RELAYED_OVERHEAD). */
export declare const DATA_FRAME_MAX = 16384;
/** Frames (of at most `max` bytes) for one message. Throws TypeError for what cannot be sent (undefined, functions, symbols, BigInt, cycles). */
export declare const encodeData: (data: unknown, max?: number) => Uint8Array<ArrayBuffer>[];
export type Reassembled = {
    data: unknown;
} | {
    error: string;
} | null;
/**
 * A frame sink for one channel: null = need more frames, {data} = a whole message, {error} = this
 * frame (and its message) was dropped. Never throws. Keeps views of the frames it is given until
 * the message completes, so do not reuse a frame's buffer (DataChannel messages never are).
 */
export declare const createReassembler: (limits?: {
    maxMessage?: number;
    maxPending?: number;
}) => ((frame: Uint8Array) => Reassembled);
