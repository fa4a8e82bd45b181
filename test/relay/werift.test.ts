// Tests for relay/werift.ts: certificates, and a server + client session joined by an
// in-memory datagram pipe (delivery on setTimeout(0), like a socket: never re-entrant).
import { findClientHello, helloVerifyRequest } from "../../relay/dtls-records.ts";
import { certs, cookies, openPair, pair, until, type Side } from "../helpers/pipe.ts";
import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { FP_RE } from "../../protocol/addr.ts";
import {
  certificateFromPem,
  certificateToPem,
  createClientSession,
  createServerSession,
  fingerprintOf,
  generateCertificate,
  P256_OID_DER,
  type Certificate,
  type ChannelSession,
  _internal,
} from "../../relay/werift.ts";

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

describe("certificates", () => {
  test("generate → PEM → load keeps the fingerprint; ECDSA P-256 in the DER", async () => {
    const c = await generateCertificate({ days: 365 });
    expect(c.fingerprint).toMatch(FP_RE);
    expect(c.fingerprint).toBe(fingerprintOf(c.certDer));
    // id-ecPublicKey 1.2.840.10045.2.1, prime256v1 1.2.840.10045.3.1.7, ecdsa-with-SHA256 1.2.840.10045.4.3.2
    expect(indexOf(c.certDer, Uint8Array.from([0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]))).toBeGreaterThan(0);
    expect(indexOf(c.certDer, P256_OID_DER)).toBeGreaterThan(0);
    expect(indexOf(c.certDer, Uint8Array.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]))).toBeGreaterThan(0);
    const { cert, key } = certificateToPem(c);
    expect(cert.startsWith("-----BEGIN CERTIFICATE-----\n")).toBe(true);
    expect(key.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    const back = certificateFromPem(cert, key);
    expect(back.fingerprint).toBe(c.fingerprint);
    expect(Buffer.from(back.certDer).equals(Buffer.from(c.certDer))).toBe(true);
    expect(Buffer.from(back.keyPkcs8).equals(Buffer.from(c.keyPkcs8))).toBe(true);
    // An independent parser agrees: self-signed, valid for the asked lifetime.
    const x = new X509Certificate(c.certDer);
    expect(x.verify(x.publicKey)).toBe(true);
    const days = (Date.parse(x.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThan(366);
  });

  test("default lifetime is ~10 years; certificateFromPem rejects a key of another cert", async () => {
    const a = await generateCertificate();
    const b = await generateCertificate();
    const years = (Date.parse(new X509Certificate(a.certDer).validTo) - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(() => certificateFromPem(certificateToPem(a).cert, certificateToPem(b).key)).toThrow(TypeError);
    expect(() => certificateFromPem("nope", certificateToPem(b).key)).toThrow(TypeError);
  });
});

describe("sessions over an in-memory pipe", () => {
  test("open, exchange binary both ways (16 KiB included), fingerprints, ECDHE-ECDSA-AES128-GCM without use_srtp", async () => {
    const { s, c } = await openPair();
    const { serverCert, clientCert } = await certs();
    expect(s.session.remoteFingerprint).toBe(clientCert.fingerprint);
    expect(c.session.remoteFingerprint).toBe(serverCert.fingerprint);

    // ServerHello on the wire (RFC 6347 §4.2 / RFC 5246 §7.4.1.3): find cipher_suite and extensions.
    const hello = s.sent.map((d) => d).find((d) => d[0] === 22 && d[13] === 2);
    expect(hello).toBeDefined();
    const body = hello!.subarray(13 + 12); // record header + handshake header
    const sidLen = body[34]!;
    const suite = (body[35 + sidLen]! << 8) | body[36 + sidLen]!;
    expect(suite).toBe(0xc02b); // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    const extTypes: number[] = [];
    for (let o = 38 + sidLen + 2; o + 4 <= body.length - 0; ) {
      const t = (body[o]! << 8) | body[o + 1]!;
      const l = (body[o + 2]! << 8) | body[o + 3]!;
      extTypes.push(t);
      o += 4 + l;
      if (o >= 38 + sidLen + 2 + ((body[38 + sidLen]! << 8) | body[39 + sidLen]!)) break;
    }
    expect(extTypes).not.toContain(14); // use_srtp
    expect(extTypes).toContain(23); // extended_master_secret

    const big = new Uint8Array(16 * 1024).map((_, i) => (i * 7) & 0xff);
    expect(c.session.send(Uint8Array.of(1, 2, 3))).toBe(true);
    expect(c.session.send(big)).toBe(true);
    expect(s.session.send(Uint8Array.of(9))).toBe(true);
    expect(s.session.send(big)).toBe(true);
    expect(s.session.send(new Uint8Array(0))).toBe(true);
    await until(() => s.messages.length === 2 && c.messages.length === 3, 3000, "messages");
    expect([...s.messages[0]!]).toEqual([1, 2, 3]);
    expect(Buffer.from(s.messages[1]!).equals(Buffer.from(big))).toBe(true);
    expect([...c.messages[0]!]).toEqual([9]);
    expect(Buffer.from(c.messages[1]!).equals(Buffer.from(big))).toBe(true);
    expect(c.messages[2]!.length).toBe(0);
    await until(() => s.session.bufferedAmount === 0 && c.session.bufferedAmount === 0, 3000, "buffers drained");
    expect(() => s.session.send(new Uint8Array(65537))).toThrow(RangeError);

    c.session.close();
    s.session.close();
  });

  for (const closer of ["client", "server"] as const) {
    test(`${closer} close() reaches the other side (its goodbye), onClose exactly once each`, async () => {
      const p = await openPair();
      const [me, other] = closer === "client" ? [p.c, p.s] : [p.s, p.c];
      me.session.close();
      expect(me.closes).toEqual(["closed-locally"]);
      // The close itself reaches it (SCTP ABORT / close_notify), not a timeout: none is this short.
      await until(() => other.closes.length > 0, 10000, "remote onClose");
      expect(["sctp-closed", "dtls-closed"]).toContain(other.closes[0]!);
      expect(me.session.send(Uint8Array.of(1))).toBe(false);
      expect(other.session.send(Uint8Array.of(1))).toBe(false);
      me.session.close();
      other.session.close();
      me.session.receive(new Uint8Array(40));
      await Bun.sleep(50);
      expect(me.closes.length).toBe(1);
      expect(other.closes.length).toBe(1);
    });
  }

  /** An SCTP packet of the client's association holding one RE-CONFIG chunk whose Outgoing SSN Reset
   *  Request (RFC 6525 §4.1) resets `streams` (what a browser sends for dc.close()). */
  const resetPacket = async (c: ChannelSession, streams: number[]) => {
    const { crc32cPacket } = await import("../../relay/crc32c.ts");
    const ca = _internal.association(c) as unknown as { remoteVerificationTag: number; localTsn: number };
    const plen = 16 + 2 * streams.length;
    const clen = 4 + plen + ((4 - (plen % 4)) % 4);
    const b = Buffer.alloc(12 + clen);
    b.writeUInt16BE(5000, 0), b.writeUInt16BE(5000, 2), b.writeUInt32BE(ca.remoteVerificationTag, 4);
    b[12] = 130;
    b.writeUInt16BE(4 + plen, 14);
    b.writeUInt16BE(13, 16), b.writeUInt16BE(plen, 18);
    b.writeUInt32BE(7, 20), b.writeUInt32BE(0, 24), b.writeUInt32BE((ca.localTsn - 1) >>> 0, 28);
    streams.forEach((id, i) => b.writeUInt16BE(id, 32 + 2 * i));
    b.writeUInt32LE(crc32cPacket(b), 8);
    return b;
  };

  test("the client resets channel 0's stream (closes its channel): the server ends the session shortly after (channel-closed), and says so", async () => {
    const p = await openPair();
    _internal.sendRawSctp(p.c.session, await resetPacket(p.c.session, [3])); // another stream: nothing happens
    await Bun.sleep(400);
    expect(p.s.closes).toEqual([]);
    _internal.sendRawSctp(p.c.session, await resetPacket(p.c.session, [0]));
    await until(() => p.s.closes.length > 0, 3000, "the server's close");
    expect(p.s.closes).toEqual(["channel-closed"]);
    await until(() => p.c.closes.length > 0, 3000, "the client hears it");
    expect(["sctp-closed", "dtls-closed"]).toContain(p.c.closes[0]!);
  });

  test("a stream reset followed by the peer's own ABORT (a browser's dc.close(), pc.close()): the server sends nothing more", async () => {
    const p = await openPair();
    await Bun.sleep(50); // the last SACKs
    const sent = p.s.sent.length;
    _internal.sendRawSctp(p.c.session, await resetPacket(p.c.session, [0]));
    p.c.session.close();
    await until(() => p.s.closes.length > 0, 3000, "the server's close");
    expect(["sctp-closed", "dtls-closed"]).toContain(p.s.closes[0]!);
    await Bun.sleep(400);
    expect(p.s.closes.length).toBe(1);
    expect(p.s.sent.length).toBe(sent); // no answer to the reset, no ABORT or alert back
  });

  test("client with the wrong fingerprint: onClose('fingerprint-mismatch'), never onOpen; server learns", async () => {
    const { serverCert: sc, clientCert: cc } = await certs();
    const other = await generateCertificate();
    const p = pair(sc, cc, other.fingerprint.toLowerCase());
    await until(() => p.c.closes.length > 0, 3000, "client close");
    expect(p.c.closes).toEqual(["fingerprint-mismatch"]);
    await until(() => p.s.closes.length > 0, 1000, "server close");
    await Bun.sleep(100);
    expect(p.c.opened).toBe(0);
    expect(p.c.closes.length).toBe(1);
    expect(p.s.closes.length).toBe(1);
    expect(p.c.session.remoteFingerprint).toBeUndefined();
  });

  /** Whether datagram `d` holds a record of this content type and epoch (RFC 6347 §4.1). */
  const hasRecord = (d: Uint8Array, type: number, epoch: number) => {
    for (let o = 0; o + 13 <= d.length; o += 13 + ((d[o + 11]! << 8) | d[o + 12]!))
      if (d[o] === type && ((d[o + 3]! << 8) | d[o + 4]!) === epoch) return true;
    return false;
  };
  test("server Finished lost: the client's retransmitted flight 5 gets flight 6 again, channel opens", async () => {
    const { serverCert: sc, clientCert: cc } = await certs();
    let dropped = 0;
    const p = pair(sc, cc, sc.fingerprint, {
      // a datagram holding an epoch-1 handshake record from the server = its Finished (RFC 6347 §4.2.4
      // retransmission); it shares the datagram with the ChangeCipherSpec before it
      drop: (fromServer, d) => fromServer && hasRecord(d, 22, 1) && dropped++ === 0,
    });
    await until(() => p.s.opened === 1 && p.c.opened === 1, 5000, "open after retransmission");
    expect(dropped).toBeGreaterThan(1);
    expect(p.c.session.send(Uint8Array.of(5))).toBe(true);
    await until(() => p.s.messages.length === 1, 3000, "message");
    p.c.session.close();
    await until(() => p.s.closes.length === 1, 1000, "server close");
  });

  test("a flight leaves as one datagram: flight 4 (five messages) and flight 6 (ChangeCipherSpec + Finished) each in one", async () => {
    const p = await openPair();
    const recs = (d: Uint8Array) => {
      const out: string[] = [];
      for (let o = 0; o + 13 <= d.length; o += 13 + ((d[o + 11]! << 8) | d[o + 12]!))
        out.push(d[o] === 22 && d[o + 4] === 0 ? `hs${d[o + 13]}` : `${d[o]}/${d[o + 4]}`);
      return out;
    };
    const flight4 = p.s.sent.map(recs).filter((r) => r.includes("hs2"));
    expect(flight4).toEqual([["hs2", "hs11", "hs12", "hs13", "hs14"]]);
    const flight6 = p.s.sent.map(recs).filter((r) => r.includes("20/0"));
    expect(flight6).toEqual([["20/0", "22/1"]]);
    // Records are packed up to 1200 bytes; only a datagram of a single record may be longer.
    for (const side of [p.s, p.c]) for (const d of side.sent) if (recs(d).length > 1) expect(d.length).toBeLessThanOrEqual(1200);
    p.c.session.close();
  });

  test("the relay's side sends no SCTP HEARTBEATs (ICE consent checks tell it its peers live); the client's are answered", async () => {
    const p = await openPair();
    type Assoc = { setHeartbeatInterval(s: number): void; timerHeartbeatHandle?: unknown };
    const sa = _internal.association(p.s.session) as unknown as Assoc,
      ca = _internal.association(p.c.session) as unknown as Assoc;
    sa.setHeartbeatInterval(0.01), ca.setHeartbeatInterval(0.01);
    expect(ca.timerHeartbeatHandle).toBeDefined();
    expect(sa.timerHeartbeatHandle).toBeUndefined();
    // The client's heartbeats (every RTO + 10 ms) keep being acknowledged: the channel stays up.
    const sent = p.s.sent.length;
    await until(() => p.s.sent.length >= sent + 2, 5000, "HEARTBEAT-ACKs");
    expect(p.c.closes).toEqual([]);
    p.c.session.close();
  });

  test("a HEARTBEAT is answered by the adapter only when alone, for this association and with a good checksum", async () => {
    const { crc32cPacket } = await import("../../relay/crc32c.ts");
    const p = await openPair();
    const ca = _internal.association(p.c.session) as unknown as { localVerificationTag: number; remoteVerificationTag: number };
    const hb = (tag: number, corrupt = false) => {
      const b = Buffer.alloc(12 + 12);
      b.writeUInt16BE(5000, 0), b.writeUInt16BE(5000, 2), b.writeUInt32BE(tag, 4);
      b[12] = 4; // HEARTBEAT
      b.writeUInt16BE(12, 14);
      b.writeUInt16BE(1, 16), b.writeUInt16BE(8, 18), b.writeUInt32BE(0xdecafbad, 20); // Heartbeat Info
      b.writeUInt32LE((crc32cPacket(b) ^ (corrupt ? 1 : 0)) >>> 0, 8); // ^ gives a signed int32: back to unsigned
      return b;
    };
    const answers = async (pkt: Uint8Array) => {
      const n = p.s.sent.length;
      _internal.sendRawSctp(p.c.session, pkt);
      await Bun.sleep(30);
      return p.s.sent.length - n;
    };
    expect(await answers(hb(ca.remoteVerificationTag))).toBe(1);
    expect(await answers(hb(ca.remoteVerificationTag, true))).toBe(0); // bad checksum
    expect(await answers(hb((ca.remoteVerificationTag ^ 1) >>> 0))).toBe(0); // another association's tag
    const ack = p.s.sent[p.s.sent.length - 1]!;
    expect(ack[0]).toBe(23); // one application-data record: 13 header + 8 nonce + 24 SCTP + 16 tag
    expect(ack.length).toBe(13 + 8 + 24 + 16);
    expect(p.c.closes).toEqual([]);
    expect(p.s.closes).toEqual([]);
    p.c.session.close();
  });

  test("a bad fingerprint string is a TypeError", async () => {
    const { clientCert: cc } = await certs();
    const h = { transmit() {}, onOpen() {}, onMessage() {}, onClose() {} };
    expect(() => createClientSession(cc, "AB:CD", h)).toThrow(TypeError);
  });

  test("2000 garbage datagrams: a fresh server and an open session never throw; the open one keeps working", async () => {
    const { serverCert: sc } = await certs();
    const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
    // Half pure noise, half records that look like DTLS 1.2 (type 20..23, fe fd, epoch 0/1, right length).
    const garbage = (i: number): Uint8Array => {
      if (i % 2 === 0) return rnd(i % 300);
      const frag = rnd((i * 13) % 200);
      const r = new Uint8Array(13 + frag.length);
      r[0] = 20 + (i % 4);
      r[1] = 0xfe;
      r[2] = 0xfd;
      r[4] = (i >> 2) & 1;
      r.set(rnd(6), 5);
      r[11] = frag.length >> 8;
      r[12] = frag.length & 0xff;
      r.set(frag, 13);
      return r;
    };
    const closes: string[] = [];
    const fresh = createServerSession(sc, { transmit() {}, onOpen() {}, onMessage() {}, onClose: (r) => void closes.push(r) });
    const p = await openPair();
    for (let i = 0; i < 2000; i++) {
      const g = garbage(i);
      expect(() => fresh.receive(g)).not.toThrow();
      expect(() => p.s.session.receive(g)).not.toThrow();
      expect(() => p.c.session.receive(g)).not.toThrow();
    }
    // Replayed plaintext handshake (a spoofer's ClientHello) must not reset the open session.
    for (const d of p.c.sent.slice(0, 3)) p.s.session.receive(d);
    await Bun.sleep(50);
    expect(p.s.closes).toEqual([]);
    expect(p.c.closes).toEqual([]);
    expect(p.c.session.send(Uint8Array.of(42))).toBe(true);
    expect(p.s.session.send(Uint8Array.of(43))).toBe(true);
    await until(() => p.s.messages.length === 1 && p.c.messages.length === 1, 3000, "messages after garbage");
    expect([...p.s.messages[0]!]).toEqual([42]);
    expect([...p.c.messages[0]!]).toEqual([43]);
    expect(closes.length).toBeLessThanOrEqual(1);
    fresh.close();
    fresh.close();
    expect(closes.length).toBe(1);
    p.c.session.close();
    await until(() => p.s.closes.length === 1, 1000, "server close");
  });

  test("handlers that throw do not break the session", async () => {
    const { serverCert: sc, clientCert: cc } = await certs();
    let c!: ChannelSession;
    let got = 0;
    const s = createServerSession(sc, {
      transmit: (d) => void setTimeout(() => c.receive(d.slice()), 0),
      onOpen: () => {
        throw new Error("boom");
      },
      onMessage: () => {
        got++;
        throw new Error("boom");
      },
      onClose: () => {
        throw new Error("boom");
      },
    });
    let opened = false;
    c = createClientSession(cc, sc.fingerprint, {
      transmit: (d) =>
        void setTimeout(() => {
          const ch = findClientHello(d);
          if (ch && !cookies.check("x", ch.hello.cookie, Date.now()))
            c.receive(helloVerifyRequest(ch.record.seq, cookies.make("x", Date.now())));
          else s.receive(d.slice());
        }, 0),
      onOpen: () => void (opened = true),
      onMessage() {},
      onClose() {},
    });
    await until(() => opened, 3000, "open");
    c.send(Uint8Array.of(1));
    c.send(Uint8Array.of(2));
    await until(() => got === 2, 3000, "two messages");
    expect(() => s.close()).not.toThrow();
    c.close();
  });
});

// RFC 7748 §6.1 (Diffie-Hellman on Curve25519): the native X25519 that replaces werift's pure-JS one.
describe("X25519 through node:crypto (replacing tweetnacl inside werift)", () => {
  const h = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const aPriv = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const aPub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
  const bPriv = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const bPub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
  const K = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  const nine = new Uint8Array(32);
  nine[0] = 9;
  test("RFC 7748 §6.1 vectors, and werift's tweetnacl now calls it", async () => {
    const { x25519, x25519KeyPair } = await import("../../relay/werift.ts");
    const nacl = (await import("tweetnacl")).default;
    expect(hex(x25519(aPriv, nine))).toBe(aPub);
    expect(hex(x25519(bPriv, nine))).toBe(bPub);
    expect(hex(x25519(aPriv, h(bPub)))).toBe(K);
    expect(hex(x25519(bPriv, h(aPub)))).toBe(K);
    expect(nacl.scalarMult as unknown).toBe(x25519);
    expect(nacl.box.keyPair as unknown).toBe(x25519KeyPair);
    const kp = x25519KeyPair();
    expect(hex(x25519(kp.secretKey, nine))).toBe(hex(kp.publicKey));
    // A pair's own key object (as werift passes the secret: a Buffer over the same memory) and the
    // secret's bytes parsed anew agree; so does the other side. A secret changed in place is not
    // mistaken for its pair's key object.
    const kq = x25519KeyPair();
    const viaObject = hex(x25519(Buffer.from(kp.secretKey.buffer), kq.publicKey));
    expect(viaObject).toBe(hex(x25519(kp.secretKey.slice(), kq.publicKey)));
    expect(viaObject).toBe(hex(x25519(kq.secretKey, kp.publicKey)));
    kp.secretKey.set(aPriv);
    expect(hex(x25519(kp.secretKey, nine))).toBe(aPub);
  });
});

// RFC 6347 §4.1.2.6: a record whose (epoch, sequence number) was already received is a replay and is
// dropped. werift numbers its Finished (epoch 1) with the epoch-0 counter and then restarts at 1; the
// adapter must keep application records clear of it, or one early frame per session is lost.
describe("DTLS record numbering", () => {
  const records = (datagrams: Uint8Array[]) => {
    const out: { epoch: number; seq: number }[] = [];
    for (const d of datagrams)
      for (let o = 0; o + 13 <= d.length; ) {
        const epoch = (d[o + 3] << 8) | d[o + 4];
        let seq = 0;
        for (let i = 5; i < 11; i++) seq = seq * 256 + d[o + i];
        out.push({ epoch, seq });
        o += 13 + ((d[o + 11] << 8) | d[o + 12]);
      }
    return out;
  };
  test("no epoch-1 sequence number repeats, from either side, across 40 messages", async () => {
    const p = await openPair();
    for (let i = 0; i < 20; i++) p.s.session.send(Uint8Array.of(i)), p.c.session.send(Uint8Array.of(i));
    await until(() => p.s.messages.length === 20 && p.c.messages.length === 20, 3000, "all delivered");
    for (const side of [p.s, p.c]) {
      const seqs = records(side.sent)
        .filter((r) => r.epoch === 1)
        .map((r) => r.seq);
      expect(seqs.length).toBeGreaterThan(20);
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    p.s.session.close();
  });
});
