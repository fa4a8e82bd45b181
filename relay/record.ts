// Signing and checking relay records with node:crypto (the record and the bytes it signs are
// protocol/record.ts; format in docs/protocol.md §6). A relay can withhold other relays' records but
// not forge them.
import { createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { recordShape, recordSignedBytes, type RelayRecord, type UnsignedRecord } from "../protocol/record.ts";

export type { RelayRecord, UnsignedRecord };

export function signRecord(r: UnsignedRecord, key: KeyObject): RelayRecord {
  return { ...r, sig: sign(null, recordSignedBytes(r), key).toString("base64url") };
}

const SPKI_ED25519 = /* @__PURE__ */ Buffer.from("302a300506032b6570032100", "hex");

/** The record if it is well-formed and its signature verifies under its own `id`; else a reason. */
export function checkRecord(x: unknown): RelayRecord | string {
  const r = recordShape(x);
  if (typeof r === "string")
    return r === "lumamesh"
      ? "unsupported record version " + JSON.stringify((x as { lumamesh?: unknown }).lumamesh)
      : r === "record"
        ? "not an object"
        : r === "sig"
          ? "no signature"
          : "bad " + r;
  try {
    const pub = createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(r.id, "hex")]), format: "der", type: "spki" });
    if (!verify(null, recordSignedBytes(r), pub, Buffer.from(r.sig, "base64url"))) return "bad signature";
  } catch {
    return "bad signature";
  }
  // Only the signed fields (and the signature) travel on: nothing unsigned is passed to others.
  const { lumamesh, addr, fp, id, sat, seq, sig } = r;
  return { lumamesh, addr, fp, id, ...(sat !== undefined && { sat }), seq, sig };
}
