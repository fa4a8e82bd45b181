// Inscription-first, in real headless Chromium: the examples run as inscriptions on the local ord
// server, inside ord's sandboxed iframe and under ord's CSP, import the library by recursive path,
// find the relay from the bootstrap sat with no options, and mesh. Also: no sat index, bad
// bootstrap inscriptions, br-encoded library, and pages without crypto.subtle.
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import type { Browser, Frame, Page } from "playwright-core";
import { launchChromium } from "../helpers/browser.ts";
import { startEmbedded as startEmbeddedReal, type Embedded } from "../../dev/embedded.ts";
import { SATS } from "../../build.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const tmp = () => mkdtempSync(join(tmpdir(), "lumamesh-emb-"));
const startEmbedded = (o: Parameters<typeof startEmbeddedReal>[0] = {}) => startEmbeddedReal({ dataDir: tmp(), outDir: tmp(), ...o });

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => browser?.close());

/** ord's routes (ordinals/ord src/subcommand/server.rs); anything else is not an ord request. */
const ORD_ROUTE =
  /^\/(inscription|preview|content|static|r\/(sat|inscription|children|parents|metadata|blockheight|blockhash|blocktime|utxo|tx|undelegated-content))\b|^\/favicon\.ico$/;

/** Open an inscription's page; record every request and return the sandboxed frame running it. */
async function openInscription(
  e: Embedded,
  name: "chat" | "cursors",
  init?: () => void,
): Promise<{ page: Page; frame: Frame; requests: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  if (init) await page.addInitScript(init);
  await page.goto(e.url(name));
  const frame = await waitFrame(page);
  return { page, frame, requests };
}

async function waitFrame(page: Page): Promise<Frame> {
  for (let i = 0; i < 100; i++) {
    const f = page.frames().find((f) => f.url().includes("/preview/"));
    if (f) return f;
    await Bun.sleep(50);
  }
  throw new Error("no /preview/ frame");
}

