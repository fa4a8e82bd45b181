// Relay certificates, sans werift: one long-lived self-signed ECDSA P-256 certificate (its SHA-256
// fingerprint is published on-chain, so it lives for years), its DER written here (X.690, twenty
// lines), PEM in and out for the state directory, fingerprints as SDP writes them, and the key objects
// the DTLS handshake signs with, parsed once per certificate instead of once per session.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from "node:crypto";

export interface Certificate {
  certDer: Uint8Array;
  keyPkcs8: Uint8Array;
  /** sha-256 of certDer, uppercase colon hex as in SDP `a=fingerprint:sha-256` */
  fingerprint: string;
}

const HEX2 = /* @__PURE__ */ Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));
/** sha-256 fingerprint of a DER certificate: "AB:CD:…" (uppercase, colon separated). */
export function fingerprintOf(certDer: Uint8Array): string {
  const d = createHash("sha256").update(certDer).digest();
  let s = HEX2[d[0]!]!;
  for (let i = 1; i < d.length; i++) s += ":" + HEX2[d[i]!]!;
  return s;
}

export function normFp(fp: string): string {
  return fp
    .trim()
    .replace(/^sha-256\s+/i, "")
    .toUpperCase();
}

// Minimal DER writer (X.690): enough for one self-signed X.509 v3 certificate.
function derLen(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const head = [tag, ...derLen(len)];
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let o = head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const seq = (...p: Uint8Array[]) => tlv(0x30, ...p);
function oid(dotted: string): Uint8Array {
  const a = dotted.split(".").map(Number);
  const out = [40 * a[0]! + a[1]!];
  for (const v of a.slice(2)) {
    const b = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}
function derTime(d: Date): Uint8Array {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  const y = d.getUTCFullYear();
  const p = (n: number) => String(n).padStart(2, "0");
  const rest = p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + "Z";
  return y < 2050 ? tlv(0x17, new TextEncoder().encode(p(y % 100) + rest)) : tlv(0x18, new TextEncoder().encode(String(y) + rest));
}

/** OID 1.2.840.10045.3.1.7 (prime256v1 / P-256), DER encoded: exported for tests. */
export const P256_OID_DER: Uint8Array = /* @__PURE__ */ Uint8Array.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);

/**
 * A long-lived self-signed ECDSA P-256 certificate (default 10 years: its fingerprint is
 * published on-chain). werift has a helper (CipherContext.createSelfSignedCertificateWithKey)
 * but its lifetime is fixed at 10 years from "now" (no backdating for clock skew) and it goes
 * through @peculiar/x509; twenty lines of DER do the job with node:crypto alone.
 */
export async function generateCertificate(opts?: { days?: number }): Promise<Certificate> {
  const days = opts?.days ?? 3650;
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`werift: days must be > 0, got ${days}`);
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const keyPkcs8 = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive INTEGER
  if (serial[0] === 0) serial[0] = 1; // minimal encoding
  const name = seq(tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, new TextEncoder().encode("lumamesh")))));
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const now = Date.now();
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Uint8Array.of(2))), // version v3
    tlv(0x02, serial),
    ecdsaSha256,
    name,
    seq(derTime(new Date(now - 86_400_000)), derTime(new Date(now + days * 86_400_000))),
    name,
    spki,
  );
  const sig = sign("sha256", tbs, privateKey); // DER ECDSA-Sig-Value
  const certDer = seq(tbs, ecdsaSha256, tlv(0x03, Uint8Array.of(0), sig));
  return { certDer, keyPkcs8, fingerprint: fingerprintOf(certDer) };
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}
function unpem(label: string, text: string): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (!m) throw new TypeError(`werift: no PEM block "${label}"`);
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

export function certificateToPem(c: Certificate): { cert: string; key: string } {
  return { cert: pem("CERTIFICATE", c.certDer), key: pem("PRIVATE KEY", c.keyPkcs8) };
}

/** Loads a PEM pair; throws TypeError if it does not parse or the key does not match the cert. */
export function certificateFromPem(cert: string, key: string): Certificate {
  const certDer = unpem("CERTIFICATE", cert);
  const keyPkcs8 = unpem("PRIVATE KEY", key);
  let x: X509Certificate;
  try {
    x = new X509Certificate(certDer);
  } catch (e) {
    throw new TypeError(`werift: certificate does not parse: ${(e as Error).message}`);
  }
  const priv = createPrivateKey({ key: Buffer.from(keyPkcs8), format: "der", type: "pkcs8" });
  if (priv.asymmetricKeyType !== "ec") throw new TypeError("werift: key is not an EC key");
  const fromKey = createPublicKey(priv).export({ type: "spki", format: "der" });
  const fromCert = x.publicKey.export({ type: "spki", format: "der" });
  if (!Buffer.from(fromKey).equals(Buffer.from(fromCert))) throw new TypeError("werift: key does not match certificate");
  return { certDer, keyPkcs8, fingerprint: fingerprintOf(certDer) };
}

export interface Signer {
  /** The certificate, DER (as werift sends it in its Certificate message). */
  certDer: Buffer;
  /** ECDSA signature (DER ECDSA-Sig-Value) of `data` with the certificate's key. */
  sign(data: Uint8Array, hash: string): Buffer;
}
const signers = new WeakMap<Certificate, Signer>();
/** The certificate's key as a key object, parsed once per certificate (not once per handshake). */
export function signerOf(c: Certificate): Signer {
  let s = signers.get(c);
  if (!s) {
    const key: KeyObject = createPrivateKey({ key: Buffer.from(c.keyPkcs8), format: "der", type: "pkcs8" });
    s = { certDer: Buffer.from(c.certDer), sign: (data, hash) => sign(hash, data, key) };
    signers.set(c, s);
  }
  return s;
}

/** Internals for tests. */
export const _internal = /* @__PURE__ */ Object.freeze({ derTime, oid });
