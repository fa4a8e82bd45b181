// DTLS 1.2 record and handshake-header parsing for the relay, sans-IO: enough to answer a
// ClientHello with a stateless HelloVerifyRequest, to read its cookie, and to reassemble
// fragmented handshake messages within fixed bounds before werift sees them.
//
// RFC 6347 §4.1 record:     type(1) version(2) epoch(2) sequence_number(6) length(2) fragment
// RFC 6347 §4.2.2 handshake: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3) body
// RFC 6347 §4.2.1 ClientHello body: client_version(2) random(32) session_id<0..32> cookie<0..2^8-1> …
//                 HelloVerifyRequest body: server_version(2) cookie<0..2^8-1>
//
// Parsers never throw on wire input: they return null (or skip what does not parse).

export const CT = /* @__PURE__ */ Object.freeze({ CHANGE_CIPHER_SPEC: 20, ALERT: 21, HANDSHAKE: 22, APPLICATION_DATA: 23 } as const);
export const HS = /* @__PURE__ */ Object.freeze({ CLIENT_HELLO: 1, HELLO_VERIFY_REQUEST: 3 } as const);
/** The record and handshake-body version werift (and so the relay) writes: DTLS 1.2. */
export const DTLS_1_2 = 0xfefd;
export const RECORD_HEADER = 13;
export const HANDSHAKE_HEADER = 12;
/** The largest handshake message the relay accepts. Chromium's ClientHello (with a post-quantum key
 * share) is ~1.4 KB, certificates of browsers and relays well under 2 KB. */
export const MAX_HANDSHAKE_MESSAGE = 8192;

export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  /** 48-bit record sequence number (exact as a double). */
  seq: number;
  /** The whole record, header included (a view into the datagram). */
  raw: Uint8Array;
  /** The record's fragment (a view). */
  body: Uint8Array;
}

/** Every complete record in a datagram, in order; a truncated tail is left out. */
export function parseRecords(d: Uint8Array): DtlsRecord[] {
  const out: DtlsRecord[] = [];
  let o = 0;
  while (o + RECORD_HEADER <= d.length) {
    const len = (d[o + 11]! << 8) | d[o + 12]!;
    if (o + RECORD_HEADER + len > d.length) break;
    out.push({
      type: d[o]!,
      version: (d[o + 1]! << 8) | d[o + 2]!,
      epoch: (d[o + 3]! << 8) | d[o + 4]!,
      seq: u48(d, o + 5),
      raw: d.subarray(o, o + RECORD_HEADER + len),
      body: d.subarray(o + RECORD_HEADER, o + RECORD_HEADER + len),
    });
    o += RECORD_HEADER + len;
  }
  return out;
}

export interface HandshakeFragment {
  msgType: number;
  /** The whole message's length (what the header claims). */
  length: number;
  messageSeq: number;
  offset: number;
  /** This fragment's bytes (a view). */
  data: Uint8Array;
}

/** The handshake fragments in one plaintext handshake record, or null when any header is inconsistent. */
export function parseHandshakes(body: Uint8Array): HandshakeFragment[] | null {
  const out: HandshakeFragment[] = [];
  let o = 0;
  while (o < body.length) {
    if (o + HANDSHAKE_HEADER > body.length) return null;
    const length = u24(body, o + 1),
      offset = u24(body, o + 6),
      flen = u24(body, o + 9);
    if (offset + flen > length || o + HANDSHAKE_HEADER + flen > body.length) return null;
    out.push({
      msgType: body[o]!,
      length,
      messageSeq: (body[o + 4]! << 8) | body[o + 5]!,
      offset,
      data: body.subarray(o + HANDSHAKE_HEADER, o + HANDSHAKE_HEADER + flen),
    });
    o += HANDSHAKE_HEADER + flen;
  }
  return out;
}

export interface HelloStart {
  /** client random: 32 bytes (a view) */
  random: Uint8Array;
  /** the cookie (a view; empty for a first ClientHello) */
  cookie: Uint8Array;
  /** offset of the cookie length byte inside the message body */
  cookieAt: number;
}

/** The random and cookie of a ClientHello, from the start of its body (a first fragment is enough). */
export function helloStart(body: Uint8Array): HelloStart | null {
  if (body.length < 35) return null;
  const sid = body[34]!;
  if (sid > 32) return null;
  const cookieAt = 35 + sid;
  if (cookieAt >= body.length) return null;
  const n = body[cookieAt]!;
  if (cookieAt + 1 + n > body.length) return null;
  return { random: body.subarray(2, 34), cookie: body.subarray(cookieAt + 1, cookieAt + 1 + n), cookieAt };
}

/** The first fragment of a plaintext ClientHello in this datagram, if it carries one. */
export function findClientHello(d: Uint8Array): { record: DtlsRecord; frag: HandshakeFragment; hello: HelloStart } | null {
  for (const record of parseRecords(d)) {
    if (record.type !== CT.HANDSHAKE || record.epoch !== 0) continue;
    const frags = parseHandshakes(record.body);
    const frag = frags?.[0];
    if (!frag || frag.msgType !== HS.CLIENT_HELLO || frag.offset !== 0 || frag.length > MAX_HANDSHAKE_MESSAGE) continue;
    const hello = helloStart(frag.data);
    if (hello) return { record, frag, hello };
  }
  return null;
}