describe("examples as inscriptions on the local ord server", () => {
  let e: Embedded;
  let outside: ReturnType<typeof Bun.serve>;
  let outsideHits = 0;
  beforeAll(async () => {
    e = await startEmbedded();
    // A real server on another origin, so a blocked request is blocked by CSP, not by silence.
    outside = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => (outsideHits++, new Response("reached", { headers: { "access-control-allow-origin": "*" } })),
    });
  });
  afterAll(async () => {
    outside?.stop(true);
    await e?.stop();
  });

  test("the cursors example finds the relay with no options, meshes with a second page, and only asks ord", async () => {
    const a = await openInscription(e, "cursors");
    const b = await openInscription(e, "cursors");
    // The iframe is really sandboxed: an opaque origin.
    expect(await a.frame.evaluate(() => origin)).toBe("null");
    // Each page says who it is and how many others it sees.
    for (const p of [a, b])
      await p.frame.waitForFunction(
        () => /^you: guest-[0-9a-f]{4} · peers: 1 · move your pointer$/.test(document.getElementById("s")!.textContent!),
        null,
        { timeout: 20000 },
      );
    // Move the mouse in A: A draws its own cursor (labelled as itself), and B draws A's (a message
    // over the direct channel), under the same element id and labelled with A's nick.
    const box = (await a.page.$("iframe"))!;
    const r = (await box.boundingBox())!;
    let own: { id: string; title: string } | null = null,
      drawn = false;
    for (let i = 0; i < 100 && !drawn; i++) {
      await a.page.mouse.move(r.x + 20 + (i % 50), r.y + 20 + (i % 30));
      await Bun.sleep(100);
      own ??= await a.frame.evaluate(() => {
        const c = document.querySelector("i");
        return c && { id: c.id, title: c.title };
      });
      drawn = !!own && (await b.frame.evaluate((id) => !!document.getElementById(id), own.id));
    }
    expect(drawn).toBe(true);
    expect(own!.title).toMatch(/^guest-[0-9a-f]{4} \(you\)$/);
    const seen = await b.frame.evaluate((id) => {
      const c = document.getElementById(id)!;
      return { left: c.style.left, title: c.title };
    }, own!.id);
    expect(seen.left).toMatch(/px$/);
    expect(seen.title).toBe(own!.title.replace(" (you)", ""));
    expect(await b.frame.evaluate(() => document.querySelectorAll("i").length)).toBe(1); // B's own pointer never moved
    // Every request either page made is an ord route on the ord server's origin.
    for (const url of [...a.requests, ...b.requests]) {
      const u = new URL(url);
      expect(u.origin).toBe(e.ord.url);
      expect(u.pathname).toMatch(ORD_ROUTE);
    }
    const paths = a.requests.map((u) => new URL(u).pathname);
    expect(paths).toContain(`/r/sat/${SATS.lib}/at/-1/content`);
    expect(paths).toContain(`/r/sat/${SATS.boot}/at/-1/content`);
    // In the same frame, a fetch and a WebSocket to another origin are blocked by ord's CSP.
    const blocked = await a.frame.evaluate(async (url) => {
      const f = await fetch(url).then(
        () => "fetched",
        (err) => "blocked: " + err.name,
      );
      const ws = await new Promise<string>((res) => {
        try {
          const s = new WebSocket(url.replace("http", "ws"));
          s.onopen = () => res("opened");
          s.onerror = () => res("blocked: error event");
        } catch (err: any) {
          res("blocked: " + err.name);
        }
      });
      return { f, ws };
    }, `http://127.0.0.1:${outside.port}/`);
    expect(blocked.f).toBe("blocked: TypeError");
    expect(blocked.ws).toStartWith("blocked");
    expect(outsideHits).toBe(0);
    await a.page.close();
    await b.page.close();
  }, 60000);

  test("the chat example shows your nick, the peer count, your own lines and who left", async () => {
    const a = await openInscription(e, "chat");
    const b = await openInscription(e, "chat");
    const status = (f: Frame) => f.evaluate(() => document.getElementById("s")!.textContent!);
    for (const p of [a, b])
      await p.frame.waitForFunction(() => /^you: guest-[0-9a-f]{4} · peers: 1$/.test(document.getElementById("s")!.textContent!), null, {
        timeout: 20000,
      });
    expect(await a.frame.evaluate(() => (document.getElementById("i") as HTMLInputElement).disabled)).toBe(false);
    const aNick = /guest-[0-9a-f]{4}/.exec(await status(a.frame))![0],
      bNick = /guest-[0-9a-f]{4}/.exec(await status(b.frame))![0];
    expect(aNick).not.toBe(bNick);
    await b.frame.waitForFunction((n) => document.body.innerText.includes(n + " joined"), aNick, { timeout: 10000 });
    await a.frame.fill("input", "lines say who wrote them");
    await a.frame.press("input", "Enter");
    // A's own line carries A's nick, in A and in B.
    await a.frame.waitForFunction((n) => document.body.innerText.includes(n + ": lines say who wrote them"), aNick, { timeout: 10000 });
    await b.frame.waitForFunction((n) => document.body.innerText.includes(n + ": lines say who wrote them"), aNick, { timeout: 10000 });
    // A navigates away (its frame's pagehide says goodbye): B says who left and counts again.
    await a.page.goto("about:blank");
    await b.frame.waitForFunction(
      (n) => document.body.innerText.includes(n + " left") && document.getElementById("s")!.textContent!.endsWith("peers: 0"),
      aNick,
      { timeout: 10000 },
    );
    await a.page.close();
    await b.page.close();
  }, 60000);

  test("the library is served with Content-Encoding: br and imports and works", async () => {
    const res = await fetch(`${e.ord.url}/r/sat/${SATS.lib}/at/-1/content`, {
      headers: { "accept-encoding": "br" },
      decompress: false,
    } as RequestInit);
    expect(res.headers.get("content-encoding")).toBe("br");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const a = await openInscription(e, "chat");
    const b = await openInscription(e, "chat");
    await b.frame.waitForFunction(() => document.body.innerText.includes("joined"), null, { timeout: 15000 });
    await a.frame.fill("input", "hello from a");
    await a.frame.press("input", "Enter");
    await b.frame.waitForFunction(() => document.body.innerText.includes(": hello from a"), null, { timeout: 10000 });
    await a.page.close();
    await b.page.close();
  }, 60000);

  test("with crypto.subtle removed, the lazy fallback is loaded and such pages mesh with ordinary ones", async () => {
    const noSubtle = () => Object.defineProperty(globalThis.crypto, "subtle", { get: () => undefined, configurable: true });
    const a = await openInscription(e, "chat", noSubtle);
    const b = await openInscription(e, "chat");
    expect(await a.frame.evaluate(() => typeof crypto.subtle)).toBe("undefined");
    await a.frame.waitForFunction(() => document.body.innerText.includes("joined"), null, { timeout: 20000 });
    await b.frame.waitForFunction(() => document.body.innerText.includes("joined"), null, { timeout: 20000 });
    await b.frame.fill("input", "to the fallback page");
    await b.frame.press("input", "Enter");
    await a.frame.waitForFunction(() => document.body.innerText.includes(": to the fallback page"), null, { timeout: 10000 });
    await a.frame.fill("input", "from the fallback page");
    await a.frame.press("input", "Enter");
    await b.frame.waitForFunction(() => document.body.innerText.includes(": from the fallback page"), null, { timeout: 10000 });
    const fb = `/r/sat/${SATS.fallback}/at/-1/content`;
    expect(a.requests.map((u) => new URL(u).pathname)).toContain(fb);
    expect(b.requests.map((u) => new URL(u).pathname)).not.toContain(fb); // secure pages never pay for it
    await a.page.close();
    await b.page.close();
  }, 60000);
});

