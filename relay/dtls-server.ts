// The relay's DTLS 1.2 server handshake, on node:crypto alone (no werift): what a browser dials.
// One suite, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (every WebRTC stack offers it), ECDHE over
// X25519 (or P-256 when X25519 is not offered), the relay's fixed ECDSA P-256 certificate, a
// CertificateRequest (the browser's certificate is its identity: peer ids are its fingerprint's
// prefix, docs/protocol.md §4), extended master secret (RFC 7627) when offered, no session
// resumption, no renegotiation, no use_srtp (no media). werift did the same handshake through its
// flight, record and schema objects; here it is the messages' bytes and a transcript.
//
// Sans-IO: the session feeds it the records of a datagram (after the relay core checked the first
// ClientHello's cookie, relay/core.ts) and it hands back records to send and, once the client's
// Finished checks out, the record keys (relay/dtls-aead.ts) and the client's certificate.
// Retransmission is the client's: a retransmitted ClientHello gets flight 4 again, a retransmitted
// Finished flight 6 (each at most once per REPLAY_GAP_MS, so a spoofed copy cannot make the relay
// send faster than that); the server itself keeps no timer.
//
// RFC 5246 §7.4 messages, RFC 6347 §4.2 DTLS handshake header, RFC 5288 AES-GCM, RFC 8422 ECDHE.
// Input never throws out of receive(): malformed input is dropped (a reason is reported) or fails
// the handshake (with a fatal alert).

import {
  createECDH,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  timingSafeEqual,
  verify,
} from "node:crypto";
import type { KeyObject } from "node:crypto";
import {
  CT,
  DTLS_1_2,
  HANDSHAKE_HEADER,
  HS,
  RECORD_HEADER,
  Reassembler,
  handshakeRecord,
  helloStart,
  parseHandshakes,
} from "./dtls-records.ts";
import { keysFromBlock, openRecord, sealRecord, type RecordKeys } from "./dtls-aead.ts";

const SUITE = 0xc02b; // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
const X25519 = 29,
  P256 = 23;
const ECDSA_SHA256 = 0x0403,
  RSA_SHA256 = 0x0401;
const EXT_SUPPORTED_GROUPS = 10,
  EXT_SIGNATURE_ALGORITHMS = 13,
  EXT_EMS = 23,
  EXT_RENEGOTIATION_INFO = 0xff01;
const M = { SERVER_HELLO: 2, CERTIFICATE: 11, SERVER_KEY_EXCHANGE: 12, CERTIFICATE_REQUEST: 13, SERVER_HELLO_DONE: 14 } as const;
const M_CERTIFICATE_VERIFY = 15,
  M_CLIENT_KEY_EXCHANGE = 16,
  M_FINISHED = 20;
/** Alert descriptions (RFC 5246 §7.2). */
export const ALERT = {
  UNEXPECTED_MESSAGE: 10,
  HANDSHAKE_FAILURE: 40,
  BAD_CERTIFICATE: 42,
  ILLEGAL_PARAMETER: 47,
  DECODE_ERROR: 50,
  DECRYPT_ERROR: 51,
};

/** A retransmitted flight of the client's is answered at most once per REPLAY_GAP_MS (see relay/session.ts). */
export const REPLAY_GAP_MS = 400;
/** Handshake messages held ahead of a missing one, at most, and how far ahead. */
const MAX_AHEAD = 4,
  MAX_AHEAD_SEQ = 8;

const X25519_SPKI = /* @__PURE__ */ Buffer.from("302a300506032b656e032100", "hex");
const LABEL = /* @__PURE__ */ (() => {
  const b = (s: string) => Buffer.from(s, "latin1");
  return {
    ems: b("extended master secret"),
    master: b("master secret"),
    keys: b("key expansion"),
    client: b("client finished"),
    server: b("server finished"),
  };
})();

