// relay/stun.ts — sans-IO STUN codec and ICE-lite responder for the relay's one UDP port.
//
// Specs:
//   RFC 8489 (STUN, obsoletes RFC 5389): header, attributes, MESSAGE-INTEGRITY (HMAC-SHA1, §14.5),
//     FINGERPRINT (CRC-32 ^ 0x5354554e, §14.7), XOR-MAPPED-ADDRESS (§14.2), ERROR-CODE (§14.8),
//     UNKNOWN-ATTRIBUTES (§14.9), short-term credential checks (§9.1.3) and processing order (§6.3).
//   RFC 8445 (ICE): §2.5 lite implementations (the relay is ICE-lite and always controlled),
//     §7.2.2 (checks carry FINGERPRINT), §7.3.1.1 (role conflicts), §6.1.1 (full agent controls lite).
//   RFC 8839 §5.4: ice-ufrag / ice-pwd are ice-chars (ALPHA / DIGIT / "+" / "/").
//   RFC 7983 §7: on a shared UDP port, a first byte of 0..3 means STUN (20..63 DTLS).
//   RFC 5769: test vectors (test/relay/stun.test.ts).
//
// What this file is responsible for: bytes in, a decision (and reply bytes) out. No sockets, no
// clock, no state. Only a `check` decision may create state in the caller.
//
// Credentials (docs/protocol.md §1): the page leaves its offer untouched and writes the relay's
// answer with a=ice-ufrag:R and a=ice-pwd:R, R fresh and random. A browser's check therefore
// carries USERNAME "R:<the browser's own ufrag>" (RFC 8445 §7.2.2: remote ufrag first) and
// MESSAGE-INTEGRITY keyed by the remote password, R again. An ICE-lite agent never sends checks,
// so it never needs the browser's password: the first half of USERNAME (22..256 ice-chars) is
// the key, the second half (4..256 ice-chars, RFC 8839 §5.4) is only checked for form. Pages of
// the first protocol version replaced their own ufrag/pwd with R, so their USERNAME is "R:R":
// that is the same rule with equal halves, and keeps working.
// MESSAGE-INTEGRITY proves only that the sender read R, and R travels in clear in USERNAME:
// it says nothing about who sent the datagram or from where (see docs/protocol.md §1).
//
// Zero-copy: a parsed StunMessage's `raw`, `txid` and attribute values are views into the caller's
// buffer; do not reuse that buffer while the message is in use.
//
// Wire input never throws (parsers return null or {type:'ignore', reason}). Misuse of the API
// (bad txid length, bad port, unparsable `from.address`) throws a TypeError/RangeError "stun: …".

import { timingSafeEqual } from "node:crypto";
// Bun implements node:zlib's crc32 natively (checked on Bun 1.4.5); the test file keeps a table
// CRC-32 beside it as an oracle.
import { crc32 } from "node:zlib";

export interface StunAttr {
  type: number;
  value: Uint8Array;
}
export interface StunMessage {
  method: number;
  cls: 0 | 1 | 2 | 3; // request, indication, success response, error response
  txid: Uint8Array; // 12 bytes, view into raw
  attrs: StunAttr[]; // in wire order; attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are dropped, RFC 8489 §14.5
  raw: Uint8Array;
  integrityOffset: number; // byte offset of the MESSAGE-INTEGRITY attribute header, or -1
  fingerprintOffset: number; // byte offset of the FINGERPRINT attribute header, or -1
}

export type StunDecision =
  | { type: "ignore"; reason: string }
  | { type: "binding"; reply: Uint8Array }
  /** `ufrag`: USERNAME's first half, R (the key, and what the caller knows the session by). */
  | { type: "check"; ufrag: string; useCandidate: boolean; reply: Uint8Array }
  | { type: "error"; reply: Uint8Array; reason: string };

