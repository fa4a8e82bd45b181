// envelope.ts: the ord inscription envelope, byte-exact to ord (ordinals/ord
// src/inscriptions/inscription.rs `append_reveal_script_to_builder`, tag.rs, envelope.rs).
//
//   <32-byte x-only key> OP_CHECKSIG
//   OP_FALSE OP_IF push("ord")
//     push(01) push(content-type)       tag 1
//     push(09) push(content-encoding)   tag 9
//     push(07) push(metaprotocol)       tag 7
//     push(03) push(parent id) ...      tag 3, once per parent
//     push(0b) push(delegate id)        tag 11
//     push(02) push(pointer LE)         tag 2
//     push(05) push(cbor ≤520) ...      tag 5, repeated per 520-byte chunk
//     push()   push(body ≤520) ...      body tag (empty push) then body chunks
//   OP_ENDIF
//
// Every tag is a one-byte *data push* (`01 01`), never OP_1..OP_16 (a "pushnum" curse), and values
// are plain pushes as rust-bitcoin's `push_slice` makes them (no minimal-number rewriting), so a
// 1-byte body `05` is `01 05`, not OP_5. Rune (13), note (15) and properties (17) are not produced.
import { hex } from "@scure/base";
import { brotliCompressSync, constants as Z } from "node:zlib";
import { concat } from "../protocol/bytes.ts";

/** A script element may push at most 520 bytes (MAX_SCRIPT_ELEMENT_SIZE). */
export const MAX_PUSH = 520;

export const TAG = /* @__PURE__ */ Object.freeze({
  contentType: 1,
  pointer: 2,
  parent: 3,
  metadata: 5,
  metaprotocol: 7,
  contentEncoding: 9,
  delegate: 11,
});

export interface InscriptionFields {
  contentType?: string;
  contentEncoding?: string;
  metaprotocol?: string;
  /** Parent inscription ids, `<txid>i<index>`. */
  parents?: string[];
  delegate?: string;
  /** Output sat offset the inscription lands on (tag 2). */
  pointer?: bigint | number;
  /** Already-encoded CBOR (see `jsonToCbor`). */
  metadata?: Uint8Array;
  /** Body; `undefined` means no body tag at all (ord: `body: None`). */
  body?: Uint8Array;
}

const te = /* @__PURE__ */ new TextEncoder();

/** One data push, as rust-bitcoin `Builder::push_slice` encodes it. */
export function pushData(data: Uint8Array): Uint8Array {
  const n = data.length;
  let head: number[];
  if (n < 0x4c) head = [n];
  else if (n <= 0xff) head = [0x4c, n];
  else if (n <= 0xffff) head = [0x4d, n & 0xff, n >> 8];
  else head = [0x4e, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

const ID_RE = /^([0-9a-f]{64})i(0|[1-9][0-9]{0,9})$/;

/** Parses `<txid>i<index>`; throws a RangeError on anything else. */
export function parseInscriptionId(id: string): { txid: string; index: number } {
  const m = ID_RE.exec(id);
  if (!m || Number(m[2]) > 0xffffffff) throw new RangeError(`envelope: bad inscription id ${JSON.stringify(id)}`);
  return { txid: m[1]!, index: Number(m[2]) };
}

/** Parent/delegate value: txid in internal (reversed) byte order + LE index, trailing zeros dropped. */
export function encodeInscriptionId(id: string): Uint8Array {
  const { txid, index } = parseInscriptionId(id);
  const tx = hex.decode(txid).reverse();
  const idx = [index & 0xff, (index >>> 8) & 0xff, (index >>> 16) & 0xff, index >>> 24];
  while (idx.length && idx[idx.length - 1] === 0) idx.pop();
  return concat([tx, Uint8Array.from(idx)]);
}

/** Pointer value: little-endian u64 with trailing zero bytes dropped (ord `pointer_value`). */
export function encodePointer(pointer: bigint | number): Uint8Array {
  let p = BigInt(pointer);
  if (p < 0n || p > 0xffffffffffffffffn) throw new RangeError(`envelope: pointer out of u64 range: ${pointer}`);
  const out: number[] = [];
  while (p > 0n) {
    out.push(Number(p & 0xffn));
    p >>= 8n;
  }
  return Uint8Array.from(out);
}

/** The envelope alone: OP_FALSE OP_IF … OP_ENDIF. */
export function envelopeScript(f: InscriptionFields): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0x00, 0x63), pushData(te.encode("ord"))];
  const tag = (t: number, v: Uint8Array) => parts.push(pushData(Uint8Array.of(t)), pushData(v));
  if (f.contentType !== undefined) tag(TAG.contentType, te.encode(f.contentType));
  if (f.contentEncoding !== undefined) tag(TAG.contentEncoding, te.encode(f.contentEncoding));
  if (f.metaprotocol !== undefined) tag(TAG.metaprotocol, te.encode(f.metaprotocol));
  for (const p of f.parents ?? []) tag(TAG.parent, encodeInscriptionId(p));
  if (f.delegate !== undefined) tag(TAG.delegate, encodeInscriptionId(f.delegate));
  if (f.pointer !== undefined) {
    // ord writes pointer 0 as an empty push (OP_0); a one-byte 0x00 push decodes to the same
    // pointer in ord (`Inscription::pointer` zero-fills) and does not trip parsers such as
    // micro-ordinals, which read an OP_0 in tag position as the body separator.
    const v = encodePointer(f.pointer);
    tag(TAG.pointer, v.length ? v : Uint8Array.of(0));
  }
  if (f.metadata !== undefined)
    for (let i = 0; i < f.metadata.length; i += MAX_PUSH) tag(TAG.metadata, f.metadata.subarray(i, i + MAX_PUSH));
  if (f.body !== undefined) {
    parts.push(Uint8Array.of(0x00));
    for (let i = 0; i < f.body.length; i += MAX_PUSH) parts.push(pushData(f.body.subarray(i, i + MAX_PUSH)));
  }
  parts.push(Uint8Array.of(0x68));
  return concat(parts);
}

