// A relay registers itself on an in-memory regtest chain (Esplora stand-in, the dev ord server
// indexing the same chain), the bootstrap config names it only by its sat, and a page running as an
// inscription discovers the relay from its on-chain record and connects: no address given anywhere.
import { test, expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium } from "../helpers/browser.ts";
import { startEmbedded, type Embedded } from "../../dev/embedded.ts";
import { SATS } from "../../build.ts";
import { EsploraBackend, OrdClient } from "../../inscribe/index.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";
import { startEsplora } from "../../inscribe/testing/esplora-server.ts";
import { loadBitcoinKey } from "../../relay/wallet.ts";
import { registerRelay } from "../../relay/register.ts";
import { checkRecord } from "../../relay/record.ts";

let browser: Browser;
let e: Embedded;
let es: ReturnType<typeof startEsplora>;
const chain = new MemoryChain();
const tmp = () => mkdtempSync(join(tmpdir(), "lumamesh-reg-"));

beforeAll(async () => {
  browser = await launchChromium();
  es = startEsplora({ chain });
  e = await startEmbedded({ dataDir: tmp(), outDir: tmp(), chain, bootstrapBody: null });
});
afterAll(async () => {
  await browser?.close();
  es?.stop();
  await e?.stop();
});

test("registration end to end: funded, inscribed, readable on its sat, and the browser finds the relay from it", async () => {
  // Fund the relay's own address, as an operator would after `lumamesh-relay address`.
  const { signer } = loadBitcoinKey(e.dataDir);
  chain.fund(signer.script(), 60_000n, { sat: 7_000_000_000 });
  chain.mine();
  const r = await registerRelay({
    dataDir: e.dataDir,
    state: e.state,
    ip: "127.0.0.1",
    port: e.relay.port,
    network: "regtest",
    backend: new EsploraBackend(es.url),
    ord: new OrdClient(e.ord.url),
    feeRate: 2,
    broadcast: true,
    allowUnindexedRunes: true, // dev/embedded.ts's ord server does not index runes (runes: null); no rune exists on this chain
  });
  expect(r.status).toBe("registered");
  if (r.status !== "registered") return;
  chain.mine();
  // The signed record is the newest inscription on the relay's sat.
  const onChain = await (await fetch(`${e.ord.url}/r/sat/${r.sat}/at/-1/content`)).json();
  expect(checkRecord(onChain)).toEqual(onChain);
  expect(onChain).toMatchObject({ addr: `127.0.0.1:${e.relay.port}`, fp: e.state.cert.fingerprint, id: e.state.id, sat: r.sat });
  // The bootstrap config names the relay only by that sat.
  e.ord.add({ body: JSON.stringify({ lumamesh: 1, relays: [{ sat: r.sat }] }), content_type: "application/json", sat: SATS.boot });
  const probe = e.ord.add({
    content_type: "text/html;charset=utf-8",
    body: `<!doctype html><script type=module>
      import { connect } from "/content/${e.ids["lumamesh.js"]}";
      try { const n = await connect(); globalThis.result = { ok: true, relay: n.relay.addr, sources: n.sources, rtt: await n.ping() }; }
      catch (err) { globalThis.result = { ok: false, message: err.message, sources: err.sources }; }
    </script>`,
  });
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on("request", (q) => requests.push(new URL(q.url()).pathname));
  await page.goto(`${e.ord.url}/inscription/${probe.id}`);
  let frame;
  for (let i = 0; i < 100 && !(frame = page.frames().find((f) => f.url().includes("/preview/"))); i++) await Bun.sleep(50);
  await frame!.waitForFunction(() => (globalThis as any).result, null, { timeout: 20000 });
  const res = await frame!.evaluate(() => (globalThis as any).result);
  expect(res).toMatchObject({ ok: true, relay: `127.0.0.1:${e.relay.port}` });
  expect(res.sources[0]).toEqual({ source: `${e.ord.url}/r/sat/${SATS.boot}`, relays: 1 });
  expect(requests).toContain(`/r/sat/${r.sat}/at/-1/content`);
  await page.close();
}, 60000);