/**
 * HMAC-SHA1(key, data) into the first 20 bytes of a scratch buffer that the next call overwrites.
 * Every ICE check costs two (its MESSAGE-INTEGRITY and the answer's). Bun's CryptoHasher writes
 * the digest into a buffer it is given (the relay runs on Bun only). node:crypto's createHmac
 * allocated a Hmac and a digest and reported ~1 KB each to the collector: half of the 4 KB an idle
 * link's check allocated (measured), ~18 MB/s and an eden collection a second at 10,000 links.
 */
const MAC = new Uint8Array(64); // CryptoHasher.digest(buffer) wants at least 64 bytes
function hmacSha1(key: Uint8Array, data: Uint8Array): Uint8Array {
  new Bun.CryptoHasher("sha1", key).update(data).digest(MAC);
  return MAC;
}

export const MAGIC_COOKIE = 0x2112a442;
const FINGERPRINT_XOR = 0x5354554e;
export const METHOD_BINDING = 0x001;
export const CLASS = /* @__PURE__ */ Object.freeze({ REQUEST: 0, INDICATION: 1, SUCCESS: 2, ERROR: 3 } as const);

export const ATTR = /* @__PURE__ */ Object.freeze({
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  PASSWORD_ALGORITHMS: 0x8002,
  ALTERNATE_DOMAIN: 0x8003,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
} as const);

/** Every `reason` handleStun can return, for callers that pre-register counters. */
export const STUN_REASONS = /* @__PURE__ */ Object.freeze([
  // malformed datagrams (parser)
  "truncated",
  "not-stun",
  "bad-cookie",
  "bad-length",
  "length-mismatch",
  "attr-overrun",
  "attr-after-fingerprint",
  "bad-integrity-length",
  "bad-fingerprint-length",
  // well-formed but not for us
  "not-binding",
  "indication",
  "response",
  // dropped without reply: not provably STUN from an ICE agent (RFC 8489 §14.7, RFC 8445 §7.2.2)
  "missing-fingerprint",
  "bad-fingerprint",
  // answered with an error response (ignored instead when the response would be larger than the request)
  "missing-integrity",
  "username-malformed",
  "username-bad-chars",
  "username-too-short",
  "username-too-long",
  "bad-integrity",
  "unknown-attribute",
  "bad-attribute-length",
  "missing-role",
  "role-ambiguous",
  "role-conflict",
] as const);
export type StunReason = (typeof STUN_REASONS)[number];

// ---------------------------------------------------------------------------------------------
// Byte helpers (no DataView: one fewer allocation per datagram)

function u16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}
function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}
function w16(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 8;
  b[i + 1] = v;
}
function w32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

// ---------------------------------------------------------------------------------------------
// Header, RFC 8489 §5:
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |0 0|     STUN Message Type     |         Message Length        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                   Magic Cookie = 0x2112A442                   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                                                               |
//  |                     Transaction ID (96 bits)                  |
//  |                                                               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Message Type (14 bits): method bits M0..M11 interleaved with class bits C0, C1:
//
//   13 12 11 10  9  8  7  6  5  4  3  2  1  0
//  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//  |M |M |M |M |M |C1|M |M |M |C0|M |M |M |M |
//  |11|10| 9| 8| 7|  | 6| 5| 4|  | 3| 2| 1| 0|
//  +--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//
// Message Length counts the bytes after the 20-byte header (always a multiple of 4), then
// attributes, RFC 8489 §14, each padded to 4 bytes (padding not counted in Length):
//
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |         Type                  |            Length             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                         Value (variable)                ....
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/** RFC 7983 demux test plus enough header sanity that a DTLS/RTP datagram can never pass. */
export function isStun(buf: Uint8Array): boolean {
  const n = buf.length;
  return n >= 20 && buf[0]! <= 3 && u32(buf, 4) === MAGIC_COOKIE && (u16(buf, 2) & 3) === 0 && u16(buf, 2) + 20 === n;
}