/** The reveal leaf script: `<xonly> OP_CHECKSIG` followed by the envelope (as ord builds it). */
export function revealScript(xonly: Uint8Array, f: InscriptionFields): Uint8Array {
  if (xonly.length !== 32) throw new RangeError("envelope: reveal key must be 32-byte x-only");
  return concat([pushData(xonly), Uint8Array.of(0xac), envelopeScript(f)]);
}

// ---- Reading envelopes back, as ord's indexer does (envelope.rs `RawEnvelope::from_tapscript`,
// `ParsedEnvelope::from`; inscription_id.rs `from_value`). Never throws on wire input.

/** One envelope's fields as ord reads them; null (or []) where the tag is absent. Values are raw. */
export interface ReadEnvelope {
  contentType: string | null;
  contentEncoding: string | null;
  body: Uint8Array | null;
  metadata: Uint8Array | null;
  parents: string[];
  delegate: string | null;
  pointer: bigint | null;
}

type Instruction = { push: Uint8Array } | { op: number };

/** Script instructions; null when a push runs past the end (rust-bitcoin stops there too). */
function instructions(script: Uint8Array): Instruction[] | null {
  const out: Instruction[] = [];
  let i = 0;
  while (i < script.length) {
    const op = script[i++]!;
    let n = -1;
    if (op <= 0x4b) n = op;
    else if (op === 0x4c || op === 0x4d || op === 0x4e) {
      const w = op === 0x4c ? 1 : op === 0x4d ? 2 : 4;
      if (i + w > script.length) return null;
      n = 0;
      for (let k = w - 1; k >= 0; k--) n = n * 256 + script[i + k]!;
      i += w;
    }
    if (n < 0) out.push({ op });
    else {
      if (i + n > script.length) return null;
      out.push({ push: script.subarray(i, i + n) });
      i += n;
    }
  }
  return out;
}

/** bitcoin Witness::tapscript: the second-to-last element (third with an annex), script path only. */
function tapscriptOf(witness: Uint8Array[]): Uint8Array | null {
  const annex = witness.length >= 2 && witness[witness.length - 1]![0] === 0x50 ? 1 : 0;
  return witness.length >= 2 + annex ? witness[witness.length - 2 - annex]! : null;
}

/** Inverse of `encodeInscriptionId`: null unless 32..36 bytes with no trailing zero (but in the 4-byte form). */
function decodeInscriptionId(v: Uint8Array): string | null {
  if (v.length < 32 || v.length > 36) return null;
  const index = v.subarray(32);
  if (index.length !== 4 && index.length > 0 && index[index.length - 1] === 0) return null;
  let n = 0;
  for (let k = index.length - 1; k >= 0; k--) n = n * 256 + index[k]!;
  return `${hex.encode(v.slice(0, 32).reverse())}i${n}`;
}

const ORD = /* @__PURE__ */ te.encode("ord");

/** Every envelope in a script-path witness, in order. Pushnums (OP_1..OP_16, OP_1NEGATE) count as
 *  pushes, as ord reads them (cursed, still inscribed); any other opcode ends an envelope unterminated. */
