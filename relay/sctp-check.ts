// SCTP packet shape check, sans-IO: every packet that comes out of DTLS is checked here before
// werift parses it. werift's parser loops on a chunk or parameter of length 0 (it never advances:
// docs/werift-bugs.md) and reads fixed fields without bounds checks; a packet that passes this
// check cannot reach either.
//
// RFC 9260 §3:   common header: source port(2) destination port(2) verification tag(4) checksum(4)
// RFC 9260 §3.2: chunk: type(1) flags(1) length(2, header included, padding excluded) value, padded to 4
// RFC 9260 §3.2.1: parameter (and error cause, §3.3.10): type(2) length(2, header included) value, padded to 4
// Per-chunk fixed parts: §3.3.1 DATA 16, §3.3.2/3 INIT/INIT ACK 20, §3.3.4 SACK 16 + 4 per gap
// block and duplicate TSN, §3.3.8 SHUTDOWN 8, RFC 3758 §3.2 FORWARD TSN 8 + 4 per stream,
// RFC 6525 §3.1 RE-CONFIG parameters (§4.1–4.6).

export const COMMON_HEADER = 12;
/** The chunk types werift knows; any other makes its parser throw (so it is refused here). */
const KNOWN = /* @__PURE__ */ new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 130, 192]);
/** Chunk types whose value is a list of TLV parameters (or error causes) after a fixed part. */
const PARAMS_AT: Record<number, number> = { 1: 16, 2: 16, 4: 0, 5: 0, 6: 0, 9: 0, 130: 0 };

/** Whether a packet (already found sound by checkSctpPacket) holds a chunk of this type. */
export function hasChunk(p: Uint8Array, type: number): boolean {
  for (let o = COMMON_HEADER; o + 4 <= p.length; ) {
    if (p[o] === type) return true;
    const len = (p[o + 2]! << 8) | p[o + 3]!;
    if (len < 4) return false;
    o += len + ((4 - (len % 4)) % 4);
  }
  return false;
}

/** Whether a packet (already found sound by checkSctpPacket) holds a RE-CONFIG chunk whose Outgoing SSN
 *  Reset Request (RFC 6525 §4.1) resets `stream` (a request naming no stream resets them all): the peer
 *  closed that DataChannel (RFC 8831 §6.7). */
export function resetsStream(p: Uint8Array, stream: number): boolean {
  for (let o = COMMON_HEADER; o + 4 <= p.length; ) {
    const len = (p[o + 2]! << 8) | p[o + 3]!;
    if (len < 4) return false;
    if (p[o] === 130)
      for (let q = o + 4; q + 4 <= o + len; ) {
        const plen = (p[q + 2]! << 8) | p[q + 3]!;
        if (plen < 4) break;
        if (((p[q]! << 8) | p[q + 1]!) === 13 && plen >= 16) {
          if (plen === 16) return true;
          for (let i = q + 16; i + 2 <= q + plen; i += 2) if (((p[i]! << 8) | p[i + 1]!) === stream) return true;
        }
        q += plen + ((4 - (plen % 4)) % 4);
      }
    o += len + ((4 - (len % 4)) % 4);
  }
  return false;
}

/** Why the packet must not reach werift, or undefined when its shape is sound. */
export function checkSctpPacket(p: Uint8Array): string | undefined {
  if (p.length < COMMON_HEADER + 4) return "short";
  let o = COMMON_HEADER;
  let chunks = 0;
  while (o < p.length) {
    if (o + 4 > p.length) return "chunk-header-truncated";
    const type = p[o]!;
    const len = (p[o + 2]! << 8) | p[o + 3]!;
    if (len < 4) return "chunk-length-under-4";
    if (o + len > p.length) return "chunk-overrun";
    if (!KNOWN.has(type)) return "chunk-unknown";
    const why = checkChunk(type, p.subarray(o + 4, o + len));
    if (why) return why;
    chunks++;
    if (type === 1 && chunks > 1) return "init-not-alone";
    o += len + ((4 - (len % 4)) % 4);
  }
  if (p[COMMON_HEADER] === 1 && o < p.length) return "init-not-alone";
  return undefined;
}

function checkChunk(type: number, v: Uint8Array): string | undefined {
  switch (type) {
    case 0:
      return v.length < 13 ? "data-short" : undefined; // 12-byte header and at least one byte (RFC 9260 §3.3.1)
    case 1:
    case 2:
      if (v.length < 16) return "init-short";
      break;
    case 3: {
      if (v.length < 12) return "sack-short";
      const blocks = ((v[8]! << 8) | v[9]!) + ((v[10]! << 8) | v[11]!);
      return 12 + 4 * blocks > v.length ? "sack-overrun" : undefined;
    }
    case 7:
      return v.length < 4 ? "shutdown-short" : undefined;
    // FORWARD TSN (RFC 3758) only ever follows abandoned partially reliable messages; channel 0 is
    // reliable, and werift would create reassembly state for every stream id it names.
    case 192:
      return "forward-tsn";
  }
  const at = PARAMS_AT[type];
  if (at === undefined) return undefined;
  if ((type === 4 || type === 5 || type === 130) && v.length === 0) return "params-missing";
  return checkParams(v.subarray(at), type === 130);
}

/** A TLV list: each length ≥ 4 and inside the chunk; RE-CONFIG parameters also by their fixed sizes. */
function checkParams(v: Uint8Array, reconfig: boolean): string | undefined {
  let o = 0;
  while (o < v.length) {
    if (o + 4 > v.length) return "param-header-truncated";
    const ptype = (v[o]! << 8) | v[o + 1]!;
    const len = (v[o + 2]! << 8) | v[o + 3]!;
    if (len < 4) return "param-length-under-4";
    if (o + len > v.length) return "param-overrun";
    if (reconfig) {
      // 13 outgoing reset request (16 + 2n), 14 incoming (8 + 2n), 15 TSN reset (8), 16 response (12 or 20), 17/18 add streams (12)
      const min: Record<number, number> = { 13: 16, 14: 8, 15: 8, 16: 12, 17: 12, 18: 12 };
      if (min[ptype] === undefined) return "reconfig-param-unknown";
      if (len < min[ptype]!) return "reconfig-param-short";
      if ((ptype === 13 || ptype === 14) && (len - min[ptype]!) % 2) return "reconfig-param-odd";
    }
    o += len + ((4 - (len % 4)) % 4);
  }
  return undefined;
}
