// Capacity section: one relay process under Layer-1 load from bench/loadgen.ts worker processes, all
// on loopback. Every timed row is the median of ROUNDS rounds (the order of what is compared
// alternating between rounds), with the load average printed.
//  - handshakes/s against concurrency (1 × 8 … 2 × 128 in flight), and relay CPU per handshake;
//  - a burst: 1,000 handshakes started at once, against the relay's default global limits;
//  - held sessions behaving like idle pages (ICE consent checks, SCTP heartbeats, src/link.ts's
//    PINGs): relay RSS per session and idle relay CPU at 1,000 / 5,000 / 10,000, and the floor under
//    the last: a bare UDP echo of the same consent-check datagrams (bench/floor.ts);
//  - forwarded signaling messages per second (pairs of sessions in rooms, SEND → DELIVER).
// Loopback is one IPv4 address and one /24, so the relay's per-address and per-network budgets
// (sessionsPerIp, halfOpenPerNet, unauthReplyRate/Burst: docs/protocol.md §7), which would see every
// load generator as one abusive network, are raised with --limit for every run here (PER_NET). The
// concurrency sweep also lifts the global creation limits (createRate/Burst, halfOpen) to find the
// CPU ceiling instead of the configured one; the burst and held rows run with the shipped defaults.
// With BENCH_PROFILE=DIR the relay runs under `bun --cpu-prof --cpu-prof-md` (profile in DIR).
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { alternate, cpuSeconds, cpuSplit, LineChild, loadNote, median, medianOf, rssBytes, type Row } from "./util.ts";
import { PING_AFTER_MS } from "../src/link.ts";
import { echoCommands, measureEcho, udpFloor, udpInDatagrams } from "./floor.ts";

const ROOT = join(import.meta.dir, "..");
/** Per-address and per-network budgets: loopback is one address and one /24. */
export const PER_NET = [
  "sessionsPerIp=100000",
  "halfOpenPerNet=100000",
  "unauthReplyRate=1000000",
  "unauthReplyBurst=1000000",
  "membersPerIp=100000",
];
/** Global creation limits lifted for the concurrency sweep only. */
const SWEEP = ["createRate=100000", "createBurst=100000", "halfOpen=100000"];
const MSG_LIMITS = ["msgRate=1000000", "msgBurst=1000000"];
/** Chromium's ICE consent checks on an idle link: one per ~2.7 s (bench/layer1.ts measures it). */
const CONSENT_MS = 2700;

