// Structure-aware SCTP packet generator for fuzzing (test/relay/sctp-fuzz.test.ts, bench/fuzz.ts):
// well-formed packets of every chunk type werift parses (RFC 9260 §3.3, RFC 6525, RFC 3758), then
// one field mutated (a chunk or parameter length, a count, a type, a truncation), checksum fixed
// (CRC32c, RFC 9260 Appendix A) so that the mutation reaches the chunk parser.
import { crc32c } from "../../relay/crc32c.ts";

/** xorshift32: deterministic, so a failing case reproduces from its seed. */
export function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  return { next, int: (n: number) => next() % n, bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 255) };
}
type R = ReturnType<typeof rng>;

/** SCTP's checksum (RFC 9260 Appendix A): the relay's own, checked against RFC 3720's vectors and werift's in test/relay/dtls-aead.test.ts. */
export { crc32c };

const u16 = (v: number) => [(v >>> 8) & 255, v & 255];
const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const pad = (n: number) => (4 - (n % 4)) % 4;

interface Field {
  at: number;
  size: 1 | 2;
}
interface Built {
  bytes: number[];
  fields: Field[];
}

function tlv(type: number, value: number[], fields: Field[], base: number): number[] {
  fields.push({ at: base + 2, size: 2 });
  return [...u16(type), ...u16(value.length + 4), ...value, ...Array(pad(value.length)).fill(0)];
}

/** One well-formed chunk of the given type; `fields` records where its lengths and counts sit. */
function chunk(r: R, type: number, tsn: number, base: number): Built {
  const fields: Field[] = [{ at: base + 2, size: 2 }];
  let v: number[] = [];
  const params = (n: number, off: number, reconfig = false) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      if (reconfig) {
        const streams = r.int(4);
        out.push(
          ...tlv(
            13,
            [...u32(r.next()), ...u32(r.next()), ...u32(tsn), ...Array.from({ length: streams }, () => u16(r.int(4))).flat()],
            fields,
            base + 4 + off + out.length,
          ),
        );
      } else out.push(...tlv(1 + r.int(0xc000), Array.from(r.bytes(r.int(24))), fields, base + 4 + off + out.length));
    }
    return out;
  };
  switch (type) {
    case 0:
      v = [...u32(tsn), ...u16(0), ...u16(r.int(4)), ...u32(53), ...r.bytes(1 + r.int(64))];
      break;
    case 1:
    case 2:
      v = [...u32(r.next()), ...u32(65536), ...u16(1024), ...u16(1024), ...u32(r.next())];
      v.push(...params(r.int(3), v.length));
      break;
    case 3: {
      const gaps = r.int(3),
        dups = r.int(3);
      fields.push({ at: base + 4 + 8, size: 2 }, { at: base + 4 + 10, size: 2 });
      v = [
        ...u32(tsn),
        ...u32(65536),
        ...u16(gaps),
        ...u16(dups),
        ...Array.from({ length: gaps }, () => [...u16(1 + r.int(9)), ...u16(10 + r.int(9))]).flat(),
        ...Array.from({ length: dups }, () => u32(r.next())).flat(),
      ];
      break;
    }
    case 4:
    case 5:
      v = params(1 + r.int(2), 0);
      break;
    case 6:
    case 9:
      v = params(r.int(3), 0);
      break;
    case 7:
      v = u32(tsn);
      break;
    case 10:
      v = Array.from(r.bytes(r.int(40)));
      break;
    case 130:
      v = params(1, 0, true);
      break;
  }
  return { bytes: [type, type === 0 ? 3 : 0, ...u16(v.length + 4), ...v, ...Array(pad(v.length)).fill(0)], fields };
}

const TYPES = [0, 0, 0, 3, 3, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 14, 130];

export interface Case {
  packet: Uint8Array;
  mutated: boolean;
}

/** A packet of one to three chunks with verification tag `tag`, one field mutated unless `clean`. */
export function generate(r: R, tag: number, tsn: number, clean = false): Case {
  const n = 1 + r.int(3);
  const body: number[] = [];
  const fields: Field[] = [];
  for (let i = 0; i < n || !body.length; i++) {
    const type = TYPES[r.int(TYPES.length)]!;
    if (type === 1 && (n > 1 || body.length)) continue; // INIT must be alone
    const c = chunk(r, type, (tsn + 1 + i) >>> 0, 12 + body.length);
    body.push(...c.bytes);
    fields.push(...c.fields);
  }
  const p = [...u16(5000), ...u16(5000), ...u32(tag), 0, 0, 0, 0, ...body];
  let mutated = false;
  if (!clean && body.length) {
    mutated = true;
    const how = r.int(10);
    if (how < 6 && fields.length) {
      // A length or count: zero, tiny, one off, or anything.
      const f = fields[r.int(fields.length)]!;
      const old = f.size === 2 ? (p[f.at]! << 8) | p[f.at + 1]! : p[f.at]!;
      const choices = [0, 1, 2, 3, 4, old - 1, old + 1, old + 4, r.int(65536)];
      const v = choices[r.int(choices.length)]! & 0xffff;
      if (f.size === 2) [p[f.at], p[f.at + 1]] = u16(v);
      else p[f.at] = v & 255;
    } else if (how < 8) {
      p[12 + r.int(body.length)] = r.int(256); // any byte of the chunks
    } else {
      p.length = 12 + r.int(body.length); // truncated
    }
  }
  const out = Uint8Array.from(p);
  const crc = crc32c(out);
  out[8] = crc & 255;
  out[9] = (crc >>> 8) & 255;
  out[10] = (crc >>> 16) & 255;
  out[11] = crc >>> 24;
  return { packet: out, mutated };
}

/**
 * A model of werift 0.25.2's parse loops (lib/sctp/src/chunk.js parsePacket and decodeParams):
 * true when they would never terminate on this packet (a chunk, or a parameter of a chunk type
 * werift decodes as parameters, of length 0). The shape check must refuse every such packet.
 */
export function weriftWouldLoop(p: Uint8Array): boolean {
  let pos = 12;
  while (pos + 4 <= p.length) {
    const type = p[pos]!;
    const len = (p[pos + 2]! << 8) | p[pos + 3]!;
    if (len === 0) return true;
    const body = p.subarray(pos + 4, Math.max(pos + 4, pos + len));
    const at = { 1: 16, 2: 16, 4: 0, 5: 0, 6: 0, 9: 0, 130: 0 }[type];
    if (at !== undefined && body.length >= at) {
      const b = body.subarray(at);
      let q = 0;
      while (q <= b.length - 4) {
        const l = (b[q + 2]! << 8) | b[q + 3]!;
        if (l === 0) return true;
        q += l + pad(l);
      }
    }
    pos += len + pad(len);
  }
  return false;
}
