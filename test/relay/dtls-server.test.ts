// relay/dtls-server.ts, the relay's own DTLS 1.2 server handshake: the TLS 1.2 PRF against a known
// vector, the certificate's public key against node:crypto's X.509 parser, and whole handshakes with
// an independent client (werift's DtlsClient, over the in-memory pipe) for each curve and with and
// without the extended master secret; then what a hostile or broken client gets: a fatal alert and
// 'handshake-failed: …', never a session. (Real browsers: test/net/layer1.test.ts, test/browser/.)
import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { MAX_FRAGMENT_RANGES, Reassembler } from "../../relay/dtls-records.ts";
import { prf, spkiOf } from "../../relay/dtls-server.ts";
import { _internal, createServerSession } from "../../relay/werift.ts";
import { certs, countingServer, openPair, pair, until } from "../helpers/pipe.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ""), "hex");

/** The records of a datagram: [type, epoch, whole record]. */
function records(d: Uint8Array): [number, number, Uint8Array][] {
  const out: [number, number, Uint8Array][] = [];
  for (let o = 0; o + 13 <= d.length; ) {
    const len = (d[o + 11]! << 8) | d[o + 12]!;
    out.push([d[o]!, (d[o + 3]! << 8) | d[o + 4]!, d.subarray(o, o + 13 + len)]);
    o += 13 + len;
  }
  return out;
}

