// Signed relay records: what a relay publishes about itself (inscribed on its own sat, passed on by
// gossip, listed in bootstrap configs). Signed with the relay's Ed25519 identity key so that a relay
// can withhold other relays' records but not forge them. Format in docs/protocol.md §6.
import { createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { FP_RE, parseAddr } from "../src/link.ts";

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
  /** Ed25519 signature (base64url) over signedBytes(record) */
  sig: string;
}

export type UnsignedRecord = Omit<RelayRecord, "sig">;

/** The exact bytes signed: the record without `sig`, as JSON with keys in this fixed order. */
export function signedBytes(r: UnsignedRecord): Uint8Array {
  const o: Record<string, unknown> = { lumamesh: r.lumamesh, addr: r.addr, fp: r.fp, id: r.id };
  if (r.sat !== undefined) o.sat = r.sat;
  o.seq = r.seq;
  return new TextEncoder().encode("lumamesh-record:" + JSON.stringify(o));
}

export function signRecord(r: UnsignedRecord, key: KeyObject): RelayRecord {
  return { ...r, sig: sign(null, signedBytes(r), key).toString("base64url") };
}

const SPKI_ED25519 = /* @__PURE__ */ Buffer.from("302a300506032b6570032100", "hex");

/** The record if it is well-formed and its signature verifies under its own `id`; else a reason. */
export function checkRecord(x: unknown): RelayRecord | string {
  const r = x as RelayRecord;
  if (!r || typeof r != "object") return "not an object";
  if (r.lumamesh !== 1) return "unsupported record version " + JSON.stringify(r.lumamesh);
  if (typeof r.addr != "string" || !parseAddr(r.addr)) return "bad addr";
  if (typeof r.fp != "string" || !FP_RE.test(r.fp)) return "bad fp";
  if (typeof r.id != "string" || !/^[0-9a-f]{64}$/.test(r.id)) return "bad id";
  if (r.sat !== undefined && !(Number.isSafeInteger(r.sat) && r.sat >= 0)) return "bad sat";
  if (!Number.isSafeInteger(r.seq) || r.seq < 0) return "bad seq";
  if (typeof r.sig != "string") return "no signature";
  try {
    const pub = createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(r.id, "hex")]), format: "der", type: "spki" });
    if (!verify(null, signedBytes(r), pub, Buffer.from(r.sig, "base64url"))) return "bad signature";
  } catch {
    return "bad signature";
  }
  const { lumamesh, addr, fp, id, sat, seq, sig } = r;
  return { lumamesh, addr, fp, id, ...(sat !== undefined && { sat }), seq, sig };
}