/** The parser proper: a message, or the reason it is not one. */
function parse(buf: Uint8Array): StunMessage | StunReason {
  const n = buf.length;
  if (n < 20) return "truncated";
  // RFC 8489 §5 only needs the top two bits clear, but on a port shared with DTLS, RFC 7983 §7
  // reads a first byte of 0..3 as STUN and 20..63 as DTLS, so methods >= 0x100 are not STUN here.
  if (buf[0]! > 3) return "not-stun";
  if (u32(buf, 4) !== MAGIC_COOKIE) return "bad-cookie"; // also rejects RFC 3489 "classic" STUN
  const len = u16(buf, 2);
  if ((len & 3) !== 0) return "bad-length";
  // A datagram shorter than its header says was cut short; a longer one has trailing junk.
  if (len + 20 > n) return "truncated";
  if (len + 20 < n) return "length-mismatch";
  const t = u16(buf, 0);
  const method = (t & 0x000f) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0f80);
  const cls = (((t >> 4) & 1) | ((t >> 7) & 2)) as 0 | 1 | 2 | 3;
  const attrs: StunAttr[] = [];
  let integrityOffset = -1;
  let fingerprintOffset = -1;
  let off = 20;
  while (off < n) {
    // n - off is a positive multiple of 4, so the 4-byte attribute header always fits.
    const type = u16(buf, off);
    const alen = u16(buf, off + 2);
    const next = off + 4 + ((alen + 3) & ~3);
    if (next > n) return "attr-overrun";
    if (fingerprintOffset >= 0) return "attr-after-fingerprint"; // FINGERPRINT must be last, §14.7
    if (type === ATTR.FINGERPRINT) {
      if (alen !== 4) return "bad-fingerprint-length";
      fingerprintOffset = off;
      attrs.push({ type, value: buf.subarray(off + 4, off + 8) });
    } else if (integrityOffset < 0) {
      if (type === ATTR.MESSAGE_INTEGRITY) {
        if (alen !== 20) return "bad-integrity-length";
        integrityOffset = off;
      }
      attrs.push({ type, value: buf.subarray(off + 4, off + 4 + alen) });
    } // else: after MESSAGE-INTEGRITY and not FINGERPRINT: ignored, RFC 8489 §14.5
    off = next;
  }
  return { method, cls, txid: buf.subarray(8, 20), attrs, raw: buf, integrityOffset, fingerprintOffset };
}

/** Parse one datagram; null if it is not a well-formed STUN message. Never throws, never copies. */
export function parseStun(buf: Uint8Array): StunMessage | null {
  const m = parse(buf);
  return typeof m === "string" ? null : m;
}

/** The first attribute of `type`, as a view into the message. */
export function getAttr(msg: StunMessage, type: number): Uint8Array | undefined {
  for (const a of msg.attrs) if (a.type === type) return a.value;
  return undefined;
}

/**
 * MESSAGE-INTEGRITY, RFC 8489 §14.5: HMAC-SHA1(key) over the message up to (not including) the
 * MESSAGE-INTEGRITY attribute, with the header's Length set as if MESSAGE-INTEGRITY were last.
 * For short-term credentials (ICE) the key is the password's bytes.
 *
 * To hash without copying, the Length field of `msg.raw` is patched in place for the duration of
 * the (synchronous) call and restored before returning.
 */
export function checkIntegrity(msg: StunMessage, key: Uint8Array): boolean {
  const mi = msg.integrityOffset;
  const raw = msg.raw;
  if (mi < 20 || mi + 24 > raw.length) return false;
  const h0 = raw[2]!,
    h1 = raw[3]!;
  w16(raw, 2, mi + 24 - 20);
  let mac: Uint8Array;
  try {
    mac = hmacSha1(key, raw.subarray(0, mi));
  } finally {
    raw[2] = h0;
    raw[3] = h1;
  }
  return timingSafeEqual(mac.subarray(0, 20), raw.subarray(mi + 4, mi + 24));
}

