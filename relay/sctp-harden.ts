// Bounded SCTP receive path for werift's association class: installed on its prototype by the
// adapter (relay/werift.ts), explicitly, once. It replaces three methods werift leaves unbounded
// (docs/werift-bugs.md):
//  - receiveDataChunk: werift decrements its advertised window but never enforces it, and keeps
//    DATA for any stream, ordered or not. Here a chunk is taken only if it fits the window (bytes
//    and a chunk count), lies within MAX_TSN_AHEAD of the cumulative TSN, and is for the one
//    negotiated channel (stream 0, ordered); a message growing past the session's cap ends the
//    association (a protocol violation reported to the adapter).
//  - markReceived: werift sorts its whole out-of-order set on every chunk; here it is O(1) amortized.
//  - getInboundStream: werift's reassembly rescans the queue from the start on every chunk
//    (quadratic); Inbound below keeps its scan position.
// RFC 9260 §6.2 (receiver drops DATA that does not fit its window), §6.9 (reassembly).

const FIRST = 0x02,
  LAST = 0x01,
  UNORDERED = 0x04;
/** Out-of-order TSNs further ahead than this are dropped (a legitimate sender keeps its window in flight). */
export const MAX_TSN_AHEAD = 4096;
/** DATA chunks held in reassembly at most (a window of 1-byte chunks must not cost 1,024× its bytes). */
export const MAX_HELD_CHUNKS = 1024;

interface DataChunk {
  tsn: number;
  streamId: number;
  streamSeqNum: number;
  protocol: number;
  flags: number;
  userData: Uint8Array;
}

/** Per-association settings and the way out, kept on the association object. */
export interface Guard {
  /** Largest message accepted (bytes); a longer one in progress is a violation. */
  maxMessage: number;
  /** Dropped input, by reason (counted by the relay). */
  drop(reason: string): void;
  /** The peer broke the protocol in a way that ends the association. */
  violation(reason: string): void;
}

interface Assoc {
  lm?: Guard;
  sackNeeded: boolean;
  sackImmediate: boolean;
  sackHasNewDataInPacket: boolean;
  sackDuplicates: number[];
  sackMisOrdered: Set<number>;
  lastReceivedTsn: number | undefined;
  advertisedRwnd: number;
  associationState: number;
  inboundStreams: Record<number, Inbound>;
  receive(streamId: number, ppid: number, data: Uint8Array): void;
  markReceived(tsn: number): boolean;
  getInboundStream(id: number): Inbound;
}

const ESTABLISHED = 4;
const gt = (a: number, b: number) => (a < b && b - a > 0x80000000) || (a > b && a - b < 0x80000000);
const plus1 = (t: number) => (t + 1) >>> 0;
const ahead = (t: number, base: number) => (t - base) >>> 0;

/** Ordered reassembly for one stream, linear in the chunks it holds. */
export class Inbound {
  streamSequenceNumber = 0;
  /** Held chunks, sorted by TSN (serial number arithmetic). */
  reassembly: DataChunk[] = [];
  /** Scan of the head message: chunks [0, scan) are consecutive TSNs of one message, `bytes` long. */
  private scan = 0;
  private bytes = 0;
  constructor(
    private maxMessage = Infinity,
    private onTooLong: () => void = () => {},
  ) {}

