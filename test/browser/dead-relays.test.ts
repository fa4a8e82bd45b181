// connect() when most known relays are dead: 19 black holes (UDP sockets that read and never answer,
// so nothing tells the browser they are dead) listed before the one live relay. Attempts are
// staggered and raced, so the page links to the live relay without waiting out any timeout, and a
// second visit tries the relay it reached first.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createSocket, type Socket } from "node:dgram";
import type { Browser } from "playwright-core";
import { launchChromium, serveLibrary } from "../helpers/browser.ts";
import { startInProcessRelay } from "../helpers/relay.ts";

let browser: Browser;
let server: Awaited<ReturnType<typeof serveLibrary>>;
const holes: Socket[] = [];
beforeAll(async () => {
  browser = await launchChromium();
  server = await serveLibrary();
  for (let i = 0; i < 19; i++) {
    const s = createSocket("udp4");
    s.on("message", () => {}); // read and drop: a black hole
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    holes.push(s);
  }
});
afterAll(async () => {
  for (const s of holes) s.close();
  await browser?.close();
  server?.stop();
});

test("19 of 20 known relays are black holes, the live one listed last: connect() links to it and the page remembers it first", async () => {
  const { relay, rec } = await startInProcessRelay();
  try {
    const relays = [...holes.map((s) => ({ addr: `127.0.0.1:${s.address().port}`, fp: rec.fp })), rec];
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(server.url);
    const visit = () =>
      p.evaluate(async (relays) => {
        const { connect } = await import("/lumamesh.js");
        const t0 = performance.now();
        const net = await connect({ relays, timeout: 10000 });
        const r = { relay: net.relay?.addr, ms: performance.now() - t0 };
        net.close();
        return r;
      }, relays);
    const first = await visit();
    expect(first.relay).toBe(rec.addr);
    console.log(`19 dead relays ahead of the live one: linked in ${first.ms.toFixed(0)} ms`);
    // The page remembered which relay answered (and how fast): the next connect() from the same
    // origin, handed the same list with no explicit relays, tries that one first.
    const cached = await p.evaluate(() => JSON.parse(localStorage.getItem("lumamesh.relays")!));
    expect(cached.relays[0].addr).toBe(rec.addr);
    await ctx.close();
  } finally {
    await relay.stop();
  }
}, 60000);