/** FINGERPRINT, RFC 8489 §14.7: CRC-32 (ISO HDLC) of everything before it, XOR 0x5354554e. */
export function checkFingerprint(msg: StunMessage): boolean {
  const fp = msg.fingerprintOffset;
  const raw = msg.raw;
  // parse() guarantees FINGERPRINT is the last attribute, so the header Length already covers it.
  if (fp < 20 || fp + 8 !== raw.length) return false;
  return (crc32(raw.subarray(0, fp)) ^ FINGERPRINT_XOR) >>> 0 === u32(raw, fp + 4);
}

// ---------------------------------------------------------------------------------------------
// Encoder

function encode(
  m: { method: number; cls: number; txid: Uint8Array; attrs: StunAttr[] },
  opts: { integrityKey?: Uint8Array; fingerprint?: boolean } | undefined,
  padByte: number,
): Uint8Array {
  const { method, cls, txid, attrs } = m;
  if (!Number.isInteger(method) || method < 0 || method > 0xfff) throw new RangeError(`stun: method out of range: ${method}`);
  if (cls !== 0 && cls !== 1 && cls !== 2 && cls !== 3) throw new RangeError(`stun: class out of range: ${cls}`);
  if (!(txid instanceof Uint8Array) || txid.length !== 12) throw new RangeError("stun: txid must be 12 bytes");
  let size = 20;
  for (const a of attrs) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0xffff) throw new RangeError(`stun: attribute type out of range: ${a.type}`);
    if (a.value.length > 0xffff) throw new RangeError("stun: attribute value longer than 65535 bytes");
    size += 4 + ((a.value.length + 3) & ~3);
  }
  const key = opts?.integrityKey;
  if (key) size += 24;
  if (opts?.fingerprint) size += 8;
  if (size - 20 > 0xffff) throw new RangeError("stun: message longer than 65535 bytes");
  const out = new Uint8Array(size); // zero-filled: padding is 0 unless padByte says otherwise
  const type = (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7);
  w16(out, 0, type);
  w32(out, 4, MAGIC_COOKIE);
  out.set(txid, 8);
  let off = 20;
  for (const a of attrs) {
    const len = a.value.length;
    w16(out, off, a.type);
    w16(out, off + 2, len);
    out.set(a.value, off + 4);
    off += 4 + len;
    if (padByte !== 0) while ((off & 3) !== 0) out[off++] = padByte;
    else off = (off + 3) & ~3;
  }
  if (key) {
    w16(out, 2, off + 24 - 20);
    const mac = hmacSha1(key, out.subarray(0, off));
    w16(out, off, ATTR.MESSAGE_INTEGRITY);
    w16(out, off + 2, 20);
    out.set(mac.subarray(0, 20), off + 4);
    off += 24;
  }
  if (opts?.fingerprint) {
    w16(out, 2, off + 8 - 20);
    const crc = (crc32(out.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0;
    w16(out, off, ATTR.FINGERPRINT);
    w16(out, off + 2, 4);
    w32(out, off + 4, crc);
    off += 8;
  }
  w16(out, 2, size - 20);
  return out;
}

/**
 * Encode a message. `attrs` are written in order; with `integrityKey` a MESSAGE-INTEGRITY is
 * appended after them, and with `fingerprint` a FINGERPRINT last. Padding bytes are zero.
 * Throws RangeError on misuse (txid not 12 bytes, out-of-range method/class/type/length).
 */
export function encodeStun(
  m: { method: number; cls: number; txid: Uint8Array; attrs: StunAttr[] },
  opts?: { integrityKey?: Uint8Array; fingerprint?: boolean },
): Uint8Array {
  return encode(m, opts, 0);
}

// ---------------------------------------------------------------------------------------------
// XOR-MAPPED-ADDRESS, RFC 8489 §14.2
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |0 0 0 0 0 0 0 0|    Family     |         X-Port                |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                X-Address (32 bits or 128 bits)                |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Family 0x01 IPv4, 0x02 IPv6. X-Port = port ^ 0x2112; X-Address = address ^ (cookie ‖ txid).

const COOKIE_BYTES = [0x21, 0x12, 0xa4, 0x42] as const;

/** Parse a dotted IPv4 address into out[o..o+4]. */
function parseIPv4(s: string, from: number, to: number, out: Uint8Array, o: number): boolean {
  let part = 0;
  let digits = 0;
  let k = 0;
  for (let i = from; i <= to; i++) {
    const c = i === to ? 0x2e : s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || k > 3) return false;
      out[o + k++] = part;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return false;
    } else return false;
  }
  return k === 4;
}

