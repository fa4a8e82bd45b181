// Tests for relay/dtls-aead.ts (the relay's own DTLS AES-GCM record protection) against werift's
// cipher, and relay/crc32c.ts against RFC 3720's vectors and werift's CRC32c.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { openRecord, recordKeysOf, sealRecord } from "../../relay/dtls-aead.ts";
import { crc32c, crc32cPacket } from "../../relay/crc32c.ts";

// werift's own CommonJS build: the same code its ESM bundle holds, reachable by path for tests.
const WERIFT = join(import.meta.dir, "../../node_modules/werift/lib");
const { createCipher } = require(join(WERIFT, "dtls/src/cipher/create.js"));
const { crc32c: weriftCrc } = require(join(WERIFT, "common/src/crc.js"));
const SERVER = 2,
  CLIENT = 1; // werift SessionType

function weriftCipher(suite: number) {
  const c = createCipher(suite);
  c.init(randomBytes(48), randomBytes(32), randomBytes(32));
  return c;
}

describe("DTLS AES-GCM records (relay/dtls-aead.ts)", () => {
  for (const [suite, name] of [
    [0xc02b, "AES-128-GCM"],
    [0xc02c, "AES-256-GCM"],
  ] as const)
    test(`${name}: sealed as werift seals, opened as werift opens, both directions`, () => {
      const c = weriftCipher(suite);
      const server = recordKeysOf(c, true)!,
        client = recordKeysOf(c, false)!;
      expect(server).toBeDefined();
      for (const [len, seq] of [
        [0, 1],
        [1, 1025],
        [28, 2 ** 32 + 7],
        [1200, 2 ** 48 - 1],
      ] as const) {
        const plain = randomBytes(len);
        const header = { type: 23, version: 0xfefd, epoch: 1, sequenceNumber: seq };
        const rec = sealRecord(server, 23, 0xfefd, 1, seq, plain);
        // Byte for byte what werift writes: its fragment after our 13-byte header.
        expect(Buffer.from(rec.subarray(13)).equals(c.encrypt(SERVER, plain, header))).toBe(true);
        expect(rec.readUInt16BE(11)).toBe(rec.length - 13);
        // werift (the client side) opens ours; we open ours; we open werift's.
        expect(Buffer.from(c.decrypt(CLIENT, rec.subarray(13), header)).equals(plain)).toBe(true);
        expect(openRecord(client, rec)?.equals(plain)).toBe(true);
        const theirs = Buffer.concat([rec.subarray(0, 13), c.encrypt(CLIENT, plain, header)]);
        expect(openRecord(server, theirs)?.equals(plain)).toBe(true);
        // Any flipped bit (header in the AAD, nonce, ciphertext, tag) fails; so do short records.
        for (const at of [0, 4, 10, 13, 21, rec.length - 1]) {
          const bad = Buffer.from(rec);
          bad[at]! ^= 1;
          expect(openRecord(client, bad)).toBeUndefined();
        }
        expect(openRecord(server, rec)).toBeUndefined(); // wrong direction's keys
      }
      expect(openRecord(client, Buffer.alloc(13 + 23))).toBeUndefined();
      expect(openRecord(client, Buffer.alloc(5))).toBeUndefined();
    });

  test("a cipher of another layout is not taken over (werift keeps it)", () => {
    expect(recordKeysOf(undefined, true)).toBeUndefined();
    expect(recordKeysOf({ ...weriftCipher(0xc02b), blockAlgorithm: "chacha20-poly1305" }, true)).toBeUndefined();
    expect(recordKeysOf({ ...weriftCipher(0xc02b), authTagLength: 8 }, true)).toBeUndefined();
  });
});

describe("CRC32c (relay/crc32c.ts)", () => {
  test("RFC 3720 §B.4 vectors", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });
  test("agrees with werift's, whole buffers and SCTP packets (checksum field as zero)", () => {
    for (let n = 0; n < 600; n++) {
      const b = randomBytes(n);
      expect(crc32c(b)).toBe(weriftCrc(b));
      if (n >= 12) {
        const z = Buffer.from(b);
        z.fill(0, 8, 12);
        expect(crc32cPacket(b)).toBe(weriftCrc(z));
      }
    }
  });
});
