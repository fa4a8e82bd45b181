// Reads a folder's manifest.json (format version 1, documented in docs/ord-server.md) into
// inscriptions for the dev ord server: file bodies, content types from ord's extension table,
// optional brotli compression as `ord wallet inscribe --compress` does it, metadata as CBOR.

import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { compressBody, jsonToCbor, mediaForPath, type BrotliMode } from "../../inscribe/envelope.ts";
import { sha256Id, type InscriptionInput } from "./store.ts";

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

/** Content type and brotli mode for a file name, from ord's table; null when ord would refuse the extension. */
export function contentTypeFor(file: string): { contentType: string; mode: BrotliMode } | null {
  return mediaForPath(file);
}

/** ord's `compress()` (quality 11, lgwin 24, lgblock 24, mode by media type): the compressed body, or
 *  null when it is not smaller. The one implementation is inscribe/envelope.ts `compressBody`. */
export function brotli(body: Uint8Array, mode: BrotliMode = "generic"): Uint8Array | null {
  const r = compressBody(body, mode);
  return r.encoding ? r.body : null;
}

/** JSON → CBOR as ord's --json-metadata does: inscribe/envelope.ts `jsonToCbor`. */
export const cbor = jsonToCbor;

const ID_RE = /^[0-9a-fA-F]{64}i\d+$/;

/** Reads `<dir>/manifest.json` and the files it names. Throws with a clear message on bad input. */
export async function loadManifest(dir: string): Promise<InscriptionInput[]> {
  return (await readManifest(dir)).inscriptions;
}

/** The manifest's height and inscriptions, and each entry's `file` (undefined for none), in order. */
export async function readManifest(
  dir: string,
): Promise<{ height: number | undefined; inscriptions: InscriptionInput[]; files: (string | undefined)[] }> {
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
  return { height: manifest.height, inscriptions: out, files: manifest.inscriptions.map((e) => e.file) };
}
