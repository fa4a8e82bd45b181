// Layer-1 benchmark: Chromium → relay connect time, relay CPU per handshake, RSS per held session.
import { launchChromium, serveLibrary } from "../test/helpers/browser.ts";
import { startRelayProc } from "../test/helpers/relay.ts";
import { cpuSeconds, median, pct, rssBytes, type Row } from "./util.ts";
import type { Browser, Page } from "playwright-core";

async function page(b: Browser, url: string): Promise<Page> {
  const p = await b.newPage();
  await p.goto(url);
  await p.evaluate(async () => ((globalThis as any).L = await import("/lumamesh.js")));
  return p;
}

export async function benchLayer1(o: { connects?: number; held?: number[] } = {}): Promise<Row[]> {
  const connects = o.connects ?? 50;
  const held = o.held ?? [100, 500];
  const relay = await startRelayProc({ args: ["--log-level", "info", "--limit", "sessionsPerIp=2000"] });
  const srv = await serveLibrary();
  const browsers = [await launchChromium(), await launchChromium()];
  const rows: Row[] = [];
  try {
    const p = await page(browsers[0], srv.url);
    const rec = { addr: relay.record.addr, fp: relay.record.fp };
    // Sequential connects: new RTCPeerConnection → WELCOME (channel open + version handshake).
    const once = () => p.evaluate(async (rec) => {
      const t0 = performance.now();
      const net = await (globalThis as any).L.connect({ relays: [rec] });
      const ms = performance.now() - t0;
      net.close();
      return ms;
    }, rec);
    for (let i = 0; i < 5; i++) await once(); // warm-up (JIT on both sides)
    await Bun.sleep(300);
    const pid = relay.proc.pid;
    const cpu0 = cpuSeconds(pid);
    const times: number[] = [];
    for (let i = 0; i < connects; i++) times.push(await once());
    const cpu1 = cpuSeconds(pid);
    const L = "lumamesh";
    rows.push({ section: "layer1", metric: `Chromium → relay, new RTCPeerConnection → WELCOME, ${connects} sequential (ms median / p95)`, library: L, value: `${median(times).toFixed(1)} / ${pct(times, 95).toFixed(1)}`, ratio: "" });
    rows.push({ section: "layer1", metric: "relay CPU per handshake (ms; user+sys / connects, 10 ms tick)", library: L, value: (((cpu1 - cpu0) * 1000) / connects).toFixed(1), ratio: "" });
    // Held sessions: open N links spread over two browser processes, measure the relay's RSS.
    await Bun.sleep(1000);
    const base = rssBytes(pid);
    const pages = [p, await page(browsers[1], srv.url)];
    let open = 0;
    for (const n of held) {
      const want = n - open;
      await Promise.all(pages.map((pg, i) => pg.evaluate(async ({ rec, k }) => {
        const g = globalThis as any;
        g.nets ??= [];
        for (let j = 0; j < k; j += 25) {
          const batch = await Promise.all(Array.from({ length: Math.min(25, k - j) }, () => g.L.connect({ relays: [rec], timeout: 20000 })));
          g.nets.push(...batch);
        }
      }, { rec, k: Math.floor(want / 2) + (i == 0 ? want % 2 : 0) })));
      open = n;
      await Bun.sleep(2000);
      const rss = rssBytes(pid);
      rows.push({ section: "layer1", metric: `relay RSS per held session at ${n}, two Chromium processes (KB)`, library: "lumamesh", value: `${((rss - base) / n / 1024).toFixed(1)} (RSS ${(rss / 1048576).toFixed(1)} MB vs ${(base / 1048576).toFixed(1)} MB idle)`, ratio: "" });
    }
  } finally {
    for (const b of browsers) await b.close();
    srv.stop();
    await relay.stop();
  }
  return rows;
}