describe("the examples when no relay answers", () => {
  test("each says it is connecting, then why it could not", async () => {
    // The bootstrap config names one relay, a UDP port that reads everything and answers nothing.
    const hole = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const addr = `127.0.0.1:${hole.port}`;
    const e = await startEmbedded({ bootstrapBody: JSON.stringify({ lumamesh: 1, relays: [{ addr, fp: "AB:".repeat(31) + "AB" }] }) });
    try {
      const pages = await Promise.all((["chat", "cursors"] as const).map((n) => openInscription(e, n)));
      const status = (f: Frame) => f.evaluate(() => document.getElementById("s")!.textContent!);
      // The only relay takes the whole 10 s timeout to give up on: until then, "connecting…".
      for (const p of pages) expect(await status(p.frame)).toBe("connecting…");
      expect(await pages[0]!.frame.evaluate(() => (document.getElementById("i") as HTMLInputElement).disabled)).toBe(true);
      for (const p of pages)
        await p.frame.waitForFunction(() => document.getElementById("s")!.textContent!.startsWith("no connection: "), null, {
          timeout: 30000,
        });
      for (const p of pages)
        expect(await status(p.frame)).toBe(
          `no connection: lumamesh: no relay reachable: ${addr}: ICE timeout after 10000 ms (is UDP ${hole.port} reachable?)`,
        );
      for (const p of pages) await p.page.close();
    } finally {
      hole.close();
      await e.stop();
    }
  }, 60000);
});

describe("discovery falls back source by source", () => {
  /** A test inscription that imports the library by its immutable id and reports connect()'s outcome. */
  async function probe(e: Embedded) {
    const html = `<!doctype html><script type=module>
      import { connect } from "/content/${e.ids["lumamesh.js"]}";
      try { const n = await connect(); globalThis.result = { ok: true, relay: n.relay.addr, sources: n.sources, rtt: await n.ping() }; }
      catch (err) { globalThis.result = { ok: false, message: err.message, sources: err.sources }; }
    </script>`;
    const i = e.ord.add({ body: html, content_type: "text/html;charset=utf-8" });
    const page = await browser.newPage();
    await page.goto(`${e.ord.url}/inscription/${i.id}`);
    const frame = await waitFrame(page);
    await frame.waitForFunction(() => (globalThis as any).result, null, { timeout: 20000 });
    const r = await frame.evaluate(() => (globalThis as any).result);
    await page.close();
    return r;
  }

  test("served without a sat index, the compiled-in bootstrap list is used", async () => {
    const e = await startEmbedded({ satIndex: false, compiledRelays: "relay" });
    try {
      const r = await probe(e);
      expect(r.ok).toBe(true);
      expect(r.relay).toBe(e.record.addr);
      expect(r.sources[0]).toEqual({ source: `${e.ord.url}/r/sat/${SATS.boot}`, reason: `/r/sat/${SATS.boot}/at/-1/content: HTTP 404` });
      expect(r.sources[1]).toEqual({ source: "compiled-in", relays: 1 });
    } finally {
      await e.stop();
    }
  }, 60000);

  for (const [what, body, reason] of [
    [
      "a wrong-version",
      JSON.stringify({ lumamesh: 2, relays: [{ addr: "127.0.0.1:1", fp: "00:".repeat(31) + "00" }] }),
      "unsupported bootstrap version 2",
    ],
    ["a malformed", "{ this is not json", "not JSON"],
    ["an entry-less", JSON.stringify({ lumamesh: 1, relays: [{ addr: "nowhere", fp: "xx" }] }), "no valid relay entries"],
  ] as const) {
    test(`${what} bootstrap inscription is skipped with a clear reason and the next source is tried`, async () => {
      const e = await startEmbedded({ bootstrapBody: body, compiledRelays: "relay" });
      try {
        const r = await probe(e);
        expect(r.ok).toBe(true);
        expect(r.sources[0]).toEqual({ source: `${e.ord.url}/r/sat/${SATS.boot}`, reason });
        expect(r.sources[1]).toEqual({ source: "compiled-in", relays: 1 });
      } finally {
        await e.stop();
      }
    }, 60000);
  }

  test("with no usable source at all, connect() says where it looked", async () => {
    const e = await startEmbedded({ bootstrapBody: null });
    try {
      const r = await probe(e);
      expect(r.ok).toBe(false);
      expect(r.message).toContain("none found");
      expect(r.sources.map((s: any) => s.source)).toEqual([`${e.ord.url}/r/sat/${SATS.boot}`, "compiled-in", "cache"]);
      expect(r.sources[1].reason).toBe("empty");
    } finally {
      await e.stop();
    }
  }, 60000);
});