/** TLS 1.2 PRF with SHA-256 (RFC 5246 §5): P_SHA256(secret, label + seed), `n` bytes. */
export function prf(secret: Uint8Array, label: Uint8Array, seed: Uint8Array, n: number): Buffer {
  const ls = Buffer.concat([label, seed]);
  const out = Buffer.allocUnsafe(n);
  let a: Buffer = ls;
  for (let o = 0; o < n; o += 32) {
    a = createHmac("sha256", secret).update(a).digest();
    const b = createHmac("sha256", secret).update(a).update(ls).digest();
    b.copy(out, o, 0, Math.min(32, n - o));
  }
  return out;
}

export interface ServerHandshakeIo {
  certDer: Uint8Array;
  /** ECDSA-sign `data` with the certificate's key (DER signature). */
  sign(data: Uint8Array, hash: string): Uint8Array;
  /** One whole record to send (header included). */
  send(rec: Uint8Array): void;
  /** Input dropped (counted by the caller). */
  drop(reason: string): void;
  /** The handshake failed: reason, and the fatal alert sent (already sent when given). */
  fail(reason: string): void;
  /** The client's Finished checked out: flight 6 was sent; record keys and the client's certificate. */
  done(keys: RecordKeys, clientCertDer: Buffer): void;
}

const enum St {
  HELLO,
  FLIGHT5,
  DONE,
  FAILED,
}

/** The public key of a DER X.509 certificate: its SubjectPublicKeyInfo, found with a few lines of DER
 *  (X509Certificate would parse all of it, names and extensions included, for this one field). */
function certKey(der: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.from(spkiOf(der)), format: "der", type: "spki" });
}

/** A plaintext (epoch 0) record. */
function plainRecord(type: number, seq: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER + body.length);
  out[0] = type;
  out[1] = DTLS_1_2 >> 8;
  out[2] = DTLS_1_2 & 255;
  const hi = Math.floor(seq / 2 ** 32);
  out[5] = (hi >>> 8) & 255;
  out[6] = hi & 255;
  out[7] = (seq >>> 24) & 255;
  out[8] = (seq >>> 16) & 255;
  out[9] = (seq >>> 8) & 255;
  out[10] = seq & 255;
  out[11] = body.length >> 8;
  out[12] = body.length & 255;
  out.set(body, RECORD_HEADER);
  return out;
}

/** The SubjectPublicKeyInfo TLV inside a DER certificate (X.509 §4.1); throws on anything unexpected. */
export function spkiOf(der: Uint8Array): Uint8Array {
  const tlv = (o: number): [number, number] => {
    // returns [content start, end]
    if (o + 2 > der.length) throw new RangeError("certificate: truncated");
    let len = der[o + 1]!,
      p = o + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 3 || p + n > der.length) throw new RangeError("certificate: bad length");
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[p + i]!;
      p += n;
    }
    if (p + len > der.length) throw new RangeError("certificate: truncated");
    return [p, p + len];
  };
  if (der[0] !== 0x30) throw new RangeError("certificate: not a SEQUENCE");
  const [certStart] = tlv(0);
  if (der[certStart] !== 0x30) throw new RangeError("certificate: no tbsCertificate");
  let [o, tbsEnd] = tlv(certStart);
  if (der[o] === 0xa0) o = tlv(o)[1]; // [0] version
  // serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo
  for (let i = 0; i < 5; i++) o = tlv(o)[1];
  if (o >= tbsEnd || der[o] !== 0x30) throw new RangeError("certificate: no subjectPublicKeyInfo");
  return der.subarray(o, tlv(o)[1]);
}

/** One whole handshake message as the transcript holds it (DTLS header, unfragmented: RFC 6347 §4.2.6). */
function message(type: number, seq: number, body: Uint8Array): Buffer {
  const m = Buffer.allocUnsafe(HANDSHAKE_HEADER + body.length);
  m[0] = type;
  m.writeUIntBE(body.length, 1, 3);
  m.writeUInt16BE(seq, 4);
  m.writeUIntBE(0, 6, 3);
  m.writeUIntBE(body.length, 9, 3);
  m.set(body, HANDSHAKE_HEADER);
  return m;
}

