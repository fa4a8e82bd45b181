// seal.ts: KDF layout and domain separation, known-answer vectors, sealing with AD binding.
import { describe, expect, test } from "bun:test";
import { createCipheriv, hkdfSync, pbkdf2Sync } from "node:crypto";
import { concat, equal, hex, random, utf8Encode } from "../../protocol/bytes.ts";
import { nobleCrypto } from "../../src/fallback.ts";
import { _seal, deriveRoom, KDF_ITERATIONS, openMsg, sealMsg, webCrypto, type RoomKeys } from "../../src/seal.ts";

const c = webCrypto;
const H = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));
const B = (b: Buffer | ArrayBuffer) => new Uint8Array(b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.length));

// The documented derivation, recomputed with node:crypto (OpenSSL/BoringSSL) as an independent oracle.
const oracle = (name: string, password = "") => {
  const n = Buffer.from(name.normalize("NFC"), "utf8"),
    len = Buffer.alloc(4);
  len.writeUInt32BE(n.length);
  const M = (p: string) => pbkdf2Sync(Buffer.concat([len, n, Buffer.from(p, "utf8")]), "lumamesh/v1/room", KDF_ITERATIONS, 32, "sha256");
  return {
    topic: B(hkdfSync("sha256", M(""), Buffer.alloc(0), "lumamesh/v1/topic", 16)),
    key: B(hkdfSync("sha256", M(password), Buffer.alloc(0), "lumamesh/v1/seal", 32)),
  };
};

describe("KDF", () => {
  test("iteration count is deliberately slow", () => {
    expect(KDF_ITERATIONS).toBeGreaterThanOrEqual(50_000);
  });

  test("deriveRoom matches an independent node:crypto computation", async () => {
    for (const [n, p] of [
      ["lobby", undefined],
      ["chess: table 4", "hunter2"],
      ["ünïcødé 🚀", "pässwörd"],
      ["", ""],
    ] as const) {
      const k = await deriveRoom(c, n, p),
        o = oracle(n, p);
      expect(hex(k.topic)).toBe(hex(o.topic));
      expect(hex(k.key)).toBe(hex(o.key));
      expect(k.topic.length).toBe(16);
      expect(k.key.length).toBe(32);
    }
  });

  test("topic and key are domain-separated (topic is not a prefix of key)", async () => {
    const k = await deriveRoom(c, "lobby");
    expect(equal(k.topic, k.key.subarray(0, 16))).toBe(false);
  });

  test("different names and unicode give different topics; different passwords give different keys", async () => {
    const inputs: [string, string?][] = [
      ["lobby"],
      ["Lobby"],
      ["lobby "],
      ["lobbyx"],
      ["x"],
      ["café"],
      ["cafe"],
      ["日本"],
      ["日本語"],
      ["🚀"],
      ["\u0000"],
      [""],
    ];
    const topics = await Promise.all(inputs.map(([n, p]) => deriveRoom(c, n, p).then((k) => hex(k.topic))));
    expect(new Set(topics).size).toBe(inputs.length);
    const pw = await Promise.all([undefined, "x", "y", "lobby"].map((p) => deriveRoom(c, "lobby", p)));
    expect(new Set(pw.map((k) => hex(k.topic))).size).toBe(1); // same room at the relay...
    expect(new Set(pw.map((k) => hex(k.key))).size).toBe(4); // ...but nothing decrypts across passwords
  });

  test("length prefix: a NUL in the name cannot be confused with the name/password boundary", async () => {
    // With a 0x00 separator both of these would be PBKDF2("a\0\0b").
    const a = await deriveRoom(c, "a\0", "b"),
      b = await deriveRoom(c, "a", "\0b");
    expect(hex(a.key)).not.toBe(hex(b.key));
    // ...and a name cannot carry a password: ("ab", "") ≠ ("a", "b").
    expect(hex((await deriveRoom(c, "ab")).key)).not.toBe(hex((await deriveRoom(c, "a", "b")).key));
  });

  test("no password and the empty password are the same room; NFC and NFD spellings are the same room", async () => {
    expect(hex((await deriveRoom(c, "r")).key)).toBe(hex((await deriveRoom(c, "r", "")).key));
    expect(hex((await deriveRoom(c, "caf\u00e9")).topic)).toBe(hex((await deriveRoom(c, "cafe\u0301")).topic));
  });
});

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", rev. 2005, appendix B, test cases 13, 14 and 16 (AES-256).
const GCM_VECTORS = [
  { name: "GCM spec test case 13", k: "00".repeat(32), iv: "00".repeat(12), a: "", p: "", c: "", t: "530f8afbc74536b9a963b4f1c4cb738b" },
  {
    name: "GCM spec test case 14",
    k: "00".repeat(32),
    iv: "00".repeat(12),
    a: "",
    p: "00".repeat(16),
    c: "cea7403d4d606b6e074ec5d3baf39d18",
    t: "d0d1c8a799996bf0265b98b5d48ab919",
  },
  {
    name: "GCM spec test case 16",
    k: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    iv: "cafebabefacedbaddecaf888",
    a: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    p: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    c: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    t: "76fc6ece0f4e1768cddf8853bb2d551b",
  },
];