/** Parse an IPv6 address (with "::", an embedded IPv4 tail, and a "%zone" which is dropped). */
function parseIPv6(s: string, out: Uint8Array): boolean {
  const pct = s.indexOf("%");
  const end = pct >= 0 ? pct : s.length;
  const groups: number[] = [];
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (s.startsWith("::")) {
    gap = 0;
    i = 2;
    if (i === end) {
      out.fill(0);
      return true;
    }
  }
  while (i < end) {
    let j = i;
    let v = 0;
    while (j < end && j - i < 5) {
      const c = s.charCodeAt(j);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) break;
      v = (v << 4) | d;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 0x2e) {
      // dotted IPv4 tail: must be the last thing
      const tmp = new Uint8Array(4);
      if (!parseIPv4(s, i, end, tmp, 0)) return false;
      groups.push((tmp[0]! << 8) | tmp[1]!, (tmp[2]! << 8) | tmp[3]!);
      i = end;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups.push(v);
    if (j === end) {
      i = end;
      break;
    }
    if (s.charCodeAt(j) !== 0x3a) return false;
    if (j + 1 < end && s.charCodeAt(j + 1) === 0x3a) {
      if (gap >= 0) return false;
      gap = groups.length;
      i = j + 2;
    } else {
      if (j + 1 === end) return false; // trailing single ':'
      i = j + 1;
    }
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return false;
  out.fill(0);
  const tail = groups.length - (gap < 0 ? groups.length : gap);
  for (let g = 0; g < groups.length; g++) {
    const slot = gap >= 0 && g >= gap ? 8 - tail + (g - gap) : g;
    out[slot * 2] = groups[g]! >>> 8;
    out[slot * 2 + 1] = groups[g]! & 0xff;
  }
  return true;
}

/**
 * Parse an address as a socket reports it. Returns 4 or 16 bytes, or null. An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d, what a dual-stack socket reports for IPv4 peers) comes back as IPv4, so
 * the browser sees the same family it sent from.
 */
function parseIp(address: string): Uint8Array | null {
  if (address.indexOf(":") < 0) {
    const v4 = new Uint8Array(4);
    return parseIPv4(address, 0, address.length, v4, 0) ? v4 : null;
  }
  const v6 = new Uint8Array(16);
  if (!parseIPv6(address, v6)) return null;
  for (let i = 0; i < 10; i++) if (v6[i] !== 0) return v6;
  return v6[10] === 0xff && v6[11] === 0xff ? v6.subarray(12) : v6;
}

/** RFC 5952 text form: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
function formatIPv6(b: Uint8Array): string {
  let isMapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && isMapped; i++) if (b[i] !== 0) isMapped = false;
  if (isMapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let bestAt = -1,
    bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestAt < 0) return g.map((x) => x.toString(16)).join(":");
  const head = g
    .slice(0, bestAt)
    .map((x) => x.toString(16))
    .join(":");
  const tail = g
    .slice(bestAt + bestLen)
    .map((x) => x.toString(16))
    .join(":");
  return `${head}::${tail}`;
}

/** The XOR-MAPPED-ADDRESS attribute value for `address:port`. Throws on a malformed address. */
export function xorAddress(address: string, port: number, txid: Uint8Array): Uint8Array {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`stun: bad port: ${port}`);
  if (txid.length !== 12) throw new RangeError("stun: txid must be 12 bytes");
  const ip = parseIp(address);
  if (ip === null) throw new TypeError(`stun: bad address: ${JSON.stringify(address)}`);
  const out = new Uint8Array(4 + ip.length);
  out[1] = ip.length === 4 ? 0x01 : 0x02;
  w16(out, 2, port ^ 0x2112);
  for (let i = 0; i < ip.length; i++) out[4 + i] = ip[i]! ^ (i < 4 ? COOKIE_BYTES[i]! : txid[i - 4]!);
  return out;
}