/** A reader over a message body that throws (caught as a decode_error) when the body is short. */
class Reader {
  o = 0;
  constructor(private b: Uint8Array) {}
  need(n: number) {
    if (this.o + n > this.b.length) throw new RangeError("message truncated");
  }
  u8() {
    this.need(1);
    return this.b[this.o++]!;
  }
  u16() {
    this.need(2);
    const v = (this.b[this.o]! << 8) | this.b[this.o + 1]!;
    this.o += 2;
    return v;
  }
  u24() {
    this.need(3);
    const v = (this.b[this.o]! << 16) | (this.b[this.o + 1]! << 8) | this.b[this.o + 2]!;
    this.o += 3;
    return v;
  }
  bytes(n: number) {
    this.need(n);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  get left() {
    return this.b.length - this.o;
  }
}

export class ServerHandshake {
  private st = St.HELLO;
  private reasm = new Reassembler();
  private clientRandom?: Uint8Array;
  private serverRandom = randomBytes(32);
  /** message_seq expected next from the client, and whole messages ahead of it. */
  private next = 0;
  private ahead = new Map<number, { type: number; body: Uint8Array }>();
  /** The client's Finished record when it came before an earlier message of its flight. */
  private early?: Uint8Array;
  /** message_seq values already taken (a retransmission of one is not processed again). */
  private seen = new Set<number>();
  private transcript: Buffer[] = [];
  private ems = false;
  private curve = X25519;
  private x25519Key?: KeyObject;
  private p256?: ReturnType<typeof createECDH>;
  private ourPublic?: Uint8Array;
  private master?: Buffer;
  private keys?: RecordKeys;
  private clientCert?: Buffer;
  private verified = false;
  private flight4: Uint8Array[] = [];
  private flight6: Uint8Array[] = [];
  private lastReplay = -Infinity;
  /** Record sequence numbers: epoch 0 (above every ClientHello's, whose numbers the core's
   *  HelloVerifyRequests echoed), and epoch 1 (the Finished is 0, application data follows). */
  private seq0 = 0;
  seq1 = 0;

  constructor(private io: ServerHandshakeIo) {}

  get connected() {
    return this.st === St.DONE;
  }
  /** The record keys once the handshake is done (also used for the session's application data). */
  get recordKeys() {
    return this.st === St.DONE ? this.keys : undefined;
  }

  /** Every record of a datagram that is not application data only (the session opens that itself). */
  receive(d: Uint8Array, now: number): void {
    let o = 0;
    while (o + RECORD_HEADER <= d.length && this.st !== St.FAILED) {
      const type = d[o]!,
        epoch = (d[o + 3]! << 8) | d[o + 4]!,
        len = (d[o + 11]! << 8) | d[o + 12]!;
      if (o + RECORD_HEADER + len > d.length) break;
      const rec = d.subarray(o, o + RECORD_HEADER + len);
      o += RECORD_HEADER + len;
      try {
        this.record(type, epoch, rec, now);
      } catch (e) {
        this.failWith(`${(e as Error).message}`, ALERT.DECODE_ERROR);
      }
    }
  }

  private record(type: number, epoch: number, rec: Uint8Array, now: number) {
    if (type === CT.HANDSHAKE && epoch === 0) {
      if (this.st === St.DONE) return; // the handshake is over: a retransmitted Finished gets flight 6 again
      return this.plainHandshake(rec, now);
    }
    if (type === CT.HANDSHAKE && epoch === 1) {
      if (this.st === St.DONE) {
        // The client did not get flight 6: it resends flight 5, Finished included. Answer an authentic one.
        if (openRecord(this.keys!, rec) && this.replayOk(now)) for (const r of this.flight6) this.io.send(r);
        return;
      }
      if (!this.keys || !this.verified || this.ahead.size) {
        this.early = Uint8Array.from(rec); // before the messages it follows: checked once they are in
        return;
      }
      return this.finished(rec);
    }
    if (type === CT.ALERT && epoch === 0 && this.st !== St.DONE) {
      if (rec.length === RECORD_HEADER + 2) {
        this.st = St.FAILED;
        this.io.fail(`handshake-failed: alert ${rec[RECORD_HEADER + 1]}`);
      }
      return;
    }
    // ChangeCipherSpec (the Finished under epoch 1 says as much), anything else: nothing to do.
  }

