// Attack section: legitimate connects to a real relay process (from source, default limits) while
// it is under attack, beside the no-attack baseline in the same run (alternating rounds: baseline,
// (a), baseline, (b), baseline, (c), … repeated), and the reflection factor of every
// unauthenticated input (bench/reflection.ts). Attacks come from bench/attacker.ts, a separate
// process at lower CPU priority (nice 10: a real attacker is on another machine and takes no CPU
// from the relay or its clients); how many datagrams per second it actually sent is reported.
// Legitimate clients: the relay's own Layer-1 client (relay/client.ts: connect → WELCOME, then
// PING → PONG) and headless Chromium running the library's connect() (→ WELCOME).
// Loopback only: the spoofed sources are addresses in 127/8.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { openRelayLink } from "../relay/client.ts";
import { DEFAULT_LIMITS } from "../relay/limits.ts";
import { generateCertificate } from "../relay/werift.ts";
import { T } from "../protocol/frames.ts";
import { launchChromium, serveLibrary } from "../test/helpers/browser.ts";
import { startRelayProc } from "../test/helpers/relay.ts";
import { HEADERS, measureGossip, measureInputs } from "./reflection.ts";
import { cpuSeconds, LineChild, median, pct, rssBytes, type Row } from "./util.ts";

const CONDITIONS = {
  baseline: "no attack",
  checks: "(a) spoofed valid ICE checks",
  junk: "(b) junk flood",
  fragments: "(c) fragment attack",
} as const;
const DESCRIBE = {
  checks:
    "(a) valid ICE checks (USERNAME A:A, integrity keyed by A, FINGERPRINT; 144 B), each with its own key, from 1,024 spoofed sources in 256 /24s (127.1.j.1–4)",
  junk: "(b) random datagrams of 1–300 B in every first-byte range (STUN 0–3, with and without a valid header; 4–19; DTLS 20–63, some with a handshake record header; 64–255) from the same sources",
  fragments:
    "(c) one third 39-byte handshake fragments claiming a 16 MiB Certificate at random offsets, one third cookieless ClientHellos (267 B), both from the same sources, and one third the same fragments from 16 addresses that did the cookie exchange (live handshaking sessions at the relay, renewed every 8 s)",
};
type Cond = keyof typeof CONDITIONS;

/** The attacker: a child process answering one JSON line per command (bench/attacker.ts). */
const startAttacker = (port: number, fp: string) =>
  new LineChild(["nice", "-n", "10", process.execPath, join(import.meta.dir, "attacker.ts"), String(port), fp], "attacker", 60000);

