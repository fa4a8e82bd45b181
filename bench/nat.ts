// NAT section: joinRoom → first application message between two headless Chromium browsers, each
// in its own network namespace behind its own NAT router (test/net/netns.ts), for both router
// flavours: cone (endpoint-independent mapping) and symmetric (endpoint-dependent). Lumamesh meets
// at its relay on the public test segment; Trystero-nostr at our NIP-01 relay (bench/nostr-relay.ts)
// on the same host. Both get the same ICE servers: only the Lumamesh relay's STUN responder (no
// TURN: across symmetric NATs Lumamesh falls back to its relay, Trystero has nothing to fall back
// on). Fresh pages for every run; the clock starts when the second page calls demo() (connect or
// open the signaling socket, join, send "hello" on the peer event) and stops at the first message
// on each side. Everything runs between namespaces this section creates; needs root.
import { createTestNet, type NatKind, type NetHost } from "../test/net/netns.ts";
import { launchIn, type NetBrowser } from "../test/net/browsers.ts";
import { startRelayProc } from "../test/helpers/relay.ts";
import { startChild } from "./procs.ts";
import { bundleEntry, ENTRIES } from "./size.ts";
import { libVersion, median, pct, type Row } from "./util.ts";

const LIBS = ["lumamesh", "trystero-nostr"] as const;
type Lib = (typeof LIBS)[number];
const TIMEOUT_MS = 15_000;

const PAGE = "<!doctype html><meta charset=utf-8><title>bench nat</title>";
/** Load `lib` in a fresh page and arm the first-message clock. */
const LOAD = (lib: Lib) => `(async () => {
  const g = globalThis;
  g.M = await import("/${lib}.js");
  g.now = () => performance.timeOrigin + performance.now();
  g.first = new Promise((r) => (g.gotFirst = r));
  return true;
})()`;
const DEMO = (cfg: object) => `(async () => {
  const g = globalThis;
  const t0 = g.now();
  g.room = await g.M.demo(${JSON.stringify(cfg)}, () => g.gotFirst(g.now()));
  return t0;
})()`;
const WAIT = `Promise.race([globalThis.first, new Promise((r) => setTimeout(() => r(null), ${TIMEOUT_MS}))])`;

export async function benchNat(o: { runs?: Record<NatKind, number> } = {}): Promise<Row[]> {
  const runs = o.runs ?? { cone: 10, symmetric: 5 };
  const net = await createTestNet();
  const rows: Row[] = [];
  const browsers: NetBrowser[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const pub = await net.publicHost("relay");
    const relay = await startRelayProc({ netns: pub.ns, host: pub.ip, args: ["--log-level", "info"] });
    stops.push(() => relay.stop());
    const nostr = await startChild(["ip", "netns", "exec", pub.ns, process.execPath, "bench/nostr-relay.ts", "--host", pub.ip]);
    stops.push(() => nostr.stop());
    const stun = { iceServers: [{ urls: `stun:${relay.record.addr}` }] };
    const cfg: Record<Lib, object> = {
      lumamesh: { relays: [{ addr: relay.record.addr, fp: relay.record.fp }] },
      "trystero-nostr": { appId: "lumamesh-bench-nat", urls: [`ws://${pub.ip}:${nostr.port}`], rtcConfig: stun },
    };
    const routes = { "/": { body: PAGE, type: "text/html" } } as Record<string, { body: string | Uint8Array; type: string }>;
    for (const lib of LIBS) routes[`/${lib}.js`] = { body: await bundleEntry(lib), type: "text/javascript" };

    for (const kind of ["cone", "symmetric"] as NatKind[]) {
      let ours: { joiner: number[]; member: number[] } | undefined;
      const hosts: NetHost[] = [];
      for (const side of ["a", "b"])
        hosts.push(await (await net.natRouter(`${kind.slice(0, 3)}${side}r`, kind)).host(`${kind.slice(0, 3)}${side}`));
      const sites = await Promise.all(hosts.map((h) => h.serve(routes)));
      const [a, b] = await Promise.all(hosts.map((h) => launchIn(h, "chromium")));
      browsers.push(a, b);
      for (const lib of LIBS) {
        const n = lib === "trystero-nostr" && kind === "symmetric" ? Math.min(3, runs[kind]) : runs[kind];
        const res = { joiner: [] as number[], member: [] as number[], fails: 0 };
        for (let i = 0; i <= n; i++) {
          for (const [k, p] of [a, b].entries()) await p.goto(sites[k].url + "/"), await p.evaluate(LOAD(lib));
          const room = `bench-nat-${kind}-${lib}-${i}-${crypto.randomUUID()}`;
          await a.evaluate(DEMO({ ...cfg[lib], room }));
          await Bun.sleep(200); // A's JOIN or subscription reaches its relay
          const t0 = await b.evaluate<number>(DEMO({ ...cfg[lib], room }));
          const [ta, tb] = await Promise.all([a.evaluate<number | null>(WAIT), b.evaluate<number | null>(WAIT)]);
          if (i === 0) continue; // warm-up
          if (ta == null || tb == null) {
            res.fails++;
            continue;
          }
          res.joiner.push(tb - t0), res.member.push(ta - t0);
        }
        console.error(
          `nat ${kind} ${lib}: joiner ${res.joiner.map((x) => x.toFixed(0)).join(" ")}; member ${res.member.map((x) => x.toFixed(0)).join(" ")}; ${res.fails} timed out`,
        );
        const name = libVersion(ENTRIES[lib].lib) + (lib === "trystero-nostr" ? " (nostr)" : "");
        const fmt = (xs: number[]) =>
          xs.length ? `${median(xs).toFixed(0)} / ${pct(xs, 95).toFixed(0)}` : `n/a: no message in ${TIMEOUT_MS / 1000} s`;
        const label = kind === "cone" ? "across two cone NATs" : "across two symmetric NATs";
        const count = `n=${res.joiner.length}${res.fails ? `, ${res.fails} of ${n} never met within ${TIMEOUT_MS / 1000} s` : ""}`;
        for (const side of ["joiner", "member"] as const)
          rows.push({
            section: "nat",
            metric: `${label}: joinRoom → first message, ${side === "joiner" ? "joining page" : "page already in"} (ms median / p95, ${count}; fresh pages)`,
            library: name,
            value: fmt(res[side]),
            ratio:
              lib === "lumamesh"
                ? "1 (ours)"
                : ours?.[side].length && res[side].length
                  ? `ours/theirs ${(median(ours[side]) / median(res[side])).toFixed(2)}`
                  : "",
          });
        if (lib === "lumamesh") ours = res;
      }
      for (const p of browsers.splice(0)) await p.close();
    }
    rows.push({
      section: "nat",
      metric: "network",
      library: "all",
      value: "namespaces and veth pairs made by this section; NAT by nftables masquerade (symmetric: fully-random)",
      ratio: "",
    });
  } finally {
    for (const p of browsers) await p.close().catch(() => {});
    for (const s of stops.reverse()) await s().catch(() => {});
    await net.destroy();
  }
  return rows;
}
