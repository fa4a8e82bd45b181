// Layer-1 benchmark, Chromium-driven, side by side with js-libp2p WebRTC Direct (bench/libp2p.ts):
//  - open time: new RTCPeerConnection → channel open and the application's own handshake done
//    (Lumamesh: WELCOME; js-libp2p: its Noise handshake inside the channel), sequential, one page;
//  - server CPU per Chromium handshake: the relay's (or the libp2p listener's) user+sys time from
//    /proc over those connects (each connect is a whole session: handshake, one round trip, close);
//  - server RSS per held session and idle server CPU per held link, both libraries holding their
//    links at the same time (same window, same machine state), plus the relay's idle traffic per link.
// Timed rows are the median of ROUNDS rounds alternating the order of the two; each server first gets
// WARMUP connects so that both run JIT-warm code (a relay runs for days; its first few hundred
// handshakes are slower while JSC compiles). Pages are replaced every PAGE_CONNECTS connects:
// Chromium refuses new RTCPeerConnections in a page that made ~500. js-libp2p 6.0.33's dialer edits
// its own offer's ICE ufrag, which Chromium refuses under the WebRTC-NoSdpMangleUfrag field trial
// (docs/protocol.md §1): its pages run in a Chromium without the trial; Lumamesh's with it, as always.
import { launchChromium, previousLibraryBytes, PREVIOUS_LIBRARY, serveLibrary } from "../test/helpers/browser.ts";
import { startRelayProc } from "../test/helpers/relay.ts";
import { LIBP2P, libp2pDialer, startLibp2pListener } from "./libp2p.ts";
import { formatSummary, summarize } from "./profile.ts";
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alternate, cpuSeconds, cpuSplit, libVersion, loadNote, median, medianOf, pct, rssBytes, type Row } from "./util.ts";
import type { Browser, Page } from "playwright-core";

const PAGE_CONNECTS = 100;
const ROOT = join(import.meta.dir, "..");

/** relay/, protocol/ and package.json of commit `rev` in a directory of their own (node_modules linked). */
function checkoutOf(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), "lumamesh-relay-before-"));
  const tar = Bun.spawnSync(["git", "-C", ROOT, "archive", "--format=tar", rev, "relay", "protocol", "inscribe", "package.json"]);
  if (tar.exitCode !== 0) throw new Error(`bench: cannot read ${rev} from git history: ${tar.stderr}`);
  const x = Bun.spawnSync(["tar", "-x", "-C", dir], { stdin: tar.stdout });
  if (x.exitCode !== 0) throw new Error(`bench: cannot unpack ${rev}: ${x.stderr}`);
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

interface Side {
  name: "lumamesh" | "js-libp2p" | "previous";
  library: string;
  pid: number;
  browser: Browser;
  url: string;
  /** What the page is given to connect to. */
  target: unknown;
  /** Loads the library into a fresh page. */
  init: string;
  /** Page-side: one timed connect and close: (target) => Promise<ms>. */
  once: string;
  /** Page-side: open and keep k links: ({target, k}) => Promise<void>. */
  hold: string;
  page?: Page;
  used: number;
}

const LUMAMESH_PAGE = {
  init: `async () => { globalThis.L = await import("/lumamesh.js"); }`,
  once: `async (rec) => { const t0 = performance.now(); const net = await L.connect({ relays: [rec] }); const ms = performance.now() - t0; net.close(); return ms; }`,
  hold: `async ({ target, k }) => { const g = globalThis; g.held ??= []; for (let j = 0; j < k; j += 25) g.held.push(...await Promise.all(Array.from({ length: Math.min(25, k - j) }, () => L.connect({ relays: [target], timeout: 20000 })))); }`,
};
const LIBP2P_PAGE = {
  init: `async () => { globalThis.P = await import("/libp2p.js"); await P.start(); }`,
  once: `(addr) => P.open(addr)`,
  hold: `async ({ target, k }) => { for (let j = 0; j < k; j += 25) await Promise.all(Array.from({ length: Math.min(25, k - j) }, () => P.open(target, true))); }`,
};

async function freshPage(s: Side): Promise<Page> {
  const p = await s.browser.newPage();
  await p.goto(s.url);
  await p.evaluate(`(${s.init})().then(() => { globalThis.__once = ${s.once}; globalThis.__hold = ${s.hold}; })`);
  return p;
}

