// Reads a folder's manifest.json (format version 1, documented in docs/ord-server.md) into
// inscriptions for the dev ord server: file bodies, content types from ord's extension table,
// optional brotli compression as `ord wallet inscribe --compress` does it, metadata as CBOR.

import { readFile } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import { sha256Id, type InscriptionInput } from "./ord-server.ts";

export const MANIFEST_VERSION = 1;

/** One entry of manifest.json. */
export interface ManifestEntry {
  /** Path of the body, relative to the folder. Omit for an inscription without a body (e.g. a delegate-only one). */
  file?: string;
  /** A name other entries can use in `parents`/`delegate`; defaults to `file`. */
  name?: string;
  content_type?: string;
  content_encoding?: string;
  /** Store the file brotli-compressed (quality 11, lgwin 24) with content_encoding "br", if that is smaller. */
  compress?: boolean;
  id?: string;
  number?: number;
  sat?: number;
  height?: number;
  timestamp?: number;
  /** Inscription ids, or the `name`/`file` of an earlier entry. */
  parents?: string[];
  delegate?: string;
  /** Any JSON value, stored CBOR-encoded (as ord's --metadata does with YAML/JSON). */
  metadata?: unknown;
  /** Metadata given as raw CBOR, in hex. */
  metadata_hex?: string;
  fee?: number;
  value?: number;
  address?: string;
}

export interface Manifest {
  version: 1;
  /** Starting block height of the dev chain (default 0). */
  height?: number;
  inscriptions: ManifestEntry[];
}

// ord src/inscriptions/media.rs Media::TABLE: extension → (content type, brotli mode).
const EXTENSIONS: Record<string, [string, "generic" | "text" | "font"]> = {
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

/** Content type and brotli mode for a file name, from ord's table; null when ord would refuse the extension. */
export function contentTypeFor(file: string): { contentType: string; mode: "generic" | "text" | "font" } | null {
  const e = EXTENSIONS[extname(file).slice(1).toLowerCase()];
  return e ? { contentType: e[0], mode: e[1] } : null;
}

/**
 * ord src/inscriptions/inscription.rs compress(): brotli, quality 11, lgwin 24, size hint = length,
 * mode from the media table; the compressed form is kept only when it is smaller.
 */
export function brotli(body: Uint8Array, mode: "generic" | "text" | "font" = "generic"): Uint8Array | null {
  const compressed = new Uint8Array(
    brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
        [constants.BROTLI_PARAM_MODE]:
          mode === "text" ? constants.BROTLI_MODE_TEXT : mode === "font" ? constants.BROTLI_MODE_FONT : constants.BROTLI_MODE_GENERIC,
      },
    }),
  );
  // ord asserts the round trip before using the compressed body.
  if (!Buffer.from(brotliDecompressSync(compressed)).equals(Buffer.from(body))) throw new Error("brotli round trip failed");
  return compressed.length < body.length ? compressed : null;
}

/** A minimal CBOR encoder (RFC 8949) for JSON values: enough for inscription metadata. */
export function cbor(value: unknown): Uint8Array {
  const out: number[] = [];
  const head = (major: number, n: number | bigint) => {
    const v = BigInt(n);
    const m = major << 5;
    if (v < 24n) out.push(m | Number(v));
    else if (v < 0x100n) out.push(m | 24, Number(v));
    else if (v < 0x10000n) out.push(m | 25, Number(v >> 8n), Number(v & 0xffn));
    else if (v < 0x100000000n) out.push(m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn)));
    else out.push(m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn)));
  };
  const enc = (x: unknown): void => {
    if (x === null || x === undefined) out.push(0xf6);
    else if (x === false) out.push(0xf4);
    else if (x === true) out.push(0xf5);
    else if (typeof x === "number" && Number.isInteger(x)) {
      if (x >= 0) head(0, x);
      else head(1, -1 - x);
    } else if (typeof x === "number") {
      const b = new DataView(new ArrayBuffer(8));
      b.setFloat64(0, x);
      out.push(0xfb, ...new Uint8Array(b.buffer));
    } else if (typeof x === "string") {
      const bytes = new TextEncoder().encode(x);
      head(3, bytes.length);
      out.push(...bytes);
    } else if (Array.isArray(x)) {
      head(4, x.length);
      x.forEach(enc);
    } else if (typeof x === "object") {
      const entries = Object.entries(x as Record<string, unknown>);
      head(5, entries.length);
      for (const [k, v] of entries) {
        enc(k);
        enc(v);
      }
    } else throw new TypeError(`cbor: cannot encode ${typeof x}`);
  };
  enc(value);
  return new Uint8Array(out);
}