export async function startRelay(limits: string[], profileDir?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), "lumamesh-bench-relay-"));
  const prof = profileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${profileDir}`] : [];
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data-dir",
    dataDir,
    "--log-level",
    "info",
    "--stats-interval",
    "1",
    "--ord",
    "none",
    ...limits.flatMap((l) => ["--limit", l]),
  ];
  const proc = Bun.spawn([process.execPath, ...prof, join(ROOT, "relay/main.ts"), ...args], {
    stdout: "pipe",
    stderr: "inherit",
    stdin: "ignore",
  });
  const reader = proc.stdout.getReader();
  let buf = "";
  let stats: Record<string, number> = {},
    sessions = 0;
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) throw new Error("relay exited before listening");
    buf += new TextDecoder().decode(value);
    for (const line of buf.split("\n")) {
      let l: any;
      try {
        l = JSON.parse(line);
      } catch {
        continue;
      }
      if (l.event === "relay.listening") {
        // Keep draining its log; remember the last relay.stats counters.
        (async () => {
          let rest = "";
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
            rest += new TextDecoder().decode(r.value);
            const lines = rest.split("\n");
            rest = lines.pop()!;
            for (const x of lines)
              if (x.includes('"relay.stats"'))
                try {
                  const j = JSON.parse(x);
                  (stats = j.counters), (sessions = j.sessions);
                } catch {}
          }
        })();
        return {
          proc,
          port: l.port as number,
          fp: l.record.fp as string,
          counters: () => stats,
          sessions: () => sessions,
          stop: () => (proc.kill("SIGTERM"), proc.exited),
        };
      }
    }
  }
  throw new Error("relay not listening after 15 s");
}
type Relay = Awaited<ReturnType<typeof startRelay>>;

/** A load generator: a child process answering one JSON line per command (bench/loadgen.ts). */
export const startWorker = (port: number, fp: string, pingMs = PING_AFTER_MS) =>
  new LineChild(
    [process.execPath, join(import.meta.dir, "loadgen.ts"), "127.0.0.1", String(port), fp, String(CONSENT_MS), String(pingMs)],
    "loadgen",
    120000,
  );
type Worker = LineChild;

/** `n` handshakes over the workers, `c` in flight on each; wall time, CPU and results. */
export async function openOn(relay: Relay, workers: Worker[], n: number, c: number) {
  const c0 = cpuSeconds(relay.proc.pid),
    g0 = workers.reduce((s, w) => s + w.cpu(), 0),
    t0 = performance.now();
  const res = await Promise.all(
    workers.map((w, i) =>
      w.ask({ cmd: "open", n: Math.floor(n / workers.length) + (i === 0 ? n % workers.length : 0), concurrency: c }, 900000),
    ),
  );
  const wall = (performance.now() - t0) / 1000,
    relayCpu = cpuSeconds(relay.proc.pid) - c0,
    genCpu = workers.reduce((s, w) => s + w.cpu(), 0) - g0;
  const ok = res.reduce((s, r) => s + r.opened, 0),
    failed = res.reduce((s, r) => s + r.failed, 0);
  const errors: Record<string, number> = {};
  for (const r of res) for (const [k, v] of Object.entries(r.errors as Record<string, number>)) errors[k] = (errors[k] ?? 0) + v;
  return {
    ok,
    failed,
    wall,
    relayCpu,
    genCpu,
    p50: Math.max(...res.map((r) => r.p50 || 0)),
    p95: Math.max(...res.map((r) => r.p95 || 0)),
    max: Math.max(...res.map((r) => r.max || 0)),
    errors,
  };
}
const errText = (e: Record<string, number>) =>
  Object.entries(e)
    .map(([k, v]) => `${k} ×${v}`)
    .join(", ");
async function dropAll(relay: Relay, workers: Worker[]) {
  await Promise.all(workers.map((w) => w.ask({ cmd: "drop" })));
  for (
    const end = Date.now() + 15000;
    Date.now() < end &&
    (relay.counters()["sessions.created"] ?? 0) -
      Object.entries(relay.counters())
        .filter(([k]) => k.startsWith("sessions.closed."))
        .reduce((s, [, v]) => s + v, 0) >
      0;
  )
    await Bun.sleep(250);
  await Bun.sleep(1500);
}

export async function benchCapacity(
  o: { rounds?: number; sweepN?: number; burst?: number; held?: number[]; pairs?: number; seconds?: number } = {},
): Promise<Row[]> {
  const R = o.rounds ?? 3,
    SWEEP_N = o.sweepN ?? 400,
    BURST = o.burst ?? 1000,
    HELD = o.held ?? [1000, 5000, 10000];
  const rows: Row[] = [];
  const lib = `lumamesh relay (Bun ${Bun.version}, werift)`;
  const section = "capacity";

  // 1. Concurrency sweep, creation limits lifted.
  {
    const relay = await startRelay([...PER_NET, ...SWEEP, ...MSG_LIMITS], process.env.BENCH_PROFILE);
    const workers = [startWorker(relay.port, relay.fp), startWorker(relay.port, relay.fp)];
    try {
      await openOn(relay, [workers[0]!], 300, 16); // warm-up: JIT on both sides
      await dropAll(relay, workers);
      const levels = [
        [1, 8],
        [1, 32],
        [2, 64],
        [2, 128],
      ] as const;
      const res = new Map<string, Awaited<ReturnType<typeof openOn>>[]>();
      const load = await alternate(levels, R, async ([nw, c]) => {
        const r = await openOn(relay, workers.slice(0, nw), SWEEP_N, c);
        res.set(`${nw}×${c}`, [...(res.get(`${nw}×${c}`) ?? []), r]);
        await dropAll(relay, workers);
      });
      for (const [nw, c] of levels) {
        const rs = res.get(`${nw}×${c}`)!;
        const failed = rs.reduce((s, r) => s + r.failed, 0);
        const errs: Record<string, number> = {};
        for (const r of rs) for (const [k, v] of Object.entries(r.errors)) errs[k] = (errs[k] ?? 0) + v;
        rows.push({
          section,
          metric: `handshakes/s, ${nw} loadgen proc${nw > 1 ? "s" : ""} × ${c} in flight (${SWEEP_N} per round, median of ${R})`,
          library: lib,
          value: medianOf(
            rs.map((r) => r.ok / r.wall),
            0,
          ),
          ratio: "",
          note: `relay ${median(rs.map((r) => (100 * r.relayCpu) / r.wall)).toFixed(0)}% / loadgen ${median(rs.map((r) => (100 * r.genCpu) / r.wall)).toFixed(0)}% of a core; p95 ${median(rs.map((r) => r.p95)).toFixed(0)} ms; ${failed ? `${failed} failed: ${errText(errs)}` : "0 failed"}; ${loadNote(load)}`,
        });
      }
      const all = [...res.values()].flat();
      rows.push({
        section,
        metric: `relay CPU per load-generator handshake (ms; user+sys / handshakes, median over the ${all.length} sweep rounds)`,
        library: lib,
        value: medianOf(
          all.map((r) => (r.relayCpu * 1000) / Math.max(1, r.ok)),
          2,
        ),
        ratio: "",
        note: `the Chromium-driven figure is in the layer1 section; ${loadNote(load)}`,
      });
      rows.push({
        section,
        metric: "relay limits for the concurrency sweep",
        library: lib,
        value: [...PER_NET, ...SWEEP].join(" "),
        ratio: "",
      });

      // Signaling: P pairs in rooms, each side keeping 16 SENDs (64 bytes) in flight to the other.
      const p = o.pairs ?? 50,
        secs = o.seconds ?? 10;
      const rates: number[] = [],
        cpus: number[] = [];
      const sLoad = await alternate([0], R, async () => {
        const w = workers[0]!;
        const c0 = cpuSeconds(relay.proc.pid);
        const r = await w.ask({ cmd: "pairs", n: p, seconds: secs, window: 16, bytes: 64 }, 120000);
        rates.push(r.delivered / (r.ms / 1000));
        cpus.push(((cpuSeconds(relay.proc.pid) - c0) * 1e6) / Math.max(1, r.delivered));
        await dropAll(relay, workers);
      });
      rows.push({
        section,
        metric: `forwarded signaling messages/s (${p} pairs, SEND→DELIVER, 64 B, 16 in flight per side, ${secs} s; median of ${R})`,
        library: lib,
        value: medianOf(rates, 0),
        ratio: "",
        note: `relay ${median(cpus).toFixed(0)} µs CPU per message (incl. ${2 * p} handshakes); ${loadNote(sLoad)}`,
      });
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await relay.stop();
    }
  }

  // 2. Bursts, against the shipped global limits.
  {
    const relay = await startRelay(PER_NET);
    const workers = [startWorker(relay.port, relay.fp), startWorker(relay.port, relay.fp)];
    try {
      await openOn(relay, [workers[0]!], 300, 16);
      await dropAll(relay, workers);
      const bursts: Awaited<ReturnType<typeof openOn>>[] = [];
      const load = await alternate([0], R, async () => {
        bursts.push(await openOn(relay, workers, BURST, BURST / workers.length));
        await dropAll(relay, workers);
      });
      const failed = bursts.reduce((s, r) => s + r.failed, 0);
      const errs: Record<string, number> = {};
      for (const r of bursts) for (const [k, v] of Object.entries(r.errors)) errs[k] = (errs[k] ?? 0) + v;
      rows.push({
        section,
        metric: `burst: ${BURST} handshakes started at once (2 loadgen procs × ${BURST / 2}), default createRate/createBurst/halfOpen: seconds until all done (median of ${R})`,
        library: lib,
        value: medianOf(
          bursts.map((r) => r.wall),
          2,
        ),
        ratio: "",
        note: `${median(bursts.map((r) => r.ok / r.wall)).toFixed(0)} handshakes/s; latency p50 ${median(bursts.map((r) => r.p50)).toFixed(0)} / p95 ${median(bursts.map((r) => r.p95)).toFixed(0)} / max ${median(bursts.map((r) => r.max)).toFixed(0)} ms; ${failed ? `${failed} of ${R * BURST} failed: ${errText(errs)}` : `0 of ${R * BURST} failed`}; ${loadNote(load)}`,
      });
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await relay.stop();
    }
  }

  // 3. Held idle sessions, on a relay of their own (what the bursts allocated would blur its RSS).
  {
    const relay = await startRelay(PER_NET);
    const workers = [startWorker(relay.port, relay.fp), startWorker(relay.port, relay.fp)];
    try {
      await openOn(relay, [workers[0]!], 300, 16);
      await dropAll(relay, workers);
      await Bun.sleep(3000);
      const base = rssBytes(relay.proc.pid);
      let open = 0;
      /** The last held level's idle relay: CPU and datagrams answered per second (as measureEcho counts them). */
      const last = { cpu: [] as number[], dps: [] as number[] };
      for (const n of HELD) {
        const r = await openOn(relay, workers, n - open, 32);
        open += r.ok;
        await Bun.sleep(5000);
        // What the relay holds (a link whose PING went unanswered while the machine was saturated
        // closes, as a page's would, and is not reopened here).
        const held = relay.sessions() || open;
        const rss = rssBytes(relay.proc.pid);
        rows.push({
          section,
          metric: `relay RSS per held session at ${n} (KB; sessions behaving as idle pages)`,
          library: lib,
          value: ((rss - base) / held / 1024).toFixed(1),
          ratio: "",
          note: `${held} held; RSS ${(rss / 2 ** 20).toFixed(0)} MB vs ${(base / 2 ** 20).toFixed(0)} MB before${r.failed ? `; ${r.failed} failed to open: ${errText(r.errors)}` : ""}`,
        });
        const cpu: number[] = [],
          gen: number[] = [],
          frames: number[] = [],
          dgrams: number[] = [],
          idleLoad: number[] = [],
          links: number[] = [],
          sys: number[] = [];
        await alternate([0], R, async () => {
          const c0 = cpuSeconds(relay.proc.pid),
            s0 = cpuSplit(relay.proc.pid).sys,
            g0 = workers.reduce((s, w) => s + w.cpu(), 0),
            k0 = relay.counters(),
            d0 = udpInDatagrams(),
            t0 = performance.now();
          idleLoad.push((await import("node:os")).loadavg()[0]!);
          await Bun.sleep(10_000);
          const secs = (performance.now() - t0) / 1000,
            k1 = relay.counters();
          cpu.push((100 * (cpuSeconds(relay.proc.pid) - c0)) / secs);
          if (n === HELD[HELD.length - 1]) last.cpu.push(cpu[cpu.length - 1]!), last.dps.push((udpInDatagrams() - d0) / secs / 2);
          sys.push((100 * (cpuSplit(relay.proc.pid).sys - s0)) / secs);
          gen.push((100 * (workers.reduce((s, w) => s + w.cpu(), 0) - g0)) / secs);
          const per = (k: string) => ((k1[k] ?? 0) - (k0[k] ?? 0)) / secs / (relay.sessions() || open);
          links.push(relay.sessions() || open);
          frames.push(per("frames.in") + per("frames.out"));
          dgrams.push(per("datagrams.in") + per("datagrams.out"));
        });
        rows.push({
          section,
          metric: `idle relay CPU at ${n} held links (% of one core; median of ${R} × 10 s)`,
          library: lib,
          value: medianOf(cpu, 1),
          ratio: "",
          note: `${median(links)} held; of which kernel ${median(sys).toFixed(1)}%; ${((median(cpu) * 1e4) / median(links)).toFixed(1)} µs per link per second; per link ${median(frames).toFixed(3)} frames/s, ${median(dgrams).toFixed(2)} datagrams/s (in + out); loadgen ${median(gen).toFixed(0)}% of a core; ${loadNote(idleLoad)}`,
        });
      }
      // 4. The floor under the same load: the relay killed, each echo server bound to its port in
      // turn answers the load generator's own sessions (they go on sending consent checks, heartbeats
      // and PINGs; a session whose PING goes unanswered closes, so the rate falls: each echo's CPU is
      // scaled to the relay's datagram rate, counted the same way).
      process.kill(relay.proc.pid, "SIGKILL");
      await relay.proc.exited;
      const n = HELD[HELD.length - 1]!,
        cmds = echoCommands(relay.port),
        under: Record<string, { cpu: number; dps: number }[]> = { bun: [], c: [] },
        relayDps = median(last.dps);
      const uLoad = await alternate(cmds.c ? (["bun", "c"] as const) : (["bun"] as const), R, async (k) => {
        under[k]!.push(await measureEcho(cmds[k]!, 10));
      });
      for (const [k, lib] of [
        ["bun", `Bun.udpSocket echo (Bun ${Bun.version})`],
        ["c", "C echo (epoll_wait, recvfrom, sendto)"],
      ] as const) {
        const scaled = under[k]!.map((x) => (x.cpu * relayDps) / x.dps);
        rows.push({
          section,
          metric: `floor under the same load generator: a bare UDP echo on the relay's port, answering its ${n} sessions after the relay is killed (% of one core at the relay's ${relayDps.toFixed(0)} datagrams/s in; median of ${R} × 10 s)`,
          library: lib,
          value: scaled.length ? medianOf(scaled) : "no C compiler on this machine",
          ratio: scaled.length ? `relay ${(median(last.cpu) / median(scaled)).toFixed(2)}×` : "",
          note: scaled.length
            ? `unscaled ${under[k]!.map((x) => `${x.cpu.toFixed(1)} % at ${x.dps.toFixed(0)}/s`).join(", ")}; the relay ${median(last.cpu).toFixed(1)} % at ${relayDps.toFixed(0)}/s; ${loadNote(uLoad)}`
            : "",
        });
      }
      rows.push({
        section,
        metric: "idle links: what each held session sends, as an idle Chromium page does",
        library: lib,
        value: `ICE consent check every ${CONSENT_MS} ms ±20 %, SCTP HEARTBEAT every 30 s, PING after ${PING_AFTER_MS} ms of silence (src/link.ts)`,
        ratio: "",
      });
      rows.push({
        section,
        metric: "relay limits for bursts and held sessions",
        library: lib,
        value: `${PER_NET.join(" ")} (global limits as shipped)`,
        ratio: "",
      });
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await relay.stop();
    }
    // 5. The floor under those rows with a lighter generator: a server that only echoes datagrams
    // like the consent checks, sent from sockets that do nothing else (bench/floor.ts).
    const n = HELD[HELD.length - 1]!,
      bun: number[] = [],
      c: number[] = [];
    await alternate([0], R, async () => {
      const f = await udpFloor({ links: n, consentMs: CONSENT_MS, seconds: 10 });
      bun.push(f.bun);
      if (f.c !== null) c.push(f.c);
    });
    const dps = Math.round((n * 1000) / CONSENT_MS);
    rows.push({
      section,
      metric: `floor: a bare UDP echo of ${n} links' consent checks (${dps} datagrams/s in and out, ${n} sockets; % of one core; median of ${R} × 10 s)`,
      library: `Bun.udpSocket echo (Bun ${Bun.version})`,
      value: medianOf(bun, 1),
      ratio: "",
      note: "what this runtime costs to receive and answer the datagrams alone (bench/floor.ts)",
    });
    rows.push({
      section,
      metric: `floor: a bare UDP echo of ${n} links' consent checks (${dps} datagrams/s in and out, ${n} sockets; % of one core; median of ${R} × 10 s)`,
      library: "C echo (epoll_wait, recvfrom, sendto)",
      value: c.length ? medianOf(c, 1) : "no C compiler on this machine",
      ratio: "",
      note: "the kernel's share: on loopback each send also runs the receiving socket's stack and wakes its process",
    });
  }
  return rows;
}

if (import.meta.main) {
  const { table } = await import("./util.ts");
  const held = process.env.HELD ? process.env.HELD.split(",").map(Number) : undefined;
  console.log(
    table(
      await benchCapacity({
        rounds: Number(process.env.ROUNDS ?? 3),
        sweepN: Number(process.env.SWEEP_N ?? 400),
        burst: Number(process.env.BURST ?? 1000),
        held,
      }),
    ),
  );
  process.exit(0);
}