/** Decode an XOR-MAPPED-ADDRESS value; null if malformed (wrong length or unknown family). */
export function decodeXorAddress(value: Uint8Array, txid: Uint8Array): { address: string; port: number; family: 4 | 6 } | null {
  if (txid.length !== 12 || value.length < 4) return null;
  const fam = value[1];
  const port = u16(value, 2) ^ 0x2112;
  if (fam === 0x01 && value.length === 8) {
    const a = (i: number) => value[4 + i]! ^ COOKIE_BYTES[i]!;
    return { address: `${a(0)}.${a(1)}.${a(2)}.${a(3)}`, port, family: 4 };
  }
  if (fam === 0x02 && value.length === 20) {
    const ip = new Uint8Array(16);
    for (let i = 0; i < 16; i++) ip[i] = value[4 + i]! ^ (i < 4 ? COOKIE_BYTES[i]! : txid[i - 4]!);
    return { address: formatIPv6(ip), port, family: 6 };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// ICE-lite responder

const KEY_MIN = 22; // the relay's half, R: RFC 8839 allows a pwd of 22..256; Lumamesh pages use 32
const PEER_MIN = 4; // the browser's own ufrag: RFC 8839 §5.4 allows 4..256 (Chromium uses 4, Firefox 8)
const UFRAG_MAX = 256; // RFC 8839 §5.4. (RFC 8489's "USERNAME < 509 bytes" is not enforced: 256+1+256 > 508.)

function isIceChar(c: number): boolean {
  // ALPHA / DIGIT / "+" / "/"  (RFC 8839 §5.4, ice-char)
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
}

/** The byte offset of the ':' in a valid "A:B" USERNAME (A 22..256, B 4..256 ice-chars), or why it is not valid. */
function checkUsername(u: Uint8Array): number | StunReason {
  let colon = -1;
  for (let i = 0; i < u.length; i++) {
    const c = u[i]!;
    if (c === 0x3a) {
      if (colon >= 0) return "username-malformed";
      colon = i;
    } else if (!isIceChar(c)) return "username-bad-chars";
  }
  if (colon < 0) return "username-malformed";
  const a = colon;
  const b = u.length - colon - 1;
  if (a < KEY_MIN || b < PEER_MIN) return "username-too-short";
  if (a > UFRAG_MAX || b > UFRAG_MAX) return "username-too-long";
  return colon;
}

// Attributes the responder understands in a Binding request (everything else in 0x0000..0x7FFF is
// "unknown comprehension-required", RFC 8489 §14 / §6.3.1). MESSAGE-INTEGRITY-SHA256 and USERHASH
// are deliberately absent: the relay speaks only the SHA-1 short-term mechanism that ICE uses.
function understood(type: number): boolean {
  return type === ATTR.USERNAME || type === ATTR.MESSAGE_INTEGRITY || type === ATTR.PRIORITY || type === ATTR.USE_CANDIDATE;
}

let decoder: TextDecoder | undefined; // created on first use

const IGNORED = new Map<string, StunDecision>();
function ignore(reason: StunReason): StunDecision {
  // Shared frozen objects: a flood of junk allocates nothing per datagram here.
  let d = IGNORED.get(reason);
  if (!d) IGNORED.set(reason, (d = Object.freeze({ type: "ignore", reason }) as StunDecision));
  return d;
}

const PHRASES: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 420: "Unknown Attribute", 487: "Role Conflict" };

/**
 * An error response, RFC 8489 §6.3.4. 400/401 never carry MESSAGE-INTEGRITY (§9.1.3, §9.1.4).
 *
 * Never larger than the request: anyone can write a victim's address as the source, so a reply
 * that outweighs its request would let the relay amplify a flood towards it. Such a request is
 * ignored instead (same `reason`). Browsers are never affected: their checks carry USERNAME (the
 * relay's ≥ 22-character ufrag, ':', their own), PRIORITY, a role, MESSAGE-INTEGRITY and
 * FINGERPRINT (≥ 104 bytes), more than any error reply here (48–88 bytes, and each further
 * unknown attribute adds 2 to the reply, ≥ 4 to the request). What is no longer answered is a bare request of
 * a few bytes: a 420 to a Binding with one unknown attribute and nothing else, a 400 to a
 * USERNAME without MESSAGE-INTEGRITY (RFC 8489 §6.3.1.1 and §9.1.3 would answer both; reflection
 * ≤ 1× is worth more here than telling a hand-made request what it got wrong).
 */
function errorReply(msg: StunMessage, code: 400 | 401 | 420 | 487, reason: StunReason, key?: Uint8Array, unknown?: number[]): StunDecision {
  const phrase = PHRASES[code]!;
  const size = 20 + 4 + ((4 + phrase.length + 3) & ~3) + (unknown ? 4 + ((unknown.length * 2 + 3) & ~3) : 0) + (key ? 24 : 0) + 8;
  if (size > msg.raw.length) return ignore(reason);
  const ec = new Uint8Array(4 + phrase.length);
  ec[2] = Math.floor(code / 100);
  ec[3] = code % 100;
  for (let i = 0; i < phrase.length; i++) ec[4 + i] = phrase.charCodeAt(i);
  const attrs: StunAttr[] = [{ type: ATTR.ERROR_CODE, value: ec }];
  if (unknown) {
    const ua = new Uint8Array(unknown.length * 2);
    unknown.forEach((t, i) => w16(ua, i * 2, t));
    attrs.push({ type: ATTR.UNKNOWN_ATTRIBUTES, value: ua });
  }
  const reply = encode({ method: METHOD_BINDING, cls: CLASS.ERROR, txid: msg.txid, attrs }, { integrityKey: key, fingerprint: true }, 0);
  return { type: "error", reply, reason };
}

/**
 * Decide what to do with one STUN datagram from `from`. Pure: no state, no clock.
 *
 * Order follows RFC 8489 §6.3 (FINGERPRINT, then authentication §9.1.3, then unknown attributes)
 * and then RFC 8445 §7.3.1.1 (roles):
 *  - malformed, not Binding, indications, responses → ignore
 *  - no USERNAME → plain STUN server: success with XOR-MAPPED-ADDRESS + FINGERPRINT (a bad
 *    FINGERPRINT, if present, → ignore; unknown comprehension-required attributes → 420)
 *  - USERNAME → ICE check: FINGERPRINT missing/bad → ignore (RFC 8445 §7.2.2 requires it, and an
 *    agent must not answer what it cannot tell is STUN); MESSAGE-INTEGRITY missing → 400; USERNAME
 *    not "A:B" of 22..256 and 4..256 ice-chars → 401; MESSAGE-INTEGRITY wrong → 401; unknown comprehension-
 *    required attribute → 420 (authenticated, with UNKNOWN-ATTRIBUTES); malformed PRIORITY /
 *    ICE-CONTROLL* / USE-CANDIDATE → 400; both roles → 400; ICE-CONTROLLED → 487; neither → 400;
 *    otherwise success with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY (same key), FINGERPRINT.
 *  - an error response larger than its request is not sent: ignore, with the error's reason
 *    (errorReply: no amplification towards a spoofed source).
 *
 * Role conflict: a lite agent is always controlled (RFC 8445 §6.1.1: the full agent MUST control),
 * so on ICE-CONTROLLED it behaves as a controlled agent whose tie-breaker always wins (§7.3.1.1)
 * and answers 487, which tells the browser to switch to controlling and retry.
 */
export function handleStun(buf: Uint8Array, from: { address: string; port: number }): StunDecision {
  const msg = parse(buf);
  if (typeof msg === "string") return ignore(msg);
  if (msg.method !== METHOD_BINDING) return ignore("not-binding");
  if (msg.cls === CLASS.INDICATION) return ignore("indication"); // keepalives (RFC 8445 §11): nothing to do
  if (msg.cls !== CLASS.REQUEST) return ignore("response"); // the relay never sends requests

  let username: Uint8Array | undefined;
  let controlling = false,
    controlled = false,
    useCandidate = false,
    badLength = false;
  let unknown: number[] | undefined;
  for (const a of msg.attrs) {
    const len = a.value.length;
    switch (a.type) {
      case ATTR.USERNAME:
        if (username === undefined) username = a.value;
        break;
      case ATTR.ICE_CONTROLLING:
        controlling = true;
        if (len !== 8) badLength = true;
        break;
      case ATTR.ICE_CONTROLLED:
        controlled = true;
        if (len !== 8) badLength = true;
        break;
      case ATTR.USE_CANDIDATE:
        useCandidate = true;
        if (len !== 0) badLength = true;
        break;
      case ATTR.PRIORITY:
        if (len !== 4) badLength = true;
        break;
      default:
        if (a.type < 0x8000 && !understood(a.type)) (unknown ??= []).push(a.type);
    }
  }

  if (username === undefined) {
    // A plain STUN Binding request (a browser using the relay as its stun: server). Any
    // MESSAGE-INTEGRITY is not checked: this server has no credentials for it.
    if (msg.fingerprintOffset >= 0 && !checkFingerprint(msg)) return ignore("bad-fingerprint");
    if (unknown) return errorReply(msg, 420, "unknown-attribute", undefined, unknown);
    const reply = encode(
      {
        method: METHOD_BINDING,
        cls: CLASS.SUCCESS,
        txid: msg.txid,
        attrs: [{ type: ATTR.XOR_MAPPED_ADDRESS, value: xorAddress(from.address, from.port, msg.txid) }],
      },
      { fingerprint: true },
      0,
    );
    return { type: "binding", reply };
  }

  if (msg.fingerprintOffset < 0) return ignore("missing-fingerprint");
  if (!checkFingerprint(msg)) return ignore("bad-fingerprint");
  if (msg.integrityOffset < 0) return errorReply(msg, 400, "missing-integrity");
  const colon = checkUsername(username);
  if (typeof colon === "string") return errorReply(msg, 401, colon);
  // The key is the first half, R (the answer's ice-pwd equals its ice-ufrag); ice-chars are ASCII,
  // so its UTF-8 bytes are these bytes.
  const key = username.subarray(0, colon);
  if (!checkIntegrity(msg, key)) return errorReply(msg, 401, "bad-integrity");
  if (unknown) return errorReply(msg, 420, "unknown-attribute", key, unknown);
  if (badLength) return errorReply(msg, 400, "bad-attribute-length");
  if (controlling && controlled) return errorReply(msg, 400, "role-ambiguous");
  if (controlled) return errorReply(msg, 487, "role-conflict", key);
  if (!controlling) return errorReply(msg, 400, "missing-role");

  const reply = encode(
    {
      method: METHOD_BINDING,
      cls: CLASS.SUCCESS,
      txid: msg.txid,
      attrs: [{ type: ATTR.XOR_MAPPED_ADDRESS, value: xorAddress(from.address, from.port, msg.txid) }],
    },
    { integrityKey: key, fingerprint: true },
    0,
  );
  const ufrag = (decoder ??= new TextDecoder()).decode(key);
  return { type: "check", ufrag, useCandidate, reply };
}

/** Internals, exported for tests only. `encode` takes the padding byte (RFC 5769 pads with 0x20). */
export const _internal = /* @__PURE__ */ Object.freeze({ parse, encode, parseIp, formatIPv6, checkUsername });