  private replayOk(now: number): boolean {
    if (now - this.lastReplay < REPLAY_GAP_MS) {
      this.io.drop("dtls.retransmit-too-soon");
      return false;
    }
    this.lastReplay = now;
    return true;
  }

  private plainHandshake(rec: Uint8Array, now: number) {
    const frags = parseHandshakes(rec.subarray(RECORD_HEADER));
    if (!frags) return this.io.drop("dtls.bad-handshake-header");
    const recordSeq = (rec[5]! * 2 ** 8 + rec[6]!) * 2 ** 32 + (((rec[7]! << 24) | (rec[8]! << 16) | (rec[9]! << 8) | rec[10]!) >>> 0);
    for (const f of frags) {
      if (this.st === St.FAILED) return;
      if (f.msgType === HS.CLIENT_HELLO && f.offset === 0) {
        // The core answers hellos without a cookie itself; this session serves one client random.
        const hs = helloStart(f.data);
        if (hs && hs.cookie.length === 0) {
          this.io.drop("dtls.hello-without-cookie");
          continue;
        }
        if (!hs || (this.clientRandom && !Buffer.from(this.clientRandom).equals(Buffer.from(hs.random)))) {
          this.io.drop("dtls.hello-other-client");
          continue;
        }
      }
      if (this.seen.has(f.messageSeq)) {
        // A retransmitted message: the client's hello again means flight 4 was lost. Everything else
        // was taken already (a second ClientKeyExchange must not be processed anew).
        if (f.msgType === HS.CLIENT_HELLO && f.offset === 0 && this.st === St.FLIGHT5 && this.replayOk(now))
          for (const r of this.flight4) this.io.send(r);
        continue;
      }
      const r = this.reasm.add(f);
      if (r === "partial") continue;
      if (typeof r === "string") {
        this.io.drop("dtls.fragment-" + r);
        continue;
      }
      if (this.st === St.HELLO) {
        if (r.msgType !== HS.CLIENT_HELLO) {
          this.io.drop("dtls.handshake-out-of-order");
          continue;
        }
        this.hello(r.body, r.messageSeq, recordSeq);
        continue;
      }
      if (this.verified) {
        // After CertificateVerify the client's only message is its Finished (epoch 1): a plaintext one
        // held ahead would keep the Finished waiting for good (one spoofed datagram would stall it).
        this.io.drop("dtls.handshake-out-of-order");
        continue;
      }
      if (r.messageSeq !== this.next) {
        // Ahead of a message still missing (lost, or overtaken): wait for it, a few at most.
        if (
          r.messageSeq > this.next &&
          r.messageSeq - this.next <= MAX_AHEAD_SEQ &&
          (this.ahead.size < MAX_AHEAD || this.ahead.has(r.messageSeq))
        )
          this.ahead.set(r.messageSeq, { type: r.msgType, body: Uint8Array.from(r.body) });
        else this.io.drop("dtls.handshake-out-of-order");
        continue;
      }
      this.clientMessage(r.msgType, r.body);
      for (let m; (m = this.ahead.get(this.next)) && this.st === St.FLIGHT5; ) {
        this.ahead.delete(this.next);
        this.clientMessage(m.type, m.body);
      }
      if (!this.ahead.size && this.early && this.keys && this.verified && this.st === St.FLIGHT5) {
        const e = this.early;
        this.early = undefined;
        this.finished(e);
      }
    }
  }

  private failWith(reason: string, alert: number) {
    if (this.st === St.FAILED || this.st === St.DONE) return;
    this.st = St.FAILED;
    // A fatal alert in the clear (no keys are shared yet): the browser gives up at once, not on a timeout.
    this.io.send(plainRecord(CT.ALERT, this.seq0++, Uint8Array.of(2, alert)));
    this.io.fail(`handshake-failed: ${reason}`);
  }

