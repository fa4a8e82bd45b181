// node-datachannel's RTCPeerConnection (libdatachannel), made ready for Lumamesh under Bun or Node
// (docs/node.md): pass it as connect({ RTCPeerConnection }). A page's peer id is the fingerprint of
// the certificate it uses for the relay link and every direct connection; a browser makes it with
// RTCPeerConnection.generateCertificate, which node-datachannel lacks (libdatachannel reads a PEM
// certificate and key from files). So: certificates are PEM files in a folder (cert.pem, key.pem,
// made here with node:crypto), passed to libdatachannel as certificatePemFile/keyPemFile, and shown
// to the library as an object with getFingerprints() and expires. Also: no STUN server unless one
// is given (the library names the relays it links to).
import { RTCPeerConnection as Polyfill } from "node-datachannel/polyfill";
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate in a folder (cert.pem, key.pem), as the library and libdatachannel each need it. */
export class PemCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly expires: number;
  readonly fingerprint: string;
  constructor(dir: string) {
    this.certFile = join(dir, "cert.pem");
    this.keyFile = join(dir, "key.pem");
    const x = new X509Certificate(readFileSync(this.certFile));
    this.expires = Date.parse(x.validTo);
    this.fingerprint = x.fingerprint256; // "AB:CD:…", as in SDP
  }
  getFingerprints() {
    return [{ algorithm: "sha-256", value: this.fingerprint }];
  }
}

// A self-signed ECDSA P-256 X.509 v3 certificate in DER (X.690), which node:crypto cannot make itself.
const tlv = (tag: number, ...parts: Uint8Array[]): Uint8Array => {
  const n = parts.reduce((a, p) => a + p.length, 0),
    len = n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 255];
  return Uint8Array.from([tag, ...len, ...parts.flatMap((p) => [...p])]);
};
const seq = (...p: Uint8Array[]) => tlv(0x30, ...p);
const time = (d: Date) => {
  const s = d.toISOString().replace(/[-:T]|\.\d+/g, ""); // YYYYMMDDhhmmssZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(s.slice(2))) : tlv(0x18, Buffer.from(s)); // RFC 5280 §4.1.2.5
};
const ECDSA_SHA256 = seq(Uint8Array.of(6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2));
const NAME = seq(tlv(0x31, seq(Uint8Array.of(6, 3, 0x55, 4, 3), tlv(0x0c, Buffer.from("lumamesh")))));

/** Make a certificate (valid `days`) in `dir` (default: a new temporary folder); the key file is private (0600). */
export function generateCertificate(dir = mkdtempSync(join(tmpdir(), "lumamesh-peer-")), days = 3650): PemCertificate {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 1; // a positive INTEGER, minimally encoded
  const now = Date.now();
  const tbs = seq(
    tlv(0xa0, tlv(2, Uint8Array.of(2))),
    tlv(2, serial),
    ECDSA_SHA256,
    NAME,
    seq(time(new Date(now - 864e5)), time(new Date(now + days * 864e5))),
    NAME,
    new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
  );
  const der = seq(tbs, ECDSA_SHA256, tlv(3, Uint8Array.of(0), sign("sha256", tbs, privateKey)));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(
    join(dir, "cert.pem"),
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g)!
      .join("\n")}\n-----END CERTIFICATE-----\n`,
  );
  return new PemCertificate(dir);
}

/** The certificate kept in `dir`, made there on first use: the same peer id on every run. */
export const keptCertificate = (dir: string) => (existsSync(join(dir, "cert.pem")) ? new PemCertificate(dir) : generateCertificate(dir));

type Config = ConstructorParameters<typeof Polyfill>[0] & { certificates?: PemCertificate[] };

export class RTCPeerConnection extends Polyfill {
  constructor(config: Config = {}) {
    const c = config.certificates?.[0];
    super({ iceServers: [], ...config, ...(c && { certificatePemFile: c.certFile, keyPemFile: c.keyFile }) } as Config);
  }
}
// What the library calls to make a page's certificate, as a browser's static method (node-datachannel's
// own says "Not implemented"); typed as node-datachannel's class is not: PemCertificate is no RTCCertificate.
Object.defineProperty(RTCPeerConnection, "generateCertificate", { value: async () => generateCertificate() });

/** For connect({ RTCPeerConnection }): the library is typed against the browser's. */
export const PeerConnection = RTCPeerConnection as unknown as typeof globalThis.RTCPeerConnection;
