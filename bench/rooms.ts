// Rooms benchmark: time from the second page's joinRoom() to the `peer` event on both sides, and
// direct-channel throughput for 64 KB messages. Two Chromium pages, one relay, all on loopback.
import { launchChromium, serveLibrary } from "../test/helpers/browser.ts";
import { startRelayProc } from "../test/helpers/relay.ts";
import { median, pct, type Row } from "./util.ts";

export async function benchRooms(o: { runs?: number; mb?: number } = {}): Promise<Row[]> {
  const runs = o.runs ?? 20, mb = o.mb ?? 32;
  const relay = await startRelayProc({ args: ["--log-level", "info"] });
  const srv = await serveLibrary();
  const browser = await launchChromium();
  const rows: Row[] = [];
  try {
    const rec = { addr: relay.record.addr, fp: relay.record.fp };
    const [a, b] = [await browser.newPage(), await browser.newPage()];
    for (const p of [a, b]) {
      await p.goto(srv.url);
      await p.evaluate(async (rec) => {
        const g = globalThis as any;
        g.L = await import("/lumamesh.js");
        g.net = await g.L.connect({ relays: [rec] });
        g.now = () => performance.timeOrigin + performance.now();
      }, rec);
    }
    const first: number[] = [], second: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const name = `bench-${i}-${crypto.randomUUID()}`;
      // Page A is in the room first and notes when its `peer` event fires.
      await a.evaluate(async (name) => {
        const g = globalThis as any;
        g.room = await g.net.joinRoom(name);
        g.seen = new Promise((r) => g.room.on("peer", () => r(g.now())));
      }, name);
      const t = await b.evaluate(async (name) => {
        const g = globalThis as any;
        const t0 = g.now();
        let seen!: (v: number) => void;
        const p = new Promise<number>((r) => (seen = r));
        const room = await g.net.joinRoom(name);
        room.on("peer", () => seen(g.now()));
        g.room = room;
        return { t0, t1: await p };
      }, name);
      const ta = await a.evaluate(() => (globalThis as any).seen);
      if (i >= 2) first.push(ta - t.t0), second.push(t.t1 - t.t0); // 2 warm-up runs
      if (i < runs + 1) for (const p of [a, b]) await p.evaluate(() => (globalThis as any).room.leave());
    }
    rows.push({ metric: `joinRoom → peer, joiner (ms, n=${runs})`, median: median(second), p95: pct(second, 95) });
    rows.push({ metric: `joinRoom → peer, member already in (ms, n=${runs})`, median: median(first), p95: pct(first, 95) });
    // Throughput: A sends `mb` MB as 64 KB messages; B notes when the last byte arrived.
    const total = mb * 1024 * 1024;
    await b.evaluate((total) => {
      const g = globalThis as any;
      let got = 0;
      g.done = new Promise((r) => g.room.on("message", (d: Uint8Array) => (got += d.length) >= total && r(g.now())));
    }, total);
    const t0 = await a.evaluate(async (total) => {
      const g = globalThis as any;
      const peer = g.room.peers[0];
      const msg = new Uint8Array(65536);
      const t0 = g.now();
      for (let s = 0; s < total; s += msg.length) await peer.send(msg);
      return t0;
    }, total);
    const t1 = await b.evaluate(() => (globalThis as any).done);
    rows.push({ metric: `direct channel throughput, 64 KB messages (MB/s, ${mb} MB)`, median: mb / ((t1 - t0) / 1000), p95: "" });
  } finally {
    await browser.close();
    srv.stop();
    await relay.stop();
  }
  return rows;
}