describe("pieces", () => {
  test("TLS 1.2 PRF (P_SHA256): the published 100-byte vector", () => {
    // From the TLS working group's PRF test vectors (SHA-256): secret, seed, label "test label".
    const out = prf(hex("9bbe436ba940f017b17652849a71db35"), Buffer.from("test label"), hex("a0ba9f936cda311827a6f796ffd5198c"), 100);
    expect(out.toString("hex")).toBe(
      "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66",
    );
  });

  test("the public key found in a certificate's DER is the one X509Certificate reads; garbage throws", async () => {
    const { serverCert, clientCert } = await certs();
    for (const c of [serverCert, clientCert]) {
      const want = new X509Certificate(c.certDer).publicKey.export({ type: "spki", format: "der" });
      expect(Buffer.from(spkiOf(c.certDer)).equals(want)).toBe(true);
    }
    expect(() => spkiOf(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toThrow(RangeError);
    expect(() => spkiOf(serverCert.certDer.subarray(0, 100))).toThrow(RangeError);
    expect(() => spkiOf(new Uint8Array(0))).toThrow(RangeError);
  });
});

describe("handshakes with werift's client", () => {
  const offers: [string, { curves?: number[]; ems?: boolean }][] = [
    ["X25519, extended master secret", {}],
    ["P-256 only (no X25519 offered)", { curves: [23] }],
    ["no extended master secret (RFC 5246 master secret)", { ems: false }],
  ];
  for (const [name, o] of offers) {
    test(`${name}: both sides open, messages both ways, fingerprints`, async () => {
      const restore = _internal.clientOffers(o);
      try {
        const { s, c } = await openPair();
        const { serverCert, clientCert } = await certs();
        expect(s.session.remoteFingerprint).toBe(clientCert.fingerprint);
        expect(c.session.remoteFingerprint).toBe(serverCert.fingerprint);
        // flight 4 said which curve: ServerKeyExchange's named_curve
        const ske = s.sent.flatMap(records).find(([t, e, r]) => t === 22 && e === 0 && r[13] === 12)![2];
        expect((ske[13 + 12 + 1]! << 8) | ske[13 + 12 + 2]!).toBe("curves" in o ? 23 : 29);
        s.session.send(Uint8Array.of(1, 2, 3));
        c.session.send(Uint8Array.of(4));
        await until(() => c.messages.length === 1 && s.messages.length === 1, 5000, "messages");
        expect([...c.messages[0]!]).toEqual([1, 2, 3]);
        expect([...s.messages[0]!]).toEqual([4]);
        c.session.close();
      } finally {
        restore();
      }
    });
  }

  test("epoch-1 records from the server: the Finished is 0, application data counts on from 1", async () => {
    const { s, c } = await openPair();
    for (let i = 0; i < 5; i++) s.session.send(Uint8Array.of(i));
    await until(() => c.messages.length === 5, 5000, "messages");
    const seqs = s.sent
      .flatMap(records)
      .filter(([, e]) => e === 1)
      .map(([, , r]) => Buffer.from(r.subarray(5, 11)).readUIntBE(0, 6));
    expect(seqs[0]).toBe(0);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    c.session.close();
  });
});

describe("a broken or hostile client gets a fatal alert, never a session", () => {
  /** A handshake whose client datagrams pass through `edit`; resolves with what the server said and did. */
  async function broken(edit: (d: Uint8Array) => Uint8Array | null) {
    const { serverCert, clientCert } = await certs();
    const p = pair(serverCert, clientCert, serverCert.fingerprint, { edit: (fromServer, d) => (fromServer ? d : edit(d)) });
    await until(() => p.s.closes.length > 0, 5000, "the server's close");
    await Bun.sleep(20);
    const alerts = p.s.sent
      .flatMap(records)
      .filter(([t, e]) => t === 21 && e === 0)
      .map(([, , r]) => [r[13], r[14]]);
    p.c.session.close();
    return { closes: p.s.closes, opened: p.s.opened, alerts };
  }
  /** The client's handshake message of this type (the body after its 12-byte header), in a datagram. */
  const body = (d: Uint8Array, type: number) => {
    for (const [t, e, r] of records(d)) if (t === 22 && e === 0 && r[13] === type) return r.subarray(25);
    return undefined;
  };

  test("a ClientHello without the relay's cipher suite: handshake_failure", async () => {
    const r = await broken((d) => {
      const b = body(d, 1);
      if (b && b[34 + 1 + b[34]!]! > 0) {
        // suites follow session_id and cookie; rename every 0xc02b
        let o = 35 + b[34]!;
        o += 1 + b[o]!;
        const n = (b[o]! << 8) | b[o + 1]!;
        for (let i = o + 2; i < o + 2 + n; i += 2) if (b[i] === 0xc0 && b[i + 1] === 0x2b) b[i + 1] = 0x2c;
      }
      return d;
    });
    expect(r.closes).toEqual(["handshake-failed: no common cipher suite"]);
    expect(r.opened).toBe(0);
    expect(r.alerts).toEqual([[2, 40]]);
  });

  test("a CertificateVerify that does not verify: decrypt_error, and the session never opens", async () => {
    const r = await broken((d) => {
      const b = body(d, 15);
      if (b) b[b.length - 1] ^= 1; // the signature's last byte
      return d;
    });
    expect(r.closes[0]).toMatch(/^handshake-failed: (bad CertificateVerify signature|CertificateVerify: unreadable certificate)$/);
    expect(r.opened).toBe(0);
    expect(r.alerts.length).toBe(1);
    expect(r.alerts[0]![0]).toBe(2);
  });

  test("an empty client Certificate: bad_certificate (the relay needs the browser's certificate: peer ids are its fingerprint)", async () => {
    const r = await broken((d) => {
      for (const [t, e, rec] of records(d))
        if (t === 22 && e === 0 && rec[13] === 11) {
          // keep the record, empty its certificate_list: a 3-byte body of zero length
          const out = Buffer.from(rec.subarray(0, 13 + 12 + 3));
          out.writeUInt16BE(12 + 3, 11);
          out.writeUIntBE(3, 14, 3);
          out.writeUIntBE(3, 22, 3);
          out.writeUIntBE(0, 25, 3);
          const rest = Buffer.concat(
            records(d)
              .filter(([, , x]) => x !== rec)
              .map(([, , x]) => x),
          );
          return Buffer.concat([out, rest]);
        }
      return d;
    });
    expect(r.closes).toEqual(["handshake-failed: no peer certificate"]);
    expect(r.alerts).toEqual([[2, 42]]);
  });

  test("a Finished with the wrong verify_data (the client's keys disagree): the server sends no Finished of its own", async () => {
    const { serverCert, clientCert } = await certs();
    let cut = false;
    const p = pair(serverCert, clientCert, serverCert.fingerprint, {
      edit: (fromServer, d) => {
        if (fromServer || cut) return d;
        // the client's Finished is its only epoch-1 handshake record: corrupt its ciphertext
        const rs = records(d);
        const fin = rs.find(([t, e]) => t === 22 && e === 1);
        if (!fin) return d;
        cut = true;
        fin[2][20] ^= 1;
        return d;
      },
    });
    await Bun.sleep(300);
    expect(p.s.opened).toBe(0);
    expect(p.s.sent.flatMap(records).some(([t, e]) => t === 22 && e === 1)).toBe(false);
    p.c.session.close();
    p.s.session.close();
  });

  test("garbage and truncated records before the hello never throw out of receive()", async () => {
    const { serverCert } = await certs();
    const { session: s, drops } = countingServer(serverCert);
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    for (let i = 0; i < 2000; i++) {
      const d = Uint8Array.from({ length: 13 + (i % 200) }, rnd);
      d[0] = 20 + (i % 4);
      d[3] = 0;
      d[4] = i % 3 === 0 ? 1 : 0;
      d[11] = 0;
      d[12] = i % 200;
      if (d[0] === 22) d[13] = [1, 11, 15, 16, 20][i % 5]!;
      expect(() => s.receive(d)).not.toThrow();
    }
    s.close();
  });

  // Found by test/relay/dtls-fuzz.test.ts (fragment-flood): one-byte fragments that leave a gap between
  // each other never join, and every new one re-sorted all of a message's ranges: with four messages of
  // 4,000 pieces a datagram of 100 such fragments cost ~10 ms of CPU (a few hundred µs with the cap).
  test("one-byte fragments that never join: at most MAX_FRAGMENT_RANGES pieces a message, the rest refused; a whole fragment still completes it", () => {
    const r = new Reassembler();
    const results: Record<string, number> = {};
    for (let seq = 0; seq < 4; seq++)
      for (let off = 1; off < 8192; off += 2) {
        const x = r.add({ msgType: 11, length: 8192, messageSeq: seq, offset: off, data: Uint8Array.of(off & 255) });
        const k = typeof x === "string" ? x : "whole";
        results[k] = (results[k] ?? 0) + 1;
      }
    expect(results).toEqual({ partial: 4 * MAX_FRAGMENT_RANGES, "too-fragmented": 4 * (4096 - MAX_FRAGMENT_RANGES) });
    expect(r.size).toBe(4);
    // what was held is kept: fragments covering the message join every piece
    const all = Uint8Array.from({ length: 8192 }, (_, i) => i & 255);
    expect(r.add({ msgType: 11, length: 8192, messageSeq: 2, offset: 0, data: all.subarray(0, 8191) })).toBe("partial");
    const whole = r.add({ msgType: 11, length: 8192, messageSeq: 2, offset: 8191, data: all.subarray(8191) });
    expect(typeof whole).toBe("object");
    expect(Buffer.from((whole as { body: Uint8Array }).body).equals(Buffer.from(all))).toBe(true);
    expect(r.size).toBe(3);
  });

  // Found by the fuzzer and left alone at first: a whole copy of a message half joined from fragments
  // was returned but its partial slot stayed, so four such messages filled every slot for good.
  test("a whole copy of a half-joined message frees its slot", () => {
    const r = new Reassembler();
    const body = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
    for (let seq = 0; seq < 4; seq++) {
      expect(r.add({ msgType: 11, length: 300, messageSeq: seq, offset: 0, data: body.subarray(0, 100) })).toBe("partial");
      const whole = r.add({ msgType: 11, length: 300, messageSeq: seq, offset: 0, data: body });
      expect(typeof whole).toBe("object");
    }
    expect(r.size).toBe(0);
    // a fifth message, fragmented, still finds a slot and completes
    expect(r.add({ msgType: 11, length: 300, messageSeq: 4, offset: 0, data: body.subarray(0, 150) })).toBe("partial");
    const last = r.add({ msgType: 11, length: 300, messageSeq: 4, offset: 150, data: body.subarray(150) });
    expect(Buffer.from((last as { body: Uint8Array }).body).equals(Buffer.from(body))).toBe(true);
  });

  test("a flood of one-byte fragments beside the client's flight 5: refused and counted, the session still opens", async () => {
    const frag = (seq: number, offset: number) => [11, 0, 0x20, 0, 0, seq, 0, offset >> 8, offset & 255, 0, 0, 1, 0xee];
    let flooded = false;
    const { s, c } = await openPair({
      edit: (fromServer, d) => {
        if (fromServer || flooded || !records(d).some(([t, e, r]) => t === 22 && e === 0 && r[13] === 11)) return d;
        flooded = true;
        // 100 fragments a record, for message_seq 6 and 7 (after the Finished's: they never complete)
        const recs = [];
        for (const seq of [6, 7])
          for (let k = 0; k < 4; k++) {
            const body = Array.from({ length: 100 }, (_, i) => frag(seq, 2 * (k * 100 + i) + 1)).flat();
            recs.push(Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 99, body.length >> 8, body.length & 255, ...body]));
          }
        return Buffer.concat([...recs, d]);
      },
    });
    expect(flooded).toBe(true);
    expect(s.drops["dtls.fragment-too-fragmented"]).toBe(2 * (400 - MAX_FRAGMENT_RANGES));
    c.session.close();
  });

  for (const when of ["before", "after"] as const)
    test(`a spoofed whole plaintext message past the Finished's message_seq, ${when} flight 5: it cannot hold the Finished back`, async () => {
      // message_seq 9: within the handshake's look-ahead window, after anything a client sends in the clear
      const spoof = () => {
        const body = [11, 0, 0, 3, 0, 9, 0, 0, 0, 0, 0, 3, 0, 0, 0];
        return Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 98, 0, body.length, ...body]);
      };
      let injected = false;
      const { s, c } = await openPair({
        edit: (fromServer, d) => {
          if (fromServer || injected || !records(d).some(([t, e, r]) => t === 22 && e === 0 && r[13] === 11)) return d;
          injected = true;
          return when === "before" ? Buffer.concat([spoof(), d]) : Buffer.concat([d, spoof()]);
        },
      });
      expect(injected).toBe(true);
      expect(s.session.remoteFingerprint).toBe((await certs()).clientCert.fingerprint);
      c.session.close();
    });
});
