// fallback.ts: @noble must agree (the RFC/GCM vectors run through both providers in seal.test.ts) with WebCrypto byte for byte, and its own bundle size is measured.
import { describe, expect, test } from "bun:test";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { hex, random, utf8Encode } from "../../protocol/bytes.ts";
import { nobleCrypto } from "../../src/fallback.ts";
import { _seal, deriveRoom, openMsg, sealMsg, webCrypto } from "../../src/seal.ts";

const H = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const w = webCrypto,
  n = nobleCrypto;

describe("nobleCrypto ≡ webCrypto", () => {
  test("deriveRoom gives identical topic and key", async () => {
    for (const [name, pw] of [
      ["lobby", undefined],
      ["ünïcødé 🚀", "pässwörd"],
      ["a\0", "b"],
    ] as const) {
      const a = await deriveRoom(w, name, pw),
        b = await deriveRoom(n, name, pw);
      expect(hex(b.topic)).toBe(hex(a.topic));
      expect(hex(b.key)).toBe(hex(a.key));
    }
  });

  test("primitives agree on random inputs (pbkdf2, hkdf incl. empty salt, seal, sha256)", async () => {
    for (let i = 0; i < 8; i++) {
      const a = random(i * 5),
        s = random(i ? 16 : 0),
        info = random(i),
        k = random(32),
        iv = random(12);
      expect(hex(await n.pbkdf2(a, s, 100 + i, 32 + i))).toBe(hex(await w.pbkdf2(a, s, 100 + i, 32 + i)));
      expect(hex(await n.hkdf(k, s, info, 16 + i))).toBe(hex(await w.hkdf(k, s, info, 16 + i)));
      expect(hex(await n.seal(k, iv, info, a))).toBe(hex(await w.seal(k, iv, info, a)));
      expect(hex(await n.sha256(a))).toBe(hex(await w.sha256(a)));
    }
  });

  test("sealMsg with a fixed nonce is identical, and each opens the other", async () => {
    const k = await deriveRoom(w, "cross"),
      from = random(8),
      to = random(8),
      pt = utf8Encode("cross-provider"),
      nonce = random(12);
    const s = random(8);
    const a = await _seal.sealWithNonce(w, k, from, to, 9, s, pt, nonce),
      b = await _seal.sealWithNonce(n, k, from, to, 9, s, pt, nonce);
    expect(hex(b)).toBe(hex(a));
    expect(hex((await openMsg(n, k, from, to, 9, s, await sealMsg(w, k, from, to, 9, s, pt)))!)).toBe(hex(pt));
    expect(hex((await openMsg(w, k, from, to, 9, s, await sealMsg(n, k, from, to, 9, s, pt)))!)).toBe(hex(pt));
    expect(await openMsg(n, k, from, to, 9, random(8), a)).toBeNull();
  });
});

test("fallback bundle size (measured, printed; target ~6 KB brotli)", async () => {
  const r = await Bun.build({
    entrypoints: [new URL("../../src/fallback.ts", import.meta.url).pathname],
    minify: true,
    format: "esm",
    target: "browser",
  });
  expect(r.success).toBe(true);
  const js = Buffer.from(await r.outputs[0]!.text());
  const br = brotliCompressSync(js, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  console.log(`fallback.ts bundle: ${js.length} B raw, ${gzipSync(js, { level: 9 }).length} B gzip, ${br} B brotli q11`);
  expect(js.includes("crypto.subtle")).toBe(false);
});