/** Datagrams the kernel dropped at the relay's socket (receive buffer full): /proc/net/udp "drops". */
function kernelDrops(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const l of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f[1] === `0100007F:${hex}`) return Number(f[f.length - 1]);
  }
  return NaN;
}
/** CPU time of the whole machine, busy and total (jiffies), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Round {
  cond: Cond;
  bun: number[];
  bunFail: string[];
  chromium: number[];
  chromiumFail: string[];
  wall: number;
  relayCpu: number;
  attackerCpu: number;
  benchCpu: number;
  machine: number;
  rssMax: number;
  drops: number;
  load: number;
  sent?: number;
  pps?: number;
  replies?: number;
  live?: { sessions: number; handshakes: number; established: number };
}

export async function benchAttack(o: { rounds?: number; connects?: number; pps?: number; seconds?: number } = {}): Promise<Row[]> {
  // Per round: K connects of each client, spread over at least `seconds` of attack.
  const R = o.rounds ?? 3,
    K = o.connects ?? 12,
    PPS = o.pps ?? 10000,
    SECONDS = o.seconds ?? 5;
  const relay = await startRelayProc({ args: ["--log-level", "info", "--stats-interval", "1"] });
  const rec = { addr: relay.record.addr, fp: relay.record.fp };
  const port = relay.record.port,
    pid = relay.proc.pid;
  const attacker = startAttacker(port, rec.fp);
  const srv = await serveLibrary();
  let browser: Browser | undefined;
  const cert = await generateCertificate();
  const rounds: Round[] = [];
  const rows: Row[] = [];
  const load0 = loadavg();
  try {
    browser = await launchChromium();
    const page: Page = await browser.newPage();
    await page.goto(srv.url);
    await page.evaluate(async () => ((globalThis as any).L = await import("/lumamesh.js")));
    const chromiumOnce = () =>
      page.evaluate(async (rec) => {
        const t0 = performance.now();
        try {
          const net = await (globalThis as any).L.connect({ relays: [rec], timeout: 10000 });
          const ms = performance.now() - t0;
          net.close();
          return ms;
        } catch (e) {
          return String((e as Error)?.message ?? e);
        }
      }, rec);
    const bunOnce = async (): Promise<number | string> => {
      const t0 = performance.now();
      try {
        const link = await openRelayLink(rec, cert, { timeout: 10000 });
        const pong = new Promise<void>((res) => (link.onframe = (f) => f.t === T.PONG && res()));
        link.send({ t: T.PING, data: Uint8Array.of(1) });
        const ok = await Promise.race([pong.then(() => true), Bun.sleep(Math.max(0, 10000 - (performance.now() - t0))).then(() => false)]);
        const ms = performance.now() - t0;
        link.close();
        return ok ? ms : "no PONG in 10 s";
      } catch (e) {
        return String((e as Error).message);
      }
    };
    for (let i = 0; i < 5; i++) await bunOnce(), await chromiumOnce(); // warm-up: JIT on every side

    const round = async (cond: Cond): Promise<Round> => {
      let started: any;
      if (cond !== "baseline") {
        started = await attacker.ask({ cmd: "start", kind: cond, pps: PPS });
        await Bun.sleep(1000); // at full rate before the first connect
      }
      const r: Round = {
        cond,
        bun: [],
        bunFail: [],
        chromium: [],
        chromiumFail: [],
        wall: 0,
        relayCpu: 0,
        attackerCpu: 0,
        benchCpu: 0,
        machine: 0,
        rssMax: 0,
        drops: 0,
        load: 0,
      };
      let rssMax = rssBytes(pid);
      const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssBytes(pid))), 200);
      const t0 = performance.now(),
        c0 = cpuSeconds(pid),
        a0 = attacker.cpu(),
        b0 = selfCpu(),
        m0 = machineCpu(),
        d0 = kernelDrops(port);
      for (let i = 0; i < K; i++) {
        const b = await bunOnce();
        typeof b === "number" ? r.bun.push(b) : r.bunFail.push(b);
        const c = await chromiumOnce();
        typeof c === "number" ? r.chromium.push(c) : r.chromiumFail.push(c);
        const next = t0 + ((i + 1) * SECONDS * 1000) / K;
        if (performance.now() < next) await Bun.sleep(next - performance.now());
      }
      const wall = (performance.now() - t0) / 1000,
        m1 = machineCpu();
      r.wall = wall;
      r.relayCpu = (cpuSeconds(pid) - c0) / wall;
      r.attackerCpu = (attacker.cpu() - a0) / wall;
      r.benchCpu = (selfCpu() - b0) / wall;
      r.machine = (2 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total); // of 2 cores
      r.drops = kernelDrops(port) - d0;
      clearInterval(sampler);
      r.rssMax = Math.max(rssMax, rssBytes(pid));
      r.load = loadavg()[0]!;
      if (cond !== "baseline") {
        const s = await attacker.ask({ cmd: "stop" });
        (r.sent = s.sent), (r.pps = s.sent / (s.ms / 1000)), (r.replies = s.replies), (r.live = s.live);
        await Bun.sleep(1500); // let the relay drain before the next round
      }
      const f = (xs: number[]) => (xs.length ? `${median(xs).toFixed(0)} ms` : "-");
      console.log(
        `attack: ${cond.padEnd(9)} bun ${r.bun.length}/${K} ${f(r.bun)}, chromium ${r.chromium.length}/${K} ${f(r.chromium)}; relay CPU ${(100 * r.relayCpu).toFixed(0)}%, RSS ${(r.rssMax / 2 ** 20).toFixed(0)} MB${r.pps ? `, sent ${r.pps.toFixed(0)} pps (attacker CPU ${(100 * r.attackerCpu).toFixed(0)}%)` : ""}, machine ${(100 * r.machine).toFixed(0)}% of 200%, load ${r.load.toFixed(2)}${started?.live !== undefined && cond === "fragments" ? `, live sessions ${r.live?.established}` : ""}`,
      );
      return r;
    };
    for (let k = 0; k < R; k++)
      for (const cond of ["checks", "junk", "fragments"] as Cond[]) rounds.push(await round("baseline"), await round(cond));

    // Rows: latency per condition and client, then what the relay and the machine did.
    const L = "lumamesh relay";
    const of = (c: Cond) => rounds.filter((r) => r.cond === c);
    const base = { bun: of("baseline").flatMap((r) => r.bun), chromium: of("baseline").flatMap((r) => r.chromium) };
    for (const cond of Object.keys(CONDITIONS) as Cond[]) {
      const rs = of(cond);
      for (const client of ["bun", "chromium"] as const) {
        const ok = rs.flatMap((r) => r[client]),
          fails = rs.flatMap((r) => r[client === "bun" ? "bunFail" : "chromiumFail"]);
        const n = ok.length + fails.length;
        const why = [...new Set(fails)].slice(0, 2).join("; ");
        rows.push({
          section: "attack",
          metric: `${CONDITIONS[cond]}: ${client === "bun" ? "Bun client (relay/client.ts) connect → WELCOME → PONG" : "Chromium connect() → WELCOME"} (ms median / p95; ok/n)`,
          library: L,
          value: ok.length ? `${median(ok).toFixed(1)} / ${pct(ok, 95).toFixed(1)} (${ok.length}/${n})` : `n/a (0/${n})`,
          ratio: cond === "baseline" || !ok.length ? "" : `attacked/baseline ${(median(ok) / median(base[client])).toFixed(2)}`,
          note: `round medians ${rs.map((r) => (r[client].length ? median(r[client]).toFixed(0) : "-")).join(", ")}${fails.length ? `; ${fails.length} failed: ${why}` : ""}`,
        });
      }
    }
    for (const cond of Object.keys(CONDITIONS) as Cond[]) {
      const rs = of(cond);
      const m = (f: (r: Round) => number) => median(rs.map(f));
      const pps =
        cond === "baseline"
          ? ""
          : `attacker sent ${m((r) => r.pps!).toFixed(0)} pps of ${PPS} asked (rounds: ${rs.map((r) => r.pps!.toFixed(0)).join(", ")}), attacker CPU ${(100 * m((r) => r.attackerCpu)).toFixed(0)}% at nice 10, relay replies to the spoofed sources ${(m((r) => r.replies! / (r.sent! / r.pps!))).toFixed(0)}/s; `;
      const live =
        cond === "fragments"
          ? `live handshaking sessions made by the attacker per round: ${rs.map((r) => r.live?.established ?? 0).join(", ")}; `
          : "";
      rows.push({
        section: "attack",
        metric: `${CONDITIONS[cond]}: relay CPU % of a core / RSS max MB / datagrams the kernel dropped at its socket`,
        library: L,
        value: `${(100 * m((r) => r.relayCpu)).toFixed(0)}% / ${(Math.max(...rs.map((r) => r.rssMax)) / 2 ** 20).toFixed(0)} MB / ${rs.reduce((a, r) => a + r.drops, 0)}`,
        ratio: "",
        note: `${pps}${live}bench process CPU ${(100 * m((r) => r.benchCpu)).toFixed(0)}%, machine busy ${(100 * m((r) => r.machine)).toFixed(0)}% of 200%, load average ${m((r) => r.load).toFixed(2)} (medians over ${rs.length} rounds)`,
      });
    }

    rows.push({
      section: "attack",
      metric:
        "attacks, as sent by bench/attacker.ts (a separate process at nice 10; rounds alternate baseline, a, baseline, b, baseline, c)",
      library: "",
      value: `${PPS} pps asked, ${R} rounds each, ${K} connects per client per round over ≥ ${SECONDS} s`,
      ratio: "",
      note: Object.values(DESCRIBE).join("; "),
    });

    // Reflection: every unauthenticated input, on the wire.
    const refl = await measureInputs(port);
    for (const x of refl) {
      const answered = x.replies > 0;
      const ratio = x.rx / x.tx,
        ratioH = (x.rx + HEADERS * x.rxN) / (x.tx + HEADERS * x.txN);
      rows.push({
        section: "attack",
        metric: `reflection: ${x.label} (${x.req} B)`,
        library: L,
        value: answered ? `${x.reply} B ${x.answer} → ${ratio.toFixed(2)}×` : "no reply → 0×",
        ratio: answered ? `${ratioH.toFixed(2)}× with IPv4+UDP headers` : "",
        note: `${x.replies}/${x.n} answered${ratio > 1 ? "; ABOVE 1×" + (x.label.startsWith("plain STUN") ? ": by design, like every STUN server (the answer carries the sender's address)" : "") : ""}${x.note ? "; " + x.note : ""}`,
      });
    }
    const g = await measureGossip(port, rec.fp, cert);
    rows.push({
      section: "attack",
      metric: `reflection: gossip RECORDS frame from a relay-identity session naming ${g.n} unreachable relays (${g.frame} B of JSON, padded to ${g.n} × PROBE_COST)`,
      library: L,
      value: `${g.sink} B in ${g.sinkN} checks to the named addresses / ${g.wire} B in ${g.wireN} datagrams sent → ${(g.sink / g.wire).toFixed(2)}×`,
      ratio: `${((g.sink + HEADERS * g.sinkN) / (g.wire + HEADERS * g.wireN)).toFixed(2)}× with IPv4+UDP headers`,
      note: `${(g.sink / g.frame).toFixed(2)}× the frame's JSON; checks of ${(g.sink / Math.max(1, g.sinkN)).toFixed(0)} B each, where relay/gossip.ts PROBE_COST = ${g.probeCost} assumes 6 × 144 B; per frame, after a ${g.handshake} B handshake; ${g.selfProbes} checks went to the sender's own record address (free by design)`,
    });
    // The per-/24 budget: a 10k pps flood from 254 addresses of one /24, replies per second to that /24.
    const kinds = [
      ["checks", "valid ICE checks"],
      ["hellos", "cookieless ClientHellos"],
      ["binding", "plain STUN Bindings"],
      ["errors", "checks with bad integrity (401)"],
    ] as const;
    for (const [i, [kind, label]] of kinds.entries()) {
      const b = await attacker.ask({ cmd: "budget", kind, pps: PPS, seconds: 4, net: i }, 60000);
      const steady = b.perSecond.slice(1).reduce((a: number, x: number) => a + x, 0) / (b.perSecond.length - 1);
      rows.push({
        section: "attack",
        metric: `reply budget: replies/s to one /24 flooded with ${label} at ${PPS} pps (254 sources, 4 s)`,
        library: L,
        value: `${steady.toFixed(0)}/s after the first second (per second: ${b.perSecond.join(", ")})`,
        ratio: "",
        note: `attacker sent ${(b.sent / (b.ms / 1000)).toFixed(0)} pps; ${(b.bytes / 4 / 1024).toFixed(0)} KiB/s back; budget unauthReplyRate=${DEFAULT_LIMITS.unauthReplyRate}/s, burst ${DEFAULT_LIMITS.unauthReplyBurst}${steady > 1.5 * DEFAULT_LIMITS.unauthReplyRate ? ": NOT LIMITED by it" : ""}`,
      });
    }
    const load1 = loadavg();
    rows.push({
      section: "attack",
      metric: "load average (1/5/15 min) at the start and the end of this section",
      library: "machine",
      value: `${load0.map((x) => x.toFixed(2)).join(" ")} → ${load1.map((x) => x.toFixed(2)).join(" ")}`,
      ratio: "",
      note: "2 cores, shared with whatever else runs on this machine",
    });
  } finally {
    await browser?.close();
    srv.stop();
    await attacker.stop();
    await relay.stop();
  }
  return rows;
}