  /** The ClientHello (with the cookie the core checked): choose, and send flight 4. */
  private hello(body: Uint8Array, messageSeq: number, recordSeq: number) {
    const r = new Reader(body);
    const version = r.u16();
    const random = r.bytes(32);
    r.bytes(r.u8()); // session_id
    // The core created this session for a hello with a valid cookie; a first hello of the same client
    // (no cookie: a late fragment, a copy) is not the one to answer.
    if (r.bytes(r.u8()).length === 0) return this.io.drop("dtls.hello-without-cookie");
    this.seen.add(messageSeq);
    this.clientRandom = Uint8Array.from(random);
    const suites = r.bytes(r.u16());
    const compression = r.bytes(r.u8());
    let suiteOk = false,
      scsv = false;
    for (let i = 0; i + 1 < suites.length; i += 2) {
      const s = (suites[i]! << 8) | suites[i + 1]!;
      if (s === SUITE) suiteOk = true;
      else if (s === 0x00ff) scsv = true;
    }
    let groups: number[] = [],
      sigOk = false,
      reneg = scsv;
    if (r.left) {
      const ext = new Reader(r.bytes(r.u16()));
      while (ext.left) {
        const t = ext.u16(),
          d = new Reader(ext.bytes(ext.u16()));
        if (t === EXT_SUPPORTED_GROUPS) {
          const g = new Reader(d.bytes(d.u16()));
          while (g.left >= 2) groups.push(g.u16());
        } else if (t === EXT_SIGNATURE_ALGORITHMS) {
          const g = new Reader(d.bytes(d.u16()));
          while (g.left >= 2) if (g.u16() === ECDSA_SHA256) sigOk = true;
        } else if (t === EXT_EMS) this.ems = true;
        else if (t === EXT_RENEGOTIATION_INFO) reneg = true;
      }
    }
    // DTLS versions count down: 0xfefd is 1.2, 0xfeff 1.0; a client that offers 1.2 or later says ≤ 0xfefd.
    if (version > DTLS_1_2) return this.failWith("DTLS 1.2 not offered", 70 /* protocol_version */);
    if (!suiteOk) return this.failWith("no common cipher suite", ALERT.HANDSHAKE_FAILURE);
    if (!compression.includes(0)) return this.failWith("no null compression", ALERT.ILLEGAL_PARAMETER);
    if (!sigOk) return this.failWith("ecdsa_secp256r1_sha256 not offered", ALERT.HANDSHAKE_FAILURE);
    if (groups.includes(X25519)) this.curve = X25519;
    else if (groups.includes(P256)) this.curve = P256;
    else return this.failWith("no common curve", ALERT.HANDSHAKE_FAILURE);

    if (this.curve === X25519) {
      const k = generateKeyPairSync("x25519");
      this.x25519Key = k.privateKey;
      this.ourPublic = k.publicKey.export({ type: "spki", format: "der" }).subarray(X25519_SPKI.length);
    } else {
      this.p256 = createECDH("prime256v1");
      this.ourPublic = this.p256.generateKeys();
    }
    this.transcript.push(message(HS.CLIENT_HELLO, messageSeq, body));
    this.seq0 = recordSeq + 1;
    let seq = 0; // the server's message_seq: the core's HelloVerifyRequest was 0, ServerHello is 1

    // ServerHello: version, random, empty session_id, suite, null compression, extensions
    const ext: number[] = [];
    if (reneg) ext.push(0xff, 0x01, 0, 1, 0);
    if (this.ems) ext.push(0, EXT_EMS, 0, 0);
    const sh = Buffer.alloc(2 + 32 + 1 + 2 + 1 + 2 + ext.length);
    sh.writeUInt16BE(DTLS_1_2, 0);
    this.serverRandom.copy(sh, 2);
    sh.writeUInt16BE(SUITE, 35);
    sh.writeUInt16BE(ext.length, 38);
    sh.set(ext, 40);
    // Certificate: certificate_list<3> of one ASN.1Cert<3>
    const cert = this.io.certDer;
    const cm = Buffer.allocUnsafe(6 + cert.length);
    cm.writeUIntBE(cert.length + 3, 0, 3);
    cm.writeUIntBE(cert.length, 3, 3);
    cm.set(cert, 6);
    // ServerKeyExchange: ECParameters (named_curve), public point, signature over both randoms and them
    const pub = this.ourPublic;
    const params = Buffer.allocUnsafe(4 + pub.length);
    params[0] = 3; // named_curve
    params.writeUInt16BE(this.curve, 1);
    params[3] = pub.length;
    params.set(pub, 4);
    const sig = this.io.sign(Buffer.concat([this.clientRandom, this.serverRandom, params]), "sha256");
    const ske = Buffer.allocUnsafe(params.length + 4 + sig.length);
    params.copy(ske, 0);
    ske.writeUInt16BE(ECDSA_SHA256, params.length);
    ske.writeUInt16BE(sig.length, params.length + 2);
    ske.set(sig, params.length + 4);
    // CertificateRequest: rsa_sign, ecdsa_sign; sha256 with either; no authorities
    const cr = Buffer.from([2, 1, 64, 0, 4, 4, 1, 4, 3, 0, 0]);
    const msgs: [number, Uint8Array][] = [
      [M.SERVER_HELLO, sh],
      [M.CERTIFICATE, cm],
      [M.SERVER_KEY_EXCHANGE, ske],
      [M.CERTIFICATE_REQUEST, cr],
      [M.SERVER_HELLO_DONE, new Uint8Array(0)],
    ];
    for (const [t, b] of msgs) {
      seq++;
      this.transcript.push(message(t, seq, b));
      const rec = handshakeRecord(this.seq0++, DTLS_1_2, t, seq, b);
      this.flight4.push(rec);
      this.io.send(rec);
    }
    this.serverSeq = seq + 1;
    this.next = messageSeq + 1;
    this.st = St.FLIGHT5;
  }
  private serverSeq = 0;

