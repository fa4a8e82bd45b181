// Sending data frames on a direct peer DataChannel, with backpressure.

/** What sendFrames needs of an RTCDataChannel (an RTCDataChannel is one). */
export type FrameChannel = {
  send(d: Uint8Array<ArrayBuffer>): void;
  bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  readyState: string;
  addEventListener(t: "bufferedamountlow" | "close", f: () => void): void;
  removeEventListener(t: "bufferedamountlow" | "close", f: () => void): void;
};

/**
 * Sends frames in order, waiting for 'bufferedamountlow' whenever more than highWater bytes are
 * queued (the queue is finite: Chromium closes a channel whose send queue would pass 16 MiB).
 * Rejects if the channel is not open, closes while waiting, or does not drain for `stall` ms (a peer
 * that stopped reading must not hold a sender for ever).
 */
export const sendFrames = async (
  ch: FrameChannel,
  frames: Uint8Array<ArrayBuffer>[],
  highWater = 256 << 10,
  stall = 30000,
): Promise<void> => {
  for (const f of frames) {
    if (ch.bufferedAmount > highWater) {
      ch.bufferedAmountLowThreshold = highWater >> 1;
      await new Promise<void>((ok, no) => {
        // Whichever fires first removes both, so no listener outlives the wait.
        const off = () => (clearTimeout(t), ch.removeEventListener("bufferedamountlow", low), ch.removeEventListener("close", shut)),
          low = () => (off(), ok()),
          shut = (why?: unknown) => (off(), no(new Error("lumamesh: channel " + (typeof why === "string" ? why : "closed")))),
          t = setTimeout(shut, stall, `stalled (peer not reading for ${stall} ms)`);
        ch.addEventListener("bufferedamountlow", low);
        ch.addEventListener("close", shut);
      });
    }
    if (ch.readyState !== "open") throw new Error("lumamesh: channel closed");
    ch.send(f);
  }
};