for (const [pn, c] of [
  ["webCrypto", webCrypto],
  ["nobleCrypto", nobleCrypto],
] as const) {
  describe(`known-answer vectors through ${pn}`, () => {
    test("RFC 5869 A.1 (HKDF-SHA-256 test case 1)", async () => {
      const okm = await c.hkdf(H("0b".repeat(22)), H("000102030405060708090a0b0c"), H("f0f1f2f3f4f5f6f7f8f9"), 42);
      expect(hex(okm)).toBe("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    });

    test('RFC 7914 §11 PBKDF2-HMAC-SHA-256 (P="passwd", S="salt", c=1, 64 bytes)', async () => {
      const dk = await c.pbkdf2(utf8Encode("passwd"), utf8Encode("salt"), 1, 64);
      expect(hex(dk)).toBe(
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
      );
    });

    test("PBKDF2 and HKDF agree with node:crypto on random inputs", async () => {
      for (let i = 0; i < 5; i++) {
        const pw = random(i * 7),
          salt = random(16),
          info = random(i),
          ikm = random(32);
        expect(hex(await c.pbkdf2(pw, salt, 1000 + i, 32))).toBe(hex(B(pbkdf2Sync(pw, salt, 1000 + i, 32, "sha256"))));
        expect(hex(await c.hkdf(ikm, salt, info, 16 + i))).toBe(hex(B(hkdfSync("sha256", ikm, salt, info, 16 + i))));
      }
    });

    test('SHA-256 of "abc" (FIPS 180-2 appendix B.1)', async () => {
      expect(hex(await c.sha256(utf8Encode("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    });
  });

  describe(`AES-256-GCM through ${pn}`, () => {
    for (const v of GCM_VECTORS)
      test(v.name + " (seal, open, and node:crypto agrees)", async () => {
        const ct = await c.seal(H(v.k), H(v.iv), H(v.a), H(v.p));
        expect(hex(ct)).toBe(v.c + v.t);
        expect(hex((await c.open(H(v.k), H(v.iv), H(v.a), ct))!)).toBe(v.p);
        const n = createCipheriv("aes-256-gcm", H(v.k), H(v.iv)).setAAD(H(v.a));
        expect(hex(concat([B(n.update(H(v.p))), B(n.final()), B(n.getAuthTag())]))).toBe(v.c + v.t);
      });

    test("open returns null (never throws) on a bad tag, a short input or a bad key length", async () => {
      const v = GCM_VECTORS[2]!,
        ct = H(v.c + v.t);
      ct[5]! ^= 1;
      expect(await c.open(H(v.k), H(v.iv), H(v.a), ct)).toBeNull();
      expect(await c.open(H(v.k), H(v.iv), H(v.a), new Uint8Array(3))).toBeNull();
      expect(await c.open(new Uint8Array(7), H(v.iv), H(v.a), H(v.c + v.t))).toBeNull();
    });
  });
}

describe("sealMsg / openMsg", () => {
  const A = H("0102030405060708"),
    Bp = H("1112131415161718"),
    C = H("2122232425262728");
  const S = H("a1a2a3a4a5a6a7a8"),
    S2 = H("b1b2b3b4b5b6b7b8"),
    Z = new Uint8Array(8);
  let k: RoomKeys, k2: RoomKeys;
  const keys = async () => {
    k ??= await deriveRoom(c, "seal-room");
    k2 ??= await deriveRoom(c, "other-room", "other");
  };

  test("round trip, to a known session and to zeros (a first HELLO); layout is nonce(12) || ct || tag(16)", async () => {
    await keys();
    const pt = utf8Encode('{"sdp":"v=0..."}');
    for (const session of [S, Z]) {
      const s = await sealMsg(c, k, A, Bp, 3, session, pt);
      expect(s.length).toBe(12 + pt.length + 16);
      expect(hex((await openMsg(c, k, A, Bp, 3, session, s))!)).toBe(hex(pt));
    }
    expect((await openMsg(c, k, A, Bp, 0, S, await sealMsg(c, k, A, Bp, 0, S, new Uint8Array(0))))!.length).toBe(0);
  });

  test("the sealed bytes equal AES-GCM over the documented AD (node:crypto oracle)", async () => {
    await keys();
    const nonce = H("000102030405060708090a0b"),
      pt = utf8Encode("hello");
    const s = await _seal.sealWithNonce(c, k, A, Bp, 7, S, pt, nonce);
    const adBytes = concat([utf8Encode("lmv2"), k.topic, A, Bp, Uint8Array.of(7), S]);
    expect(hex(_seal.ad(k, A, Bp, 7, S))).toBe(hex(adBytes));
    const n = createCipheriv("aes-256-gcm", k.key, nonce).setAAD(adBytes);
    expect(hex(s)).toBe(hex(concat([nonce, B(n.update(pt)), B(n.final()), B(n.getAuthTag())])));
  });

  test("wrong key, and every change to from / to / type / topic / recipient session gives null", async () => {
    await keys();
    const s = await sealMsg(c, k, A, Bp, 1, S, utf8Encode("secret"));
    expect(await openMsg(c, k, A, Bp, 1, S, s)).not.toBeNull();
    expect(await openMsg(c, k2, A, Bp, 1, S, s)).toBeNull();
    expect(await openMsg(c, { topic: k.topic, key: k2.key }, A, Bp, 1, S, s)).toBeNull();
    expect(await openMsg(c, { topic: k2.topic, key: k.key }, A, Bp, 1, S, s)).toBeNull();
    expect(await openMsg(c, k, C, Bp, 1, S, s)).toBeNull();
    expect(await openMsg(c, k, A, C, 1, S, s)).toBeNull();
    expect(await openMsg(c, k, A, Bp, 2, S, s)).toBeNull();
    // Sealed for another visit of the recipient (another session), or for none: does not open.
    expect(await openMsg(c, k, A, Bp, 1, S2, s)).toBeNull();
    expect(await openMsg(c, k, A, Bp, 1, Z, s)).toBeNull();
  });

  test("any flipped bit, truncation or bad ids give null, never a throw", async () => {
    await keys();
    const s = await sealMsg(c, k, A, Bp, 1, S, utf8Encode("tamper me"));
    for (let i = 0; i < s.length; i++) {
      const t = s.slice();
      t[i]! ^= 1 << (i % 8);
      expect(await openMsg(c, k, A, Bp, 1, S, t)).toBeNull();
    }
    for (let n = 0; n < s.length; n++) expect(await openMsg(c, k, A, Bp, 1, S, s.subarray(0, n))).toBeNull();
    expect(await openMsg(c, k, A.subarray(1), Bp, 1, S, s)).toBeNull();
    expect(await openMsg(c, k, A, Bp, 1, S.subarray(1), s)).toBeNull();
    expect(await openMsg(c, k, A, Bp, 256, S, s)).toBeNull();
  });

  test("sealMsg rejects bad ids and types with RangeError", async () => {
    await keys();
    await expect(sealMsg(c, k, new Uint8Array(7), Bp, 1, S, new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(sealMsg(c, k, A, new Uint8Array(9), 1, S, new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(sealMsg(c, k, A, Bp, 1, new Uint8Array(7), new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(sealMsg(c, k, A, Bp, -1, S, new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(sealMsg(c, k, A, Bp, 1.5, S, new Uint8Array(1))).rejects.toThrow(RangeError);
  });

  test("1000 seals of the same message use 1000 different nonces", async () => {
    await keys();
    const pt = utf8Encode("same");
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(hex((await sealMsg(c, k, A, Bp, 1, S, pt)).subarray(0, 12)));
    expect(seen.size).toBe(1000);
  });

  test("importing seal.ts does not touch crypto.subtle", async () => {
    const proc = Bun.spawnSync(
      [
        process.execPath,
        "-e",
        `
      let touched = false;
      const real = globalThis.crypto;
      Object.defineProperty(globalThis, 'crypto', { configurable: true, get() { return new Proxy(real, { get(t, p) { if (p === 'subtle') touched = true; return Reflect.get(t, p); } }); } });
      await import(${JSON.stringify(new URL("../../src/seal.ts", import.meta.url).pathname)});
      console.log(touched ? 'touched' : 'clean');`,
      ],
      { env: { ...process.env } },
    );
    expect(proc.stdout.toString().trim()).toBe("clean");
  });
});