  /** One of the client's flight 5 messages before its Finished, in order. */
  private clientMessage(type: number, body: Uint8Array) {
    this.seen.add(this.next);
    const seq = this.next++;
    const r = new Reader(body);
    switch (type) {
      case M.CERTIFICATE: {
        if (this.clientCert) return this.failWith("second Certificate", ALERT.UNEXPECTED_MESSAGE);
        const list = new Reader(r.bytes(r.u24()));
        if (!list.left) return this.failWith("no peer certificate", ALERT.BAD_CERTIFICATE);
        this.clientCert = Buffer.from(list.bytes(list.u24()));
        break;
      }
      case M_CLIENT_KEY_EXCHANGE: {
        if (this.master) return this.failWith("second ClientKeyExchange", ALERT.UNEXPECTED_MESSAGE);
        const pub = r.bytes(r.u8());
        let pms: Buffer;
        if (this.curve === X25519) {
          if (pub.length !== 32) return this.failWith("bad X25519 key share", ALERT.ILLEGAL_PARAMETER);
          try {
            const peer = createPublicKey({ key: Buffer.concat([X25519_SPKI, pub]), format: "der", type: "spki" });
            pms = diffieHellman({ privateKey: this.x25519Key!, publicKey: peer });
          } catch {
            return this.failWith("X25519 key share refused (small order?)", ALERT.ILLEGAL_PARAMETER);
          }
        } else {
          if (pub.length !== 65 || pub[0] !== 4) return this.failWith("bad P-256 key share", ALERT.ILLEGAL_PARAMETER);
          try {
            pms = this.p256!.computeSecret(pub);
          } catch {
            return this.failWith("P-256 key share not on the curve", ALERT.ILLEGAL_PARAMETER);
          }
        }
        this.x25519Key = undefined;
        this.p256 = undefined;
        this.transcript.push(message(type, seq, body));
        this.master = this.ems
          ? prf(pms, LABEL.ems, createHash("sha256").update(Buffer.concat(this.transcript)).digest(), 48)
          : prf(pms, LABEL.master, Buffer.concat([this.clientRandom!, this.serverRandom]), 48);
        const block = prf(this.master, LABEL.keys, Buffer.concat([this.serverRandom, this.clientRandom!]), 40);
        this.keys = keysFromBlock("aes-128-gcm", block, 16, true);
        return;
      }
      case M_CERTIFICATE_VERIFY: {
        if (!this.clientCert || !this.master || this.verified)
          return this.failWith("unexpected CertificateVerify", ALERT.UNEXPECTED_MESSAGE);
        const scheme = r.u16();
        const sig = r.bytes(r.u16());
        if (r.left) return this.failWith("CertificateVerify: bytes after the signature", ALERT.DECODE_ERROR);
        if (scheme !== ECDSA_SHA256 && scheme !== RSA_SHA256)
          return this.failWith("unsupported CertificateVerify hash", ALERT.ILLEGAL_PARAMETER);
        let ok = false;
        try {
          const key = certKey(this.clientCert);
          // The scheme names the key's algorithm too (RFC 5246 §7.4.8): an ECDSA signature labelled RSA is refused.
          if (key.asymmetricKeyType !== (scheme === ECDSA_SHA256 ? "ec" : "rsa"))
            return this.failWith("CertificateVerify scheme does not match the certificate's key", ALERT.ILLEGAL_PARAMETER);
          ok = verify("sha256", Buffer.concat(this.transcript), key, sig);
        } catch {
          return this.failWith("CertificateVerify: unreadable certificate", ALERT.BAD_CERTIFICATE);
        }
        if (!ok) return this.failWith("bad CertificateVerify signature", ALERT.DECRYPT_ERROR);
        this.verified = true;
        // Nothing but the Finished (epoch 1) may follow: messages held ahead are not the client's.
        this.ahead.clear();
        break;
      }
      default:
        return this.failWith(`unexpected handshake message ${type}`, ALERT.UNEXPECTED_MESSAGE);
    }
    this.transcript.push(message(type, seq, body));
  }