/** n sequential connects, a fresh page every PAGE_CONNECTS; ms of each. */
async function connects(s: Side, n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    if (!s.page || s.used >= PAGE_CONNECTS) {
      await s.page?.close();
      s.page = await freshPage(s);
      s.used = 0;
    }
    const k = Math.min(n - out.length, PAGE_CONNECTS - s.used);
    out.push(
      ...(await s.page.evaluate(
        async ({ target, k }) => {
          const g = globalThis as any,
            out: number[] = [];
          for (let i = 0; i < k; i++) out.push(await g.__once(target));
          return out;
        },
        { target: s.target, k },
      )),
    );
    s.used += k;
  }
  return out;
}

/**
 * Where relay CPU goes during Chromium connects: a relay of its own under `bun --cpu-prof` (the
 * profiler's sampling costs CPU, so the timed rows never run under it), WARMUP connects, then R × N
 * connects whose time windows are summed by bench/profile.ts. JSC samples the JS thread on a wall
 * clock: time it spent descheduled inside a system call (a send waking the browser's thread, on a
 * loaded two-core machine) counts there too.
 */
async function profileRow(
  url: string,
  args: string[],
  dir: string,
  R: number,
  N: number,
  WARMUP: number,
  before?: { rev: string; root: string },
): Promise<Row> {
  const relay = await startRelayProc({ args, bunArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`], root: before?.root });
  const browser = await launchChromium();
  const windows: [number, number][] = [];
  let library = "";
  try {
    const s: Side = {
      name: "lumamesh",
      library: before ? `lumamesh@${before.rev} relay (before issue 17)` : `${libVersion("lumamesh")} relay (Bun ${Bun.version}, werift)`,
      pid: relay.proc.pid,
      browser,
      url,
      target: { addr: relay.record.addr, fp: relay.record.fp },
      ...LUMAMESH_PAGE,
      used: 0,
    };
    library = s.library;
    await connects(s, WARMUP);
    for (let r = 0; r < R; r++) {
      const w0 = Date.now();
      await connects(s, N);
      await Bun.sleep(300);
      windows.push([w0, Date.now()]);
    }
    await s.page?.close();
  } finally {
    await browser.close();
    await relay.stop();
  }
  // The relay wrote its profile on exit.
  const f = readdirSync(dir)
    .filter((n) => n.endsWith(".cpuprofile"))
    .map((n) => join(dir, n))
    .sort()
    .at(-1);
  return {
    section: "layer1",
    metric: `where relay CPU goes during ${R} × ${N} Chromium connects (bun --cpu-prof on a relay of its own, after ${WARMUP} warm-up connects; samples by category)`,
    library,
    value: f ? formatSummary(summarize(f, windows)).replaceAll("\n", ";") : "n/a (no profile written)",
    ratio: "",
    note: "JSC samples the JS thread on a wall clock: time descheduled inside a send (waking the browser's thread) counts as send",
  };
}

export async function benchLayer1(
  o: { rounds?: number; connects?: number; warmup?: number; held?: number; idleWindows?: number } = {},
): Promise<Row[]> {
  const R = o.rounds ?? 3,
    N = o.connects ?? 100,
    WARMUP = o.warmup ?? 300,
    HELD = o.held ?? 400,
    WINDOWS = o.idleWindows ?? 3;
  const profDir = process.env.BENCH_PROFILE;
  const limits = ["--limit", "sessionsPerIp=5000", "--limit", "membersPerIp=5000"];
  const relay = await startRelayProc({ args: ["--log-level", "info", "--stats-interval", "1", ...limits] });
  const p2p = await startLibp2pListener();
  const dialer = await libp2pDialer();
  const prev = await previousLibraryBytes();
  const srv = await serveLibrary({
    "/libp2p.js": () => new Response(dialer as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } }),
    "/previous.js": () => new Response(prev as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } }),
  });
  const [withTrial, withoutTrial] = [await launchChromium(), await launchChromium({ fieldTrials: false })];
  const sides: Side[] = [
    {
      name: "lumamesh",
      library: `${libVersion("lumamesh")} relay (Bun ${Bun.version}, werift)`,
      pid: relay.proc.pid,
      browser: withTrial,
      url: srv.url,
      target: { addr: relay.record.addr, fp: relay.record.fp },
      ...LUMAMESH_PAGE,
      used: 0,
    },
    {
      name: "js-libp2p",
      library: LIBP2P(),
      pid: p2p.proc.pid,
      browser: withoutTrial,
      url: srv.url,
      target: p2p.addr,
      ...LIBP2P_PAGE,
      used: 0,
    },
  ];
  // Before and after issue 13 on the same relay: the previous library (PREVIOUS_LIBRARY, whose
  // handshake edits its own offer's ICE ufrag) in a Chromium without the field trial that refuses that.
  const previous: Side = {
    name: "previous",
    library: `lumamesh@${PREVIOUS_LIBRARY} page (munged offer; Chromium without the trial), same relay`,
    pid: relay.proc.pid,
    browser: withoutTrial,
    url: srv.url,
    target: { addr: relay.record.addr, fp: relay.record.fp },
    ...LUMAMESH_PAGE,
    init: `async () => { globalThis.L = await import("/previous.js"); }`,
    used: 0,
  };
  const timed = [...sides, previous];
  const rows: Row[] = [];
  try {
    for (const s of timed) await connects(s, WARMUP);
    const open: Record<string, number[]> = { lumamesh: [], "js-libp2p": [], previous: [] },
      openMed: Record<string, number[]> = { lumamesh: [], "js-libp2p": [], previous: [] },
      cpu: Record<string, number[]> = { lumamesh: [], "js-libp2p": [], previous: [] },
      sys: Record<string, number[]> = { lumamesh: [], "js-libp2p": [], previous: [] };
    const load = await alternate(timed, R, async (s) => {
      await Bun.sleep(500);
      const c0 = cpuSplit(s.pid);
      const ms = await connects(s, N);
      await Bun.sleep(300); // the last close's datagrams
      const c1 = cpuSplit(s.pid);
      cpu[s.name]!.push(((c1.user + c1.sys - c0.user - c0.sys) * 1000) / N);
      sys[s.name]!.push(((c1.sys - c0.sys) * 1000) / N);
      open[s.name]!.push(...ms);
      openMed[s.name]!.push(median(ms));
    });
    const [L, P] = ["lumamesh", "js-libp2p"] as const;
    const ratio = (a: number, b: number) => `ours/theirs ${(a / b).toFixed(2)}`;
    for (const s of timed) {
      rows.push({
        section: "layer1",
        metric: `Chromium → server: new RTCPeerConnection → channel open + app handshake (ms median / p95 of ${R} rounds × ${N} sequential connects; round medians)`,
        library: s.library,
        value: `${median(open[s.name]!).toFixed(1)} / ${pct(open[s.name]!, 95).toFixed(1)} (${openMed[s.name]!.map((x) => x.toFixed(1)).join(", ")})`,
        ratio: s.name === L ? "1 (ours)" : ratio(median(openMed[L]), median(openMed[s.name])),
        note: `${s.name === P ? "Noise handshake done" : "WELCOME received"}; ${loadNote(load)}`,
      });
    }
    for (const s of timed)
      rows.push({
        section: "layer1",
        metric: `server CPU per Chromium handshake (ms; user+sys from /proc / connects, median of ${R} rounds × ${N}, after ${WARMUP} warm-up connects)`,
        library: s.library,
        value: medianOf(cpu[s.name]!, 2),
        ratio: s.name === L ? "1 (ours)" : ratio(median(cpu[L]), median(cpu[s.name])),
        note: `of which in the kernel ${median(sys[s.name]!).toFixed(2)} ms (on loopback a send also runs the receiver's network stack); each connect a whole session: handshake, app hello, close; ${loadNote(load)}`,
      });

    // Held links: both libraries hold HELD links at once (two pages each, fresh), then sit idle.
    for (const s of timed) await s.page?.close(), (s.page = undefined);
    await Bun.sleep(3000);
    await p2p.gc();
    // RSS is read three times: before, at half and at all HELD links. Per session is the second
    // half's growth (what the first leaves of warm-up garbage and one-time structures blurs less).
    const base = sides.map((s) => rssBytes(s.pid));
    const holders: Page[] = [];
    let mid: number[] = [];
    for (const k of [Math.ceil(HELD / 2), Math.floor(HELD / 2)]) {
      for (const s of sides) {
        const p = await freshPage(s);
        holders.push(p);
        await p.evaluate((a) => (globalThis as any).__hold(a), { target: s.target, k });
      }
      await Bun.sleep(5000);
      await p2p.gc();
      if (!mid.length) mid = sides.map((s) => rssBytes(s.pid));
    }
    const end = sides.map((s) => rssBytes(s.pid));
    const half = Math.floor(HELD / 2);
    const held = sides.map((_, i) => (end[i]! - mid[i]!) / half);
    const counters = () => (relay.lines.filter((l) => l.event === "relay.stats").at(-1)?.counters ?? {}) as Record<string, number>;
    const idle: Record<string, number[]> = { lumamesh: [], "js-libp2p": [] },
      traffic: Record<string, number>[] = [];
    const idleLoad: number[] = [];
    for (let w = 0; w < WINDOWS; w++) {
      const c0 = sides.map((s) => cpuSeconds(s.pid)),
        k0 = counters(),
        t0 = performance.now();
      idleLoad.push((await import("node:os")).loadavg()[0]!);
      await Bun.sleep(10_000);
      const secs = (performance.now() - t0) / 1000,
        k1 = counters();
      sides.forEach((s, i) => idle[s.name]!.push(((cpuSeconds(s.pid) - c0[i]!) * 1e6) / secs / HELD));
      const per = (k: string) => ((k1[k] ?? 0) - (k0[k] ?? 0)) / secs / HELD;
      traffic.push({
        frames: per("frames.in") + per("frames.out"),
        datagrams: per("datagrams.in") + per("datagrams.out"),
        stun: per("datagrams.in.stun"),
      });
    }
    sides.forEach((s, i) =>
      rows.push({
        section: "layer1",
        metric: `server RSS per held Chromium session, ${half} → ${HELD} held (KB; RSS growth / sessions added)`,
        library: s.library,
        value: (held[i]! / 1024).toFixed(1),
        ratio: s.name === L ? "1 (ours)" : ratio(held[0]!, held[1]!),
        note: `RSS ${(base[i]! / 2 ** 20).toFixed(0)} → ${(mid[i]! / 2 ** 20).toFixed(0)} → ${(end[i]! / 2 ** 20).toFixed(0)} MB at 0 / ${half} / ${HELD}${s.name === L ? "" : " (each after a forced GC: node --expose-gc)"}`,
      }),
    );
    for (const s of sides)
      rows.push({
        section: "layer1",
        metric: `idle server CPU per held Chromium link (µs per second; median of ${WINDOWS} × 10 s windows, ${HELD} links held by each library at once)`,
        library: s.library,
        value: medianOf(idle[s.name]!, 1),
        ratio: s.name === L ? "1 (ours)" : ratio(median(idle[L]), median(idle[P])),
        note: `${(((median(idle[s.name]!) * 10_000) / 1e6) * 100).toFixed(0)}% of a core for 10,000 such links; ${loadNote(idleLoad)}`,
      });
    const t = (k: string) => median(traffic.map((x) => x[k]!));
    rows.push({
      section: "layer1",
      metric: "relay traffic per idle Chromium link (per second, in + out)",
      library: sides[0]!.library,
      value: `${t("frames").toFixed(3)} frames, ${t("datagrams").toFixed(2)} datagrams (${t("stun").toFixed(2)} STUN checks in)`,
      ratio: "",
      note: "frames: Layer-1 frames on the channel (PING/PONG when idle); datagrams: every UDP datagram, STUN and DTLS",
    });
    for (const p of holders) await p.close().catch(() => {});
  } finally {
    for (const s of sides) await s.page?.close().catch(() => {});
    await withTrial.close();
    await withoutTrial.close();
    await relay.stop();
    await p2p.stop();
    if (!profDir) srv.stop();
  }
  if (profDir) {
    // Before and after: the relay of BENCH_PROFILE_BEFORE (a commit; default the last before issue
    // 17's work), from git history, under the same profile and the same connects.
    const rev = process.env.BENCH_PROFILE_BEFORE ?? "bb51c45";
    const root = checkoutOf(rev);
    try {
      for (const before of [{ rev, root }, undefined]) {
        const d = mkdtempSync(join(profDir, "prof-"));
        rows.push(await profileRow(srv.url, ["--log-level", "info", ...limits], d, R, N, WARMUP, before));
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
      srv.stop(); // the profiled pages load the library from it too
    }
  }
  return rows;
}

if (import.meta.main) {
  const { table } = await import("./util.ts");
  console.log(
    table(
      await benchLayer1({
        rounds: Number(process.env.ROUNDS ?? 3),
        connects: Number(process.env.CONNECTS ?? 100),
        warmup: Number(process.env.WARMUP ?? 300),
        held: Number(process.env.HELD ?? 400),
      }),
    ),
  );
  process.exit(0);
}
