// Relay records (docs/protocol.md §6): what a relay publishes about itself, signed with its Ed25519
// identity key. The signing and checking of signatures is the relay's (relay/record.ts, node:crypto)
// and the library's (src/discover.ts, WebCrypto); the bytes they sign are defined once, here.
import { FP_RE, parseAddr } from "./addr.ts";
import { utf8Encode } from "./bytes.ts";

export interface RelayRecord {
  lumamesh: 1;
  /** "ip:port" or "[ipv6]:port" */
  addr: string;
  /** SHA-256 fingerprint of the relay's DTLS certificate, uppercase colon hex */
  fp: string;
  /** Ed25519 public key, 64 hex chars */
  id: string;
  /** The sat the relay inscribes this record on, once registered */
  sat?: number;
  /** Monotonic version (seconds since the epoch when signed); a newer one replaces an older one */
  seq: number;
  /** Ed25519 signature (base64url) over recordSignedBytes(record) */
  sig: string;
}

export type UnsignedRecord = Omit<RelayRecord, "sig">;

/** The exact bytes signed: "lumamesh-record:" + the record without `sig` as JSON, keys in this fixed order. */
export function recordSignedBytes(r: UnsignedRecord): Uint8Array<ArrayBuffer> {
  // JSON.stringify leaves out a sat that is undefined: the bytes are those of a record without one.
  const o = { lumamesh: r.lumamesh, addr: r.addr, fp: r.fp, id: r.id, sat: r.sat, seq: r.seq };
  return utf8Encode("lumamesh-record:" + JSON.stringify(o));
}

/** The record if its shape is right (its signature is not checked here; other fields are left as they
 *  are); else the name of the first field that is wrong ("lumamesh" for a version other than 1,
 *  "record" for a non-object). */
export function recordShape(x: unknown): RelayRecord | string {
  const r = x as RelayRecord;
  if (!r || typeof r !== "object") return "record";
  if (r.lumamesh !== 1) return "lumamesh";
  if (typeof r.addr !== "string" || !parseAddr(r.addr)) return "addr";
  if (typeof r.fp !== "string" || !FP_RE.test(r.fp)) return "fp";
  if (typeof r.id !== "string" || !/^[0-9a-f]{64}$/.test(r.id)) return "id";
  if (r.sat !== undefined && !(Number.isSafeInteger(r.sat) && r.sat >= 0)) return "sat";
  if (!Number.isSafeInteger(r.seq) || r.seq < 0) return "seq";
  if (typeof r.sig !== "string" || !/^[A-Za-z0-9_-]{86}$/.test(r.sig)) return "sig";
  return r;
}
