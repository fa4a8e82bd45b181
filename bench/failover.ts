// Failover benchmark: three gossiping relays, two pages in a room (which lives on two of them); kill
// one of the room's relays, then
//  - time until both pages have the room joined on another relay, while their direct channel carries
//    on (a killed relay is noticed when Chromium's ICE reports the path disconnected and one PING
//    goes unanswered: src/link.ts);
//  - at the moment of the kill, a newcomer (a fresh browser context that knows a surviving relay)
//    joins the room: time until it meets both members, and whether it met them before the members
//    noticed the death (the room lives on two relays: the survivor is enough — issue 17).
import { launchChromium, serveLibrary } from "../test/helpers/browser.ts";
import { startRelayChain } from "../test/helpers/relay.ts";
import { median, pct, type Row } from "./util.ts";
import type { Browser, Page } from "playwright-core";

async function member(browser: Browser, url: string, rec: { addr: string; fp: string }, room: string): Promise<Page> {
  const p = await (await browser.newContext()).newPage();
  await p.goto(url);
  await p.evaluate(
    async ({ rec, room }) => {
      const g = globalThis as any;
      const { connect } = await import("/lumamesh.js");
      g.net = await connect({ relays: [rec] });
      g.room = await g.net.joinRoom(room);
    },
    { rec, room },
  );
  return p;
}

export async function benchFailover(o: { runs?: number } = {}): Promise<Row[]> {
  const runs = o.runs ?? 5;
  const srv = await serveLibrary();
  const browser = await launchChromium();
  const moved: number[] = [],
    met: number[] = [];
  let metFirst = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const relays = await startRelayChain();
      const pages: Page[] = [];
      try {
        const room = `failover-bench-${i}-${crypto.randomUUID()}`;
        for (const j of [0, 1])
          pages.push(await member(browser, srv.url, { addr: relays[j * 2]!.record.addr, fp: relays[j * 2]!.record.fp }, room));
        for (const p of pages)
          await p.waitForFunction(() => (globalThis as any).room.peers.length === 1 && (globalThis as any).room.relays.length === 2, null, {
            timeout: 15000,
          });
        const on: string[] = await pages[0]!.evaluate(() => (globalThis as any).room.relays);
        const victim = relays.find((r) => r.record.addr === on[0])!;
        const survivor = relays.find((r) => r !== victim)!;
        const t0 = Date.now();
        await victim.stop("SIGKILL");
        const newcomer = (async () => {
          const p = await member(browser, srv.url, { addr: survivor.record.addr, fp: survivor.record.fp }, room);
          pages.push(p);
          await p.waitForFunction(() => (globalThis as any).room.peers.length === 2, null, { timeout: 30000, polling: 20 });
          const t = Date.now() - t0;
          // Had the members noticed the death yet (room moved off the dead relay on either)?
          const noticed = await Promise.all(
            pages.slice(0, 2).map((m) => m.evaluate((v) => !(globalThis as any).room.relays.includes(v), victim.record.addr)),
          );
          return { t, noticed: noticed.some(Boolean) };
        })();
        await Promise.all(
          pages.slice(0, 2).map((p) =>
            p.waitForFunction(
              (v) => {
                const r = (globalThis as any).room.relays;
                return r.length === 2 && !r.includes(v);
              },
              victim.record.addr,
              { timeout: 30000, polling: 20 },
            ),
          ),
        );
        moved.push(Date.now() - t0);
        const n = await newcomer;
        met.push(n.t);
        if (!n.noticed) metFirst++;
      } finally {
        for (const p of pages)
          await p
            .context()
            .close()
            .catch(() => {});
        for (const r of relays) await r.stop().catch(() => 0);
      }
    }
  } finally {
    await browser.close();
    srv.stop();
  }
  return [
    {
      section: "failover",
      metric: `relay SIGKILLed → room joined on another relay on both pages (ms median / p95, n=${runs})`,
      library: "lumamesh",
      value: `${median(moved)} / ${pct(moved, 95)}`,
      ratio: "",
      note: "noticed: Chromium's ICE reports the path disconnected (~5 s without consent answers), then one PING goes unanswered (1 s)",
    },
    {
      section: "failover",
      metric: `relay SIGKILLed → a newcomer (fresh context, knows a surviving relay) joining at once meets both members (ms median / p95, n=${runs})`,
      library: "lumamesh",
      value: `${median(met)} / ${pct(met, 95)}`,
      ratio: "",
      note: `${metFirst} of ${runs} met them before either member had noticed the death`,
    },
  ];
}

if (import.meta.main) {
  const { table } = await import("./util.ts");
  console.log(table(await benchFailover({ runs: Number(process.env.RUNS ?? 5) })));
  process.exit(0);
}