  /** The client's Finished (epoch 1): check it, send ChangeCipherSpec + our Finished, done. */
  private finished(rec: Uint8Array) {
    const keys = this.keys!;
    const plain = openRecord(keys, rec);
    if (!plain) return this.io.drop("dtls.finished-not-authentic");
    if (plain.length !== HANDSHAKE_HEADER + 12 || plain[0] !== M_FINISHED || plain.readUInt16BE(4) !== this.next)
      return this.failWith("bad Finished", ALERT.DECODE_ERROR);
    const expect = prf(this.master!, LABEL.client, createHash("sha256").update(Buffer.concat(this.transcript)).digest(), 12);
    if (!timingSafeEqual(expect, plain.subarray(HANDSHAKE_HEADER))) return this.failWith("bad Finished verify_data", ALERT.DECRYPT_ERROR);
    this.transcript.push(message(M_FINISHED, this.next, plain.subarray(HANDSHAKE_HEADER)));
    const ours = prf(this.master!, LABEL.server, createHash("sha256").update(Buffer.concat(this.transcript)).digest(), 12);
    const ccs = plainRecord(CT.CHANGE_CIPHER_SPEC, this.seq0++, Uint8Array.of(1));
    const fin = sealRecord(keys, CT.HANDSHAKE, DTLS_1_2, 1, this.seq1++, message(M_FINISHED, this.serverSeq, ours));
    this.flight6 = [ccs, fin];
    this.io.send(ccs);
    this.io.send(fin);
    this.st = St.DONE;
    // Nothing of the handshake is needed again but flight 6 and the keys.
    const cert = this.clientCert!;
    this.transcript = [];
    this.flight4 = [];
    this.ahead.clear();
    this.reasm.clear();
    this.master = undefined;
    this.io.done(keys, cert);
  }

  /** Post-handshake: whether a whole record authenticates under the client's keys. */
  authentic(rec: Uint8Array): boolean {
    return !!this.keys && this.st === St.DONE && !!openRecord(this.keys, rec);
  }
}