export function readEnvelopes(witness: Uint8Array[]): ReadEnvelope[] {
  const script = tapscriptOf(witness);
  const ins = script && instructions(script);
  if (!ins) return [];
  const found: ReadEnvelope[] = [];
  const isPush = (x: Instruction | undefined): x is { push: Uint8Array } => x !== undefined && "push" in x;
  for (let k = 0; k + 2 < ins.length; k++) {
    const a = ins[k]!;
    const b = ins[k + 1]!;
    const c = ins[k + 2];
    // OP_FALSE (an empty push) OP_IF push("ord")
    if (
      !(
        isPush(a) &&
        a.push.length === 0 &&
        "op" in b &&
        b.op === 0x63 &&
        isPush(c) &&
        c.push.length === 3 &&
        c.push.every((x, i) => x === ORD[i])
      )
    )
      continue;
    const payload: Uint8Array[] = [];
    let j = k + 3;
    let ended = false;
    for (; j < ins.length; j++) {
      const x = ins[j]!;
      if ("push" in x) payload.push(x.push);
      else if (x.op === 0x68) {
        ended = true;
        break;
      } else if (x.op === 0x4f)
        payload.push(Uint8Array.of(0x81)); // OP_1NEGATE
      else if (x.op >= 0x51 && x.op <= 0x60)
        payload.push(Uint8Array.of(x.op - 0x50)); // OP_1..OP_16
      else break;
    }
    if (!ended) continue;
    k = j;
    // The body tag is the first empty push in a tag position; fields are the pairs before it.
    const bodyAt = payload.findIndex((p, i) => i % 2 === 0 && p.length === 0);
    const head = bodyAt < 0 ? payload : payload.slice(0, bodyAt);
    const fields = new Map<number, Uint8Array[]>();
    for (let i = 0; i + 1 < head.length; i += 2) {
      const tag = head[i]!;
      if (tag.length !== 1) continue; // multi-byte tags: unrecognized, odd or even alike here
      fields.set(tag[0]!, [...(fields.get(tag[0]!) ?? []), head[i + 1]!]);
    }
    const first = (t: number) => fields.get(t)?.[0] ?? null;
    const utf8 = (v: Uint8Array | null) => (v === null ? null : new TextDecoder().decode(v));
    const ptr = first(TAG.pointer);
    let pointer: bigint | null = null;
    if (ptr !== null && ptr.subarray(8).every((x) => x === 0)) {
      pointer = 0n;
      for (let i = Math.min(ptr.length, 8) - 1; i >= 0; i--) pointer = pointer * 256n + BigInt(ptr[i]!);
    }
    const delegate = first(TAG.delegate);
    found.push({
      contentType: utf8(first(TAG.contentType)),
      contentEncoding: utf8(first(TAG.contentEncoding)),
      body: bodyAt < 0 ? null : concat(payload.slice(bodyAt + 1)),
      metadata: fields.has(TAG.metadata) ? concat(fields.get(TAG.metadata)!) : null,
      parents: (fields.get(TAG.parent) ?? []).map(decodeInscriptionId).filter((x): x is string => x !== null),
      delegate: delegate === null ? null : decodeInscriptionId(delegate),
      pointer,
    });
  }
  return found;
}

// Brotli as ord does it (inscription.rs `compress`): quality 11, lgwin 24, lgblock 24, a mode by
// media type, kept only when strictly smaller. Node's encoder is the reference C brotli; ord uses
// the Rust port, so compressed bytes may differ while decoding to the same content.
export type BrotliMode = "generic" | "text" | "font";

