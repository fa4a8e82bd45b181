// Application data between peers (docs/protocol.md §4): a value encoded into binary data frames, and
// frames reassembled into values. The same frames go over a direct DataChannel and, sealed, through
// a relay (relayed DATA). Sending them is the library's (src/send.ts).
//
// Every frame is binary and at most DATA_FRAME_MAX = 16 KiB, the size every browser's SCTP stack delivers
// whole without ndata/EOR support (RFC 8831 §6.6). Bigger messages are chunked.
//
//   single   [ 0000 00 kk ] payload                                   whole message
//   first    [ 0000 01 kk ] id:u32be  total:u32be  payload            total = message bytes
//   next     [ 0000 10 kk ] id:u32be  payload                         until total bytes arrived
//   kk: 0 JSON (UTF-8 of JSON.stringify), 1 text (UTF-8), 2 binary. Other header bits: malformed.
//
// Received: JSON → the parsed value; text → string; binary (any ArrayBuffer or view) → a Uint8Array
// that owns exactly its bytes. JSON follows JSON.stringify (NaN → null, functions in objects dropped);
// text is UTF-8, so lone surrogates in a text message arrive as U+FFFD (JSON escapes them and keeps them).
// Chunks of a message arrive in order (reliable ordered channel); messages may interleave, keyed by id.
// After a message is dropped, each of its remaining frames also returns an error.

import { concat, int, uint, utf8Decode, utf8Encode } from "./bytes.ts";

/** The largest data frame on a direct channel (relayed frames are smaller: relay maxFrame − sealed.ts RELAYED_OVERHEAD). */
export const DATA_FRAME_MAX = 16384;
const FIRST = 4,
  NEXT = 8;
let seq = 0;

/** Frames (of at most `max` bytes) for one message. Throws TypeError for what cannot be sent (undefined, functions, symbols, BigInt, cycles). */
export const encodeData = (data: unknown, max = DATA_FRAME_MAX): Uint8Array<ArrayBuffer>[] => {
  let k = 2,
    p: Uint8Array,
    s: string | undefined;
  if (data instanceof ArrayBuffer) p = new Uint8Array(data);
  else if (ArrayBuffer.isView(data)) p = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  else {
    if (typeof data === "string") (k = 1), (s = data);
    else
      try {
        (k = 0), (s = JSON.stringify(data));
      } catch {}
    if (s === void 0) throw new TypeError("lumamesh: cannot send " + typeof data + " (not JSON, text or bytes)");
    p = utf8Encode(s);
  }
  const n = p.length,
    out: Uint8Array<ArrayBuffer>[] = [];
  if (n < max) return [concat([Uint8Array.of(k), p])];
  const id = int((seq = (seq + 1) >>> 0), 4);
  for (let o = 0; o < n; ) {
    const e = Math.min(n, o + max - (o ? 5 : 9));
    out.push(concat([Uint8Array.of(k | (o ? NEXT : FIRST)), id, int(n, o ? 0 : 4), p.subarray(o, e)]));
    o = e;
  }
  return out;
};

export type Reassembled = { data: unknown } | { error: string; fatal?: boolean } | null;

export interface ReassemblyLimits {
  /** Largest message (bytes, default 64 MiB). */
  maxMessage?: number;
  /** Messages in progress at once (default 8). */
  maxPending?: number;
  /** Bytes the messages in progress may claim together (default 64 MiB): beyond, the sender is over budget (fatal). */
  maxBytes?: number;
  /** A message in progress with no frame for this long (ms) is dropped (default 60 s). */
  timeout?: number;
}

export interface Reassembler {
  /** null = need more frames, {data} = a whole message, {error} = this frame (and its message) was
   *  dropped; `fatal` when the sender went over the byte budget. Never throws. */
  (frame: Uint8Array, now?: number): Reassembled;
  /** Messages in progress. */
  readonly pending: number;
}

/**
 * A frame sink for one channel (see Reassembler). Keeps views of the frames it is given until the
 * message completes, so do not reuse a frame's buffer (DataChannel messages never are).
 */
export const createReassembler = ({
  maxMessage = 64 << 20,
  maxPending = 8,
  maxBytes = 64 << 20,
  timeout = 60000,
}: ReassemblyLimits = {}): Reassembler => {
  const m = new Map<number, { k: number; t: number; n: number; p: Uint8Array[]; at: number }>(),
    err = (e: string, fatal?: boolean) => ({ error: "lumamesh: " + e, fatal }),
    done = (k: number, b: Uint8Array): Reassembled => {
      try {
        return { data: k > 1 ? b : k ? utf8Decode(b) : JSON.parse(utf8Decode(b)) };
      } catch {
        return err("bad JSON");
      }
    };
  const rs = ((f: Uint8Array, now = performance.now()): Reassembled => {
    let stale = 0;
    for (const [id, e] of m) if (now - e.at > timeout) m.delete(id), stale++;
    // What waits for more frames (null), or the frame of an unknown message, says once that messages timed out.
    const wait = (e = "bad frame") => (stale ? err("message timed out") : e === "" ? null : err(e));
    const n = f.length,
      k = f[0] & 3,
      fl = f[0] & 252,
      id = n > 4 && uint(f.subarray(1, 5));
    if (!n || k > 2) return err("bad frame");
    // A whole message is delivered even when it is the frame that found another one stale.
    if (!fl) return n - 1 > maxMessage ? err("too large") : done(k, f.slice(1));
    if (id === false || (fl !== FIRST && fl !== NEXT)) return err("bad frame");
    let e = m.get(id);
    if (fl === FIRST) {
      if (e || n < 9) return (m.delete(id), err("bad frame"));
      const t = uint(f.subarray(5, 9));
      if (t > maxMessage) return err("too large");
      let claimed = t;
      for (const x of m.values()) claimed += x.t;
      if (m.size >= maxPending || claimed > maxBytes) return err("over the reassembly budget", true);
      m.set(id, (e = { k, t, n: 0, p: [], at: now }));
    } else if (!e || e.k !== k) return (m.delete(id), wait());
    const c = f.subarray(fl === FIRST ? 9 : 5);
    e.at = now;
    e.p.push(c);
    if ((e.n += c.length) < e.t) return wait("");
    m.delete(id);
    return e.n > e.t ? err("bad frame") : done(k, concat(e.p));
  }) as Reassembler;
  Object.defineProperty(rs, "pending", { get: () => m.size });
  return rs;
};