const ID_RE = /^[0-9a-fA-F]{64}i\d+$/;

/** Reads `<dir>/manifest.json` and the files it names. Throws with a clear message on bad input. */
export async function loadManifest(dir: string): Promise<InscriptionInput[]> {
  return (await readManifest(dir)).inscriptions;
}

export async function readManifest(dir: string): Promise<{ height: number | undefined; inscriptions: InscriptionInput[] }> {
  const path = join(dir, "manifest.json");
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new Error(`manifest: cannot read ${path}: ${(e as Error).message}`);
  }
  if (manifest?.version !== MANIFEST_VERSION) {
    throw new Error(`manifest: ${path}: "version" must be ${MANIFEST_VERSION}`);
  }
  if (!Array.isArray(manifest.inscriptions)) throw new Error(`manifest: ${path}: "inscriptions" must be an array`);
  const names = new Map<string, string>();
  const taken = new Set<string>();
  const out: InscriptionInput[] = [];
  for (const [n, entry] of manifest.inscriptions.entries()) {
    const where = `manifest: entry ${n}${entry.file ? ` (${entry.file})` : ""}`;
    let body: Uint8Array | null = null;
    let contentType = entry.content_type;
    let contentEncoding = entry.content_encoding;
    if (entry.file !== undefined) {
      const file = resolve(dir, entry.file);
      try {
        body = new Uint8Array(await readFile(file));
      } catch (e) {
        throw new Error(`${where}: cannot read ${file}: ${(e as Error).message}`);
      }
      const known = contentTypeFor(entry.file);
      if (contentType === undefined) {
        if (!known) throw new Error(`${where}: unknown extension; give "content_type"`);
        contentType = known.contentType;
      }
      if (entry.compress) {
        if (contentEncoding !== undefined) throw new Error(`${where}: "compress" and "content_encoding" exclude each other`);
        const compressed = brotli(body, known?.mode ?? "generic");
        if (compressed) {
          body = compressed;
          contentEncoding = "br";
        }
      }
    } else if (entry.compress) {
      throw new Error(`${where}: "compress" needs a "file"`);
    }
    const ref = (v: string, what: string): string => {
      if (ID_RE.test(v)) return v;
      const id = names.get(v);
      if (!id) throw new Error(`${where}: ${what} ${JSON.stringify(v)} is neither an inscription id nor an earlier entry`);
      return id;
    };
    // Ids default to sha256(stored body) + i<n>, n counting up on repeats: stable across runs.
    let id = entry.id;
    if (id === undefined) {
      id = sha256Id(body ?? new Uint8Array(), (candidate) => taken.has(candidate));
    }
    taken.add(id.toLowerCase());
    const name = entry.name ?? entry.file;
    if (name !== undefined) names.set(name, id);
    let metadata: Uint8Array | undefined;
    if (entry.metadata_hex !== undefined) {
      if (!/^([0-9a-fA-F]{2})*$/.test(entry.metadata_hex)) throw new Error(`${where}: "metadata_hex" is not hex`);
      metadata = new Uint8Array(Buffer.from(entry.metadata_hex, "hex"));
    } else if (entry.metadata !== undefined) {
      metadata = cbor(entry.metadata);
    }
    out.push({
      id,
      body,
      content_type: contentType,
      content_encoding: contentEncoding,
      parents: (entry.parents ?? []).map((p) => ref(p, "parent")),
      delegate: entry.delegate === undefined ? undefined : ref(entry.delegate, "delegate"),
      metadata,
      number: entry.number,
      sat: entry.sat,
      height: entry.height,
      timestamp: entry.timestamp,
      fee: entry.fee,
      value: entry.value,
      address: entry.address,
    });
  }
  return { height: manifest.height, inscriptions: out };
}
