// Failover benchmark: three gossiping relays, two pages in a room (which lives on two of them);
// kill one of the room's relays and time until both pages have the room joined on another relay,
// while their direct channel carries on. Target: ≤ 3 s.
import { launchChromium, serveLibrary } from "../test/helpers/browser.ts";
import { startRelayChain } from "../test/helpers/relay.ts";
import { median, pct, type Row } from "./util.ts";

export async function benchFailover(o: { runs?: number } = {}): Promise<Row[]> {
  const runs = o.runs ?? 5;
  const srv = await serveLibrary();
  const browser = await launchChromium();
  const moved: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const relays = await startRelayChain();
      try {
        const pages = [await browser.newPage(), await browser.newPage()];
        for (const [j, p] of pages.entries()) {
          await p.goto(srv.url);
          const r = relays[j * 2].record;
          await p.evaluate(async (rec) => {
            const g = globalThis as any;
            const { connect } = await import("/lumamesh.js");
            g.net = await connect({ relays: [rec] });
            g.room = await g.net.joinRoom("failover-bench");
          }, { addr: r.addr, fp: r.fp });
        }
        for (const p of pages) await p.waitForFunction(() => (globalThis as any).room.peers.length == 1 && (globalThis as any).room.relays.length == 2, null, { timeout: 15000 });
        const on: string[] = await pages[0].evaluate(() => (globalThis as any).room.relays);
        const victim = relays.find((r) => r.record.addr == on[0])!;
        const t0 = Date.now();
        await victim.stop("SIGKILL");
        for (const p of pages) await p.waitForFunction((v) => { const r = (globalThis as any).room.relays; return r.length == 2 && !r.includes(v); }, victim.record.addr, { timeout: 15000 });
        moved.push(Date.now() - t0);
        for (const p of pages) await p.close();
      } finally {
        for (const r of relays) await r.stop().catch(() => 0);
      }
    }
  } finally {
    await browser.close();
    srv.stop();
  }
  return [{ section: "failover", metric: `relay SIGKILLed → room joined on another relay on both pages (ms median / p95, n=${runs}; target ≤ 3000)`, library: "lumamesh", value: `${median(moved)} / ${pct(moved, 95)}`, ratio: "" }];
}

if (import.meta.main) {
  const { table } = await import("./util.ts");
  console.log(table(await benchFailover()));
}
