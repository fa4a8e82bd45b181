// The relay's data directory: its long-lived DTLS certificate (the fingerprint is published
// on-chain, so it must survive restarts) and its Ed25519 identity key.
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { signRecord, type RelayRecord } from "./record.ts";
export type { RelayRecord } from "./record.ts";
import { certificateFromPem, certificateToPem, generateCertificate, type Certificate } from "./cert.ts";

export interface RelayState {
  cert: Certificate;
  identity: KeyObject;
  /** Raw 32-byte Ed25519 public key, hex. */
  id: string;
  created: boolean;
}

function writeSecret(path: string, data: string) {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export async function loadState(dir: string): Promise<RelayState> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, "cert.pem"),
    keyPath = join(dir, "cert.key"),
    idPath = join(dir, "identity.key");
  let created = false;
  let cert: Certificate;
  if (existsSync(certPath) && existsSync(keyPath)) {
    cert = certificateFromPem(readFileSync(certPath, "utf8"), readFileSync(keyPath, "utf8"));
  } else {
    cert = await generateCertificate();
    const pem = certificateToPem(cert);
    writeSecret(keyPath, pem.key);
    writeFileSync(certPath, pem.cert);
    created = true;
  }
  let identity: KeyObject;
  if (existsSync(idPath)) identity = createPrivateKey(readFileSync(idPath, "utf8"));
  else {
    identity = generateKeyPairSync("ed25519").privateKey;
    writeSecret(idPath, identity.export({ type: "pkcs8", format: "pem" }) as string);
    created = true;
  }
  const spki = createPublicKey(identity).export({ type: "spki", format: "der" });
  const id = Buffer.from(spki.subarray(spki.length - 32)).toString("hex");
  return { cert, identity, id, created };
}

/** The relay's record, signed with its identity key: what bootstrap configs, inscriptions and gossip carry. */
export function relayRecord(state: RelayState, ip: string, port: number, sat?: number, seq = Math.floor(Date.now() / 1000)): RelayRecord {
  const addr = (ip.includes(":") ? `[${ip}]` : ip) + ":" + port;
  return signRecord(
    { lumamesh: 1, addr, fp: state.cert.fingerprint, id: state.id, ...(sat !== undefined && { sat }), seq },
    state.identity,
  );
}
