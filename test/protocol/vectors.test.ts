// protocol/vectors/*.json (written by scripts/vectors.ts): the same bytes checked by the relay's code
// in Bun and by the browser build in Chromium — frames, a sealed message, a signed relay record and
// a bootstrap config. Both ends stand on protocol/; these keep them honest to the written format.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { decode, encode } from "../../protocol/frames.ts";
import { hex } from "../../protocol/bytes.ts";
import { parseBootstrap } from "../../protocol/bootstrap.ts";
import { recordSignedBytes } from "../../protocol/record.ts";
import { checkRecord } from "../../relay/record.ts";
import { _seal, deriveRoom, openMsg, webCrypto } from "../../src/seal.ts";
import { bundle } from "../../build.ts";
import { launchChromium, serveLibrary } from "../helpers/browser.ts";

const V = Object.fromEntries(
  ["frames", "sealed", "record", "bootstrap"].map((n) => [
    n,
    JSON.parse(readFileSync(join(import.meta.dir, "../../protocol/vectors", n + ".json"), "utf8")),
  ]),
);
const b = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
const revive = (o: any): any =>
  JSON.parse(JSON.stringify(o), (_k, v) => (v && typeof v === "object" && typeof v.hex === "string" ? b(v.hex) : v));
const show = (f: unknown) => JSON.parse(JSON.stringify(f, (_k, x) => (x instanceof Uint8Array ? { hex: hex(x) } : x)));

describe("the relay's side (Bun)", () => {
  test("frames encode to and decode from their bytes", () => {
    expect(V.frames.frames.length).toBeGreaterThan(5);
    for (const f of V.frames.frames) {
      expect(hex(encode(revive(f.frame)))).toBe(f.hex);
      expect(show(decode(b(f.hex)))).toEqual(f.frame);
    }
  });
  test("the sealed message: keys from name and password, the sealed bytes, and it opens", async () => {
    const s = V.sealed,
      keys = await deriveRoom(webCrypto, s.room, s.password);
    expect([hex(keys.topic), hex(keys.key)]).toEqual([s.topic, s.key]);
    expect(hex(await _seal.sealWithNonce(webCrypto, keys, b(s.from), b(s.to), s.type, b(s.toSession), b(s.plaintext), b(s.nonce)))).toBe(
      s.sealed,
    );
    expect(hex((await openMsg(webCrypto, keys, b(s.from), b(s.to), s.type, b(s.toSession), b(s.sealed)))!)).toBe(s.plaintext);
  });
  test("the record: its signed bytes, and the relay's check accepts it and refuses a changed address", () => {
    expect(hex(recordSignedBytes(V.record.record))).toBe(V.record.signedBytes);
    expect(checkRecord(V.record.record)).toEqual(V.record.record);
    expect(checkRecord({ ...V.record.record, addr: "203.0.113.6:4884" })).toBe("bad signature");
  });
  test("the bootstrap config parses to what a page takes from it", () => {
    expect(parseBootstrap(V.bootstrap.text)).toEqual(V.bootstrap.parsed);
  });
});

describe("the browser build (Chromium)", () => {
  let browser: Browser, server: Awaited<ReturnType<typeof serveLibrary>>;
  beforeAll(async () => {
    const js = await bundle("test/protocol/vectors-entry.ts");
    browser = await launchChromium();
    server = await serveLibrary({
      "/vectors.js": () => new Response(js as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } }),
    });
  });
  afterAll(async () => {
    await browser?.close();
    server?.stop();
  });
  test("the same vectors, checked by the bundled code in the page", async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    const r = await page.evaluate(async (v) => (await import("/vectors.js" as string)).check(v), V);
    expect(r).toEqual({
      frames: V.frames.frames.map(() => true),
      keys: true,
      seal: true,
      open: true,
      record: true,
      forged: true,
      bootstrap: true,
    });
  }, 30000);
});