export function compressBody(body: Uint8Array, mode: BrotliMode = "generic"): { body: Uint8Array; encoding?: "br" } {
  const m = mode === "text" ? Z.BROTLI_MODE_TEXT : mode === "font" ? Z.BROTLI_MODE_FONT : Z.BROTLI_MODE_GENERIC;
  const out = brotliCompressSync(body, {
    params: {
      [Z.BROTLI_PARAM_QUALITY]: 11,
      [Z.BROTLI_PARAM_LGWIN]: 24,
      [Z.BROTLI_PARAM_LGBLOCK]: 24,
      [Z.BROTLI_PARAM_MODE]: m,
      [Z.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  });
  if (out.length < body.length) return { body: new Uint8Array(out.buffer, out.byteOffset, out.length), encoding: "br" };
  return { body };
}

// Extension → [content type, brotli mode]: ord's src/inscriptions/media.rs Media::TABLE, same strings
// and modes (fonts other than woff2 compress in generic mode; .py is text/x-python; YAML application/yaml).
const MEDIA: Record<string, [string, BrotliMode]> = {
  cbor: ["application/cbor", "generic"],
  json: ["application/json", "text"],
  bin: ["application/octet-stream", "generic"],
  pdf: ["application/pdf", "generic"],
  asc: ["application/pgp-signature", "text"],
  binpb: ["application/protobuf", "generic"],
  torrent: ["application/x-bittorrent", "generic"],
  yaml: ["application/yaml", "text"],
  yml: ["application/yaml", "text"],
  flac: ["audio/flac", "generic"],
  mp3: ["audio/mpeg", "generic"],
  opus: ["audio/ogg;codecs=opus", "generic"],
  wav: ["audio/wav", "generic"],
  otf: ["font/otf", "generic"],
  ttf: ["font/ttf", "generic"],
  woff: ["font/woff", "generic"],
  woff2: ["font/woff2", "font"],
  apng: ["image/apng", "generic"],
  avif: ["image/avif", "generic"],
  gif: ["image/gif", "generic"],
  jpg: ["image/jpeg", "generic"],
  jpeg: ["image/jpeg", "generic"],
  jxl: ["image/jxl", "generic"],
  png: ["image/png", "generic"],
  svg: ["image/svg+xml", "text"],
  webp: ["image/webp", "generic"],
  gltf: ["model/gltf+json", "text"],
  glb: ["model/gltf-binary", "generic"],
  stl: ["model/stl", "generic"],
  css: ["text/css", "text"],
  html: ["text/html;charset=utf-8", "text"],
  js: ["text/javascript", "text"],
  mjs: ["text/javascript", "text"],
  md: ["text/markdown;charset=utf-8", "text"],
  txt: ["text/plain;charset=utf-8", "text"],
  py: ["text/x-python", "text"],
  mp4: ["video/mp4", "generic"],
  webm: ["video/webm", "generic"],
};

/** Content type and brotli mode guessed from a file name's extension, or null if unknown. */
export function mediaForPath(path: string): { contentType: string; mode: BrotliMode } | null {
  const dot = path.lastIndexOf(".");
  if (dot < 0) return null;
  const m = MEDIA[path.slice(dot + 1).toLowerCase()];
  return m ? { contentType: m[0], mode: m[1] } : null;
}

/** Brotli mode for an explicit content type. */
export function modeForContentType(ct: string): BrotliMode {
  if (ct.startsWith("font/")) return "font";
  if (ct.startsWith("text/") || ct.includes("json") || ct.includes("xml") || ct.includes("javascript")) return "text";
  return "generic";
}

// JSON → CBOR (RFC 8949), as ord's `--json-metadata` does through serde_json + ciborium:
// integers as major types 0/1, other numbers as the shortest float that round-trips
// (f32 or f64; f16 is not attempted), strings as text, objects as maps in JSON key order.
export function jsonToCbor(value: unknown): Uint8Array {
  const out: number[] = [];
  const head = (major: number, n: number | bigint) => {
    const v = BigInt(n);
    const m = major << 5;
    if (v < 24n) out.push(m | Number(v));
    else if (v <= 0xffn) out.push(m | 24, Number(v));
    else if (v <= 0xffffn) out.push(m | 25, Number(v >> 8n), Number(v & 0xffn));
    else if (v <= 0xffffffffn) out.push(m | 26, ...be(v, 4));
    else out.push(m | 27, ...be(v, 8));
  };
  const be = (v: bigint, n: number) => {
    const b: number[] = [];
    for (let i = n - 1; i >= 0; i--) b.push(Number((v >> BigInt(8 * i)) & 0xffn));
    return b;
  };
  const enc = (v: unknown): void => {
    if (v === null) out.push(0xf6);
    else if (v === true) out.push(0xf5);
    else if (v === false) out.push(0xf4);
    else if (typeof v === "number") {
      if (Number.isSafeInteger(v)) v >= 0 ? head(0, v) : head(1, -1 - v);
      else if (Math.fround(v) === v || Number.isNaN(v)) {
        const b = new DataView(new ArrayBuffer(4));
        b.setFloat32(0, v);
        out.push(0xfa, ...new Uint8Array(b.buffer));
      } else {
        const b = new DataView(new ArrayBuffer(8));
        b.setFloat64(0, v);
        out.push(0xfb, ...new Uint8Array(b.buffer));
      }
    } else if (typeof v === "string") {
      const b = te.encode(v);
      head(3, b.length);
      out.push(...b);
    } else if (Array.isArray(v)) {
      head(4, v.length);
      for (const x of v) enc(x);
    } else if (typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>);
      head(5, entries.length);
      for (const [k, x] of entries) {
        enc(k);
        enc(x);
      }
    } else throw new TypeError(`envelope: cannot encode ${typeof v} as CBOR`);
  };
  enc(value);
  return Uint8Array.from(out);
}
