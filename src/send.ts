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

/** Per channel, the wait for it to drain that senders are queued on (one listener, one timer). */
const waits = new WeakMap<FrameChannel, Promise<void>>();

/** Resolves when the channel's queue falls to half of highWater; rejects if it closes or stalls. */
const drained = (ch: FrameChannel, highWater: number, stall: number) =>
  new Promise<void>((ok, no) => {
    ch.bufferedAmountLowThreshold = highWater >> 1;
    // Whichever fires first removes both, so no listener outlives the wait.
    const off = () => (clearTimeout(t), ch.removeEventListener("bufferedamountlow", low), ch.removeEventListener("close", shut)),
      low = () => (off(), ok()),
      shut = (why?: unknown) => (off(), no(new Error("lumamesh: channel " + (typeof why === "string" ? why : "closed")))),
      t = setTimeout(shut, stall, `stalled (peer not reading for ${stall} ms)`);
    ch.addEventListener("bufferedamountlow", low);
    ch.addEventListener("close", shut);
  });

/**
 * Sends frames in order, waiting for 'bufferedamountlow' whenever more than highWater bytes are
 * queued (the queue is finite: Chromium closes a channel whose send queue would pass 16 MiB).
 * Calls that find others waiting queue behind them (first come, first sent: a later call never
 * overtakes an earlier one, and a wake-up sends only until highWater again, however many wait).
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
    for (let w; (w = waits.get(ch)) || ch.bufferedAmount > highWater; await w)
      w || waits.set(ch, (w = drained(ch, highWater, stall).finally(() => waits.delete(ch))));
    if (ch.readyState !== "open") throw new Error("lumamesh: channel closed");
    ch.send(f);
  }
};
