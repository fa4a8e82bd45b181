// connect({ identity: "persistent" }) in real headless Chromium: the page's certificate (and so its
// peer id) survives a reload where the page has IndexedDB, one tab holds it at a time, a sandboxed
// inscription (opaque origin, no storage) silently gets a fresh one, and two pages meet again after
// one of them reloads under the same id (the other drops the old visit and takes the new session).
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Frame, Page } from "playwright-core";
import { launchChromium, serveLibrary } from "../helpers/browser.ts";
import { startInProcessRelay, startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { startEmbedded } from "../../dev/embedded.ts";

let browser: Browser;
let server: Awaited<ReturnType<typeof serveLibrary>>;
let relay: RelayProc;
beforeAll(async () => {
  browser = await launchChromium();
  server = await serveLibrary();
  relay = await startRelayProc();
});
afterAll(async () => {
  await browser?.close();
  server?.stop();
  await relay?.stop();
});

type Rec = { addr: string; fp: string };
/** connect() in the page, join `room` (the relay checks the id against the certificate), log room events. */
async function enter(page: Page, rec: Rec, room: string, identity?: "persistent", nick = "") {
  return page.evaluate(
    async ({ rec, room, identity, nick }) => {
      const g = globalThis as any;
      const { connect } = await import("/lumamesh.js");
      g.net = await connect({ relays: [rec], ...(identity && { identity }) });
      g.log = { peers: [] as string[], leaves: [] as string[], msgs: [] as [string, unknown][], errors: [] as unknown[] };
      g.room = await g.net.joinRoom(room, { nick });
      g.room.on("peer", (p: any) => g.log.peers.push(p.id));
      g.room.on("leave", (p: any) => g.log.leaves.push(p.id));
      g.room.on("error", (e: any) => g.log.errors.push(e));
      g.room.on("message", (d: unknown, p: any) => g.log.msgs.push([p.id, d]));
      return g.net.id as string;
    },
    { rec, room, identity, nick },
  );
}
/** What the page's IndexedDB holds (the kept certificate's expiry), or null; never creates the database. */
const stored = (page: Page) =>
  page.evaluate(async () =>
    !(await indexedDB.databases()).some((d) => d.name === "lumamesh")
      ? null
      : new Promise<number | null>((ok) => {
          const o = indexedDB.open("lumamesh");
          o.onsuccess = () => {
            const db = o.result;
            if (!db.objectStoreNames.contains("id")) return ok(null);
            const r = db.transaction("id").objectStore("id").get(0);
            r.onsuccess = () => (db.close(), ok(r.result ? (r.result as RTCCertificate).expires : null));
          };
          o.onerror = () => ok(null);
        }),
  );

describe("persistent identity where storage exists", () => {
  let ctx: BrowserContext;
  beforeAll(async () => void (ctx = await browser.newContext()));
  afterAll(async () => ctx?.close());

  test("the same id across reloads; fresh by default; one tab at a time", async () => {
    const page = await ctx.newPage();
    await page.goto(server.url);
    expect(await stored(page)).toBe(null);
    const first = await enter(page, relay.record, "identity-reload", "persistent");
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    // Kept with the longest lifetime browsers give (about a year), not Chromium's default 30 days.
    const expires = (await stored(page))!;
    expect(expires - Date.now()).toBeGreaterThan(300 * 864e5);

    for (let i = 0; i < 2; i++) {
      await page.reload();
      expect(await enter(page, relay.record, "identity-reload", "persistent")).toBe(first);
    }
    expect(await stored(page)).toBe(expires);
    // Without the option every connect() is a new id, even in the page that keeps one.
    const fresh = await enter(page, relay.record, "identity-fresh");
    expect(fresh).not.toBe(first);

    // A second tab of the same origin cannot take the kept identity while the first lives: it gets a
    // fresh one (two tabs under one id would refuse each other at the relay).
    const tab2 = await ctx.newPage();
    await tab2.goto(server.url);
    const second = await enter(tab2, relay.record, "identity-reload", "persistent");
    expect(second).not.toBe(first);
    expect(await stored(tab2)).toBe(expires);
    await page.close();
    await tab2.close();
    // The lock ends with its page: the next tab gets the kept identity again.
    const tab3 = await ctx.newPage();
    await tab3.goto(server.url);
    expect(await enter(tab3, relay.record, "identity-reload", "persistent")).toBe(first);
    await tab3.close();
  }, 60000);

  test("two pages meet again after one reloads under its kept id", async () => {
    const a = await ctx.newPage();
    const bctx = await browser.newContext();
    const b = await bctx.newPage();
    try {
      await Promise.all([a.goto(server.url), b.goto(server.url)]);
      const aId = await enter(a, relay.record, "identity-meet", "persistent", "alice");
      const bId = await enter(b, relay.record, "identity-meet", undefined, "bob");
      const peerOf = (p: Page, id: string) =>
        p.waitForFunction((id) => (globalThis as any).room.peers.some((x: any) => x.id === id && x.path === "direct"), id, {
          timeout: 20000,
        });
      await Promise.all([peerOf(a, bId), peerOf(b, aId)]);

      await a.reload();
      expect(await enter(a, relay.record, "identity-meet", "persistent", "alice")).toBe(aId);
      // B lets the old visit go and meets the new one: same id, a new session, a direct channel again.
      await b.waitForFunction((id) => (globalThis as any).log.leaves.includes(id), aId, { timeout: 20000 });
      await b.waitForFunction((id) => (globalThis as any).log.peers.filter((x: string) => x === id).length === 2, aId, { timeout: 20000 });
      await Promise.all([peerOf(a, bId), peerOf(b, aId)]);
      expect(await b.evaluate(() => (globalThis as any).room.peers.length)).toBe(1);
      // Both ways, over the new channel.
      await a.evaluate(() => (globalThis as any).room.send("from the reloaded page"));
      await b.evaluate(() => (globalThis as any).room.send("to the reloaded page"));
      await b.waitForFunction(() => (globalThis as any).log.msgs.some(([, d]: any) => d === "from the reloaded page"), null, {
        timeout: 10000,
      });
      await a.waitForFunction(() => (globalThis as any).log.msgs.some(([, d]: any) => d === "to the reloaded page"), null, {
        timeout: 10000,
      });
      expect(await b.evaluate(() => (globalThis as any).log.msgs.find(([, d]: any) => d === "from the reloaded page")[0])).toBe(aId);
      for (const p of [a, b]) expect(await p.evaluate(() => (globalThis as any).log.errors)).toEqual([]);
    } finally {
      await a.close();
      await bctx.close();
    }
  }, 60000);

  test("a page that crashed comes back under its kept id: the relay gives it the id, the other meets it once the old path is lost", async () => {
    // The relay holds a silent session 10 minutes here: only the takeover (not the idle timeout) can let the id back in.
    const slow = await startInProcessRelay({ idleTimeoutMs: 600000 });
    const a = await ctx.newPage();
    const bctx = await browser.newContext();
    const b = await bctx.newPage();
    try {
      await Promise.all([a.goto(server.url), b.goto(server.url)]);
      const aId = await enter(a, slow.rec, "identity-crash", "persistent", "alice");
      const bId = await enter(b, slow.rec, "identity-crash", undefined, "bob");
      const peerOf = (p: Page, id: string) =>
        p.waitForFunction((id) => (globalThis as any).room.peers.some((x: any) => x.id === id && x.path === "direct"), id, {
          timeout: 30000,
        });
      await Promise.all([peerOf(a, bId), peerOf(b, aId)]);

      // The renderer dies: no pagehide, no goodbye, no LEAVE; the relay still holds the old session.
      const cdp = await ctx.newCDPSession(a);
      void cdp.send("Page.crash").catch(() => {});
      await new Promise<void>((ok) => a.once("crash", () => ok()));
      const a2 = await ctx.newPage();
      await a2.goto(server.url);
      // Same id (the lock ended with the crashed page), joined at once: no "peer id already in this room".
      expect(await enter(a2, slow.rec, "identity-crash", "persistent", "alice")).toBe(aId);
      await b.waitForFunction((id) => (globalThis as any).log.peers.filter((x: string) => x === id).length === 2, aId, { timeout: 60000 });
      expect(await b.evaluate((id) => (globalThis as any).log.leaves.includes(id), aId)).toBe(true);
      await Promise.all([peerOf(a2, bId), peerOf(b, aId)]);
      await a2.evaluate(() => (globalThis as any).room.send("after the crash"));
      await b.waitForFunction(() => (globalThis as any).log.msgs.some(([, d]: any) => d === "after the crash"), null, { timeout: 10000 });
      for (const p of [a2, b]) expect(await p.evaluate(() => (globalThis as any).log.errors)).toEqual([]);
      // The relay replaced the membership; it never refused the id.
      const c = slow.relay.core.counters;
      expect(c["room.replaced"]).toBeGreaterThanOrEqual(1);
      expect(c["room.301"]).toBeUndefined();
      await a2.close();
    } finally {
      await bctx.close();
      await slow.relay.stop();
    }
  }, 120000);
});

describe("a sandboxed inscription has no storage", () => {
  test("identity persistent falls back to a fresh id, silently, and still joins", async () => {
    const tmp = () => mkdtempSync(join(tmpdir(), "lumamesh-emb-"));
    const e = await startEmbedded({ dataDir: tmp(), outDir: tmp() });
    try {
      const html = `<!doctype html><script type=module>
        import { connect } from "/content/${e.ids["lumamesh.js"]}";
        let idb = "works";
        try { indexedDB.open("probe"); } catch (err) { idb = err.name; }
        const net = await connect({ identity: "persistent" });
        await net.joinRoom("identity-sandboxed");
        globalThis.result = { id: net.id, idb };
      </script>`;
      const i = e.ord.add({ body: html, content_type: "text/html;charset=utf-8" });
      const page = await browser.newPage();
      const run = async () => {
        await page.goto(`${e.ord.url}/inscription/${i.id}`);
        let frame: Frame | undefined;
        for (let n = 0; n < 100 && !frame; n++, await Bun.sleep(50)) frame = page.frames().find((f) => f.url().includes("/preview/"));
        if (!frame) throw new Error("no /preview/ frame");
        await frame.waitForFunction(() => (globalThis as any).result, null, { timeout: 20000 });
        return { origin: await frame.evaluate(() => origin), ...(await frame.evaluate(() => (globalThis as any).result)) };
      };
      const one = await run(),
        two = await run();
      // Really an opaque origin whose IndexedDB throws: the path a kept identity cannot take.
      expect(one.origin).toBe("null");
      expect(one.idb).toBe("SecurityError");
      expect(one.id).toMatch(/^[0-9a-f]{16}$/);
      expect(two.id).toMatch(/^[0-9a-f]{16}$/);
      expect(two.id).not.toBe(one.id);
      await page.close();
    } finally {
      await e.stop();
    }
  }, 60000);
});