/** A HelloVerifyRequest record (RFC 6347 §4.2.1), echoing the ClientHello's record sequence number. */
export function helloVerifyRequest(recordSeq: number, cookie: Uint8Array): Uint8Array {
  const bodyLen = 3 + cookie.length;
  const out = new Uint8Array(RECORD_HEADER + HANDSHAKE_HEADER + bodyLen);
  out[0] = CT.HANDSHAKE;
  put16(out, 1, DTLS_1_2);
  // epoch 0
  put48(out, 5, recordSeq);
  put16(out, 11, HANDSHAKE_HEADER + bodyLen);
  const h = RECORD_HEADER;
  out[h] = HS.HELLO_VERIFY_REQUEST;
  put24(out, h + 1, bodyLen);
  // message_seq 0, fragment_offset 0
  put24(out, h + 9, bodyLen);
  put16(out, h + 12, DTLS_1_2);
  out[h + 14] = cookie.length;
  out.set(cookie, h + 15);
  return out;
}

/** One plaintext handshake record holding one whole (unfragmented) message. */
export function handshakeRecord(recordSeq: number, version: number, msgType: number, messageSeq: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER + HANDSHAKE_HEADER + body.length);
  out[0] = CT.HANDSHAKE;
  put16(out, 1, version);
  put48(out, 5, recordSeq);
  put16(out, 11, HANDSHAKE_HEADER + body.length);
  out[RECORD_HEADER] = msgType;
  put24(out, RECORD_HEADER + 1, body.length);
  put16(out, RECORD_HEADER + 4, messageSeq);
  put24(out, RECORD_HEADER + 9, body.length);
  out.set(body, RECORD_HEADER + HANDSHAKE_HEADER);
  return out;
}

/** A ClientHello body with its cookie removed (what a first ClientHello of the same client looks like). */
export function withoutCookie(body: Uint8Array, h: HelloStart): Uint8Array {
  const out = new Uint8Array(body.length - h.cookie.length);
  out.set(body.subarray(0, h.cookieAt), 0);
  out[h.cookieAt] = 0;
  out.set(body.subarray(h.cookieAt + 1 + h.cookie.length), h.cookieAt + 1);
  return out;
}

/** Disjoint byte ranges held for one message in reassembly, at most. A sender fragmenting at any real
 *  MTU has far fewer (an 8 KB message in 256-byte fragments, every other one lost, has 16); without a
 *  bound, one-byte fragments leaving gaps made every fragment re-sort thousands of ranges. */
export const MAX_FRAGMENT_RANGES = 32;

/**
 * Bounded reassembly of fragmented plaintext handshake messages (RFC 6347 §4.2.3). A message may
 * claim at most MAX_HANDSHAKE_MESSAGE bytes, be held in at most MAX_FRAGMENT_RANGES disjoint pieces,
 * and at most `maxPending` messages are in progress; anything beyond is refused (the caller drops it
 * and counts). Memory is allocated for what was claimed only after the claim passed those checks.
 */
export class Reassembler {
  private pending = new Map<number, { msgType: number; buf: Uint8Array; have: [number, number][] }>();
  constructor(private maxPending = 4) {}

  /** A whole message when this fragment completes one; "partial"; or a reason to refuse the fragment. */
  add(
    f: HandshakeFragment,
  ): { msgType: number; messageSeq: number; body: Uint8Array } | "partial" | "too-large" | "too-many" | "too-fragmented" | "inconsistent" {
    if (f.length > MAX_HANDSHAKE_MESSAGE) return "too-large";
    if (f.offset === 0 && f.data.length === f.length) {
      // A whole copy (a retransmission unfragmented) completes the message: drop any half-joined
      // copy of it, or its slot would stay and could refuse a later fragmented message.
      this.pending.delete(f.messageSeq);
      return { msgType: f.msgType, messageSeq: f.messageSeq, body: f.data };
    }
    let p = this.pending.get(f.messageSeq);
    if (!p) {
      if (this.pending.size >= this.maxPending) return "too-many";
      p = { msgType: f.msgType, buf: new Uint8Array(f.length), have: [] };
      this.pending.set(f.messageSeq, p);
    } else if (p.msgType !== f.msgType || p.buf.length !== f.length) return "inconsistent";
    const have = merge(p.have, [f.offset, f.offset + f.data.length]);
    if (have.length > MAX_FRAGMENT_RANGES) return "too-fragmented";
    p.buf.set(f.data, f.offset);
    p.have = have;
    if (p.have.length === 1 && p.have[0]![0] === 0 && p.have[0]![1] === f.length) {
      this.pending.delete(f.messageSeq);
      return { msgType: p.msgType, messageSeq: f.messageSeq, body: p.buf };
    }
    return "partial";
  }

  get size() {
    return this.pending.size;
  }
  clear() {
    this.pending.clear();
  }
}

/** Union of sorted, disjoint ranges with one more (at most a few ranges per message). */
function merge(have: [number, number][], r: [number, number]): [number, number][] {
  const all = [...have, r].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const x of all) {
    const last = out[out.length - 1];
    if (last && x[0] <= last[1]) last[1] = Math.max(last[1], x[1]);
    else out.push([x[0], x[1]]);
  }
  return out;
}

const u24 = (b: Uint8Array, o: number) => (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
const u48 = (b: Uint8Array, o: number) =>
  ((b[o]! << 8) | b[o + 1]!) * 2 ** 32 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);
const put16 = (b: Uint8Array, o: number, v: number) => ((b[o] = v >>> 8), (b[o + 1] = v & 255));
const put24 = (b: Uint8Array, o: number, v: number) => ((b[o] = (v >>> 16) & 255), put16(b, o + 1, v & 0xffff));
/** A 48-bit big-endian integer (a DTLS record sequence number) at `o`. */
export function put48(b: Uint8Array, o: number, v: number) {
  put16(b, o, Math.floor(v / 2 ** 32) & 0xffff);
  const lo = v >>> 0;
  b[o + 2] = lo >>> 24;
  b[o + 3] = (lo >>> 16) & 255;
  b[o + 4] = (lo >>> 8) & 255;
  b[o + 5] = lo & 255;
}
