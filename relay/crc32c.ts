// CRC32c (Castagnoli, RFC 9260 Appendix A: SCTP's checksum), slice-by-8 over a Uint8Array range,
// without copying: the relay's own SCTP fast path (relay/session.ts) checks and writes packet
// checksums with it. werift computes the same sum over a Buffer.concat of the packet with its
// checksum field zeroed (a copy per packet, both ways); crc32cPacket treats that field as zero instead.

const T = /* @__PURE__ */ (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++)
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  return t;
})();

/** Continues a CRC32c register (pre-inverted: start with ~0) over b[start, end). */
function update(crc: number, b: Uint8Array, start: number, end: number): number {
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = crc ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    crc =
      T[7 * 256 + (lo & 0xff)]! ^
      T[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      T[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      T[4 * 256 + (lo >>> 24)]! ^
      T[3 * 256 + b[i + 4]!]! ^
      T[2 * 256 + b[i + 5]!]! ^
      T[256 + b[i + 6]!]! ^
      T[b[i + 7]!]!;
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ T[(crc ^ b[i]!) & 0xff]!;
  return crc;
}

/** CRC32c of b[start, end) (whole array by default), as an unsigned 32-bit number. */
export function crc32c(b: Uint8Array, start = 0, end = b.length): number {
  return ~update(~0, b, start, end) >>> 0;
}

/** An SCTP packet's checksum (RFC 9260 §6.8): CRC32c of the packet with bytes 8–11 taken as zero. */
export function crc32cPacket(p: Uint8Array): number {
  let c = update(~0, p, 0, 8);
  for (let k = 0; k < 4; k++) c = (c >>> 8) ^ T[c & 0xff]!;
  return ~update(c, p, 12, p.length) >>> 0;
}