  addChunk(c: DataChunk) {
    const r = this.reassembly;
    if (r.length === 0 || gt(c.tsn, r[r.length - 1]!.tsn)) {
      r.push(c);
    } else {
      let lo = 0,
        hi = r.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (gt(c.tsn, r[mid]!.tsn)) lo = mid + 1;
        else hi = mid;
      }
      if (r[lo]?.tsn === c.tsn) return; // duplicate (markReceived filters these first)
      r.splice(lo, 0, c);
      if (lo === 0) this.scan = this.bytes = 0; // a new head: rescan it
    }
  }

  *popMessages(): Generator<[number, number, Uint8Array]> {
    const r = this.reassembly;
    for (;;) {
      const head = r[0];
      if (!head || !(head.flags & FIRST) || head.streamSeqNum !== this.streamSequenceNumber) return;
      while (this.scan < r.length) {
        const c = r[this.scan]!;
        if (this.scan > 0 && (c.tsn !== (head.tsn + this.scan) >>> 0 || c.flags & FIRST)) return;
        this.bytes += c.userData.length;
        this.scan++;
        if (this.bytes > this.maxMessage) return this.onTooLong();
        if (c.flags & LAST) break;
      }
      const last = r[this.scan - 1];
      if (!last || !(last.flags & LAST)) return;
      const parts = r.splice(0, this.scan);
      const data = parts.length === 1 ? parts[0]!.userData : Buffer.concat(parts.map((p) => p.userData));
      this.scan = this.bytes = 0;
      this.streamSequenceNumber = (this.streamSequenceNumber + 1) & 0xffff;
      yield [head.streamId, head.protocol, data];
    }
  }

  /** Drop chunks up to `tsn` (FORWARD TSN); returns their bytes. */
  pruneChunks(tsn: number): number {
    let n = 0,
      size = 0;
    while (n < this.reassembly.length && !gt(this.reassembly[n]!.tsn, tsn)) size += this.reassembly[n++]!.userData.length;
    if (n) {
      this.reassembly.splice(0, n);
      this.scan = this.bytes = 0;
    }
    return size;
  }
}

function receiveDataChunk(this: Assoc, chunk: DataChunk) {
  const g = this.lm;
  this.sackNeeded = true;
  this.sackImmediate = true;
  if (this.associationState !== ESTABLISHED || this.lastReceivedTsn === undefined) return g?.drop("sctp.data-before-established");
  const base = this.lastReceivedTsn >>> 0,
    tsn = chunk.tsn >>> 0;
  if (tsn === base || gt(base, tsn) || this.sackMisOrdered.has(tsn)) {
    if (this.sackDuplicates.length < 64) this.sackDuplicates.push(tsn); // reported in the next SACK
    return;
  }
  if (ahead(tsn, base) > MAX_TSN_AHEAD) return g?.drop("sctp.tsn-too-far");
  // Only the negotiated channel (stream 0, ordered) carries our protocol: anything else is
  // acknowledged and discarded, never held.
  if (chunk.streamId !== 0 || chunk.flags & UNORDERED) {
    this.markReceived(tsn);
    return g?.drop("sctp.other-stream");
  }
  const s = this.getInboundStream(0);
  // Over the window: not received, so the sender has to retransmit it (RFC 9260 §6.2).
  if (this.advertisedRwnd < chunk.userData.length || s.reassembly.length >= MAX_HELD_CHUNKS) return g?.drop("sctp.window");
  this.markReceived(tsn);
  this.sackHasNewDataInPacket = true;
  s.addChunk(chunk);
  this.advertisedRwnd -= chunk.userData.length;
  for (const m of s.popMessages()) {
    this.advertisedRwnd += m[2].length;
    this.receive(...m);
  }
}

/** Called only for a TSN that is new (not a duplicate): advances the cumulative TSN in O(1) amortized. */
function markReceived(this: Assoc, tsn: number): boolean {
  const last = this.lastReceivedTsn! >>> 0;
  if (tsn === last || gt(last, tsn) || this.sackMisOrdered.has(tsn)) return true;
  if (tsn === plus1(last)) {
    let t = tsn;
    while (this.sackMisOrdered.delete(plus1(t))) t = plus1(t);
    this.lastReceivedTsn = t;
    if (this.sackDuplicates.length) this.sackDuplicates = this.sackDuplicates.filter((x) => gt(x, t));
  } else this.sackMisOrdered.add(tsn);
  return false;
}

function getInboundStream(this: Assoc, id: number): Inbound {
  let s = this.inboundStreams[id];
  if (!s) {
    const g = this.lm;
    s = this.inboundStreams[id] = new Inbound(g?.maxMessage ?? Infinity, () => g?.violation("sctp-message-too-long"));
  }
  return s;
}

/** Install the bounded receive path on werift's SCTP association prototype. */
export function hardenSctp(proto: object) {
  Object.assign(proto, { receiveDataChunk, markReceived, getInboundStream });
}

/** Internals for tests. */
export const _internal = /* @__PURE__ */ Object.freeze({ receiveDataChunk, markReceived });
