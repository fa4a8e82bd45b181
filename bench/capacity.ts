// Capacity section: one relay process under Layer-1 load from bench/loadgen.ts worker processes,
// all on loopback. Measures handshakes per second and per relay CPU-second (from /proc), relay RSS
// per idle session at 1,000 and 5,000 sessions, and forwarded signaling messages per second
// (pairs of sessions in rooms, SEND → DELIVER). Relay limits are raised for the run (listed in the
// table); the idle timeout is an hour so that held sessions need no keepalive traffic.
// With BENCH_PROFILE=DIR the relay runs under `bun --cpu-prof --cpu-prof-md` (profile in DIR).
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { cpuSeconds, rssBytes, type Row } from "./util.ts";

const ROOT = join(import.meta.dir, "..");
const LIMITS = ["sessionsPerIp=10000", "maxSessions=20000", "halfOpen=2000", "createRate=2000", "createBurst=4000"];
const MSG_LIMITS = ["msgRate=1000000", "msgBurst=1000000"];

async function startRelay(profileDir?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), "lumamesh-bench-relay-"));
  const prof = profileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${profileDir}`] : [];
  const args = ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--log-level", "info", "--idle-timeout", "3600", "--ord", "none", ...[...LIMITS, ...MSG_LIMITS].flatMap((l) => ["--limit", l])];
  const proc = Bun.spawn([process.execPath, ...prof, join(ROOT, "relay/main.ts"), ...args], { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  const reader = proc.stdout.getReader();
  let buf = "";
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) throw new Error("relay exited before listening");
    buf += new TextDecoder().decode(value);
    for (const line of buf.split("\n")) {
      let l: any;
      try { l = JSON.parse(line); } catch { continue; }
      if (l.event == "relay.listening") {
        (async () => { for (;;) if ((await reader.read()).done) break; })(); // keep draining its log
        return { proc, port: l.port as number, fp: l.record.fp as string, stop: () => (proc.kill("SIGTERM"), proc.exited) };
      }
    }
  }
  throw new Error("relay not listening after 15 s");
}

class Worker {
  proc;
  private reader;
  private buf = "";
  constructor(port: number, fp: string) {
    this.proc = Bun.spawn([process.execPath, join(import.meta.dir, "loadgen.ts"), "127.0.0.1", String(port), fp], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    this.reader = this.proc.stdout.getReader();
  }
  async ask(cmd: object, timeoutMs = 120000): Promise<any> {
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
    this.proc.stdin.flush();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const i = this.buf.indexOf("\n");
      if (i >= 0) { const l = this.buf.slice(0, i); this.buf = this.buf.slice(i + 1); return JSON.parse(l); }
      const r = await Promise.race([this.reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!r || r.done) break;
      this.buf += new TextDecoder().decode(r.value);
    }
    throw new Error(`loadgen: no answer to ${JSON.stringify(cmd)}`);
  }
  cpu = () => cpuSeconds(this.proc.pid);
  async stop() { try { await this.ask({ cmd: "close" }, 10000); } catch {} this.proc.kill(); await this.proc.exited; }
}

export async function benchCapacity(o: { held?: number[]; workers?: number; pairs?: number; seconds?: number } = {}): Promise<Row[]> {
  const held = o.held ?? [1000, 5000];
  const nw = o.workers ?? 2;
  const rows: Row[] = [];
  const relay = await startRelay(process.env.BENCH_PROFILE);
  const pid = relay.proc.pid;
  const workers: Worker[] = [];
  const lib = `lumamesh relay (Bun ${Bun.version}, werift)`;
  try {
    // Warm-up: JIT on both sides, then forget those sessions.
    const w0 = new Worker(relay.port, relay.fp);
    await w0.ask({ cmd: "open", n: 100, concurrency: 20 });
    await w0.stop();
    await Bun.sleep(3000);
    const base = rssBytes(pid);
    for (let i = 0; i < nw; i++) workers.push(new Worker(relay.port, relay.fp));
    let open = 0;
    for (const n of held) {
      const want = n - open;
      const c0 = cpuSeconds(pid), g0 = workers.reduce((s, w) => s + w.cpu(), 0), t0 = performance.now();
      const res = await Promise.all(workers.map((w, i) => w.ask({ cmd: "open", n: Math.floor(want / nw) + (i == 0 ? want % nw : 0), concurrency: 64 }, 600000)));
      const wall = (performance.now() - t0) / 1000, relayCpu = cpuSeconds(pid) - c0, genCpu = workers.reduce((s, w) => s + w.cpu(), 0) - g0;
      const ok = res.reduce((s, r) => s + r.opened, 0), failed = res.reduce((s, r) => s + r.failed, 0);
      const errors = Object.entries(Object.assign({}, ...res.map((r) => r.errors))).map(([k, v]) => `${k}×${v}`).join(", ");
      open += ok;
      const bound = relayCpu / wall > 0.85 ? "relay CPU-bound" : genCpu / wall > 0.85 * Math.min(nw, 2) ? "load generator CPU-bound" : "neither saturated";
      rows.push({ section: "capacity", metric: `handshakes/s, ${ok} new sessions (${open} open after), ${nw} loadgen procs × 64 in flight`, library: lib, value: (ok / wall).toFixed(0), ratio: "", note: `relay CPU ${(100 * relayCpu / wall).toFixed(0)}% of a core, loadgen ${(100 * genCpu / wall).toFixed(0)}% (2 cores total): ${bound}${failed ? `; ${failed} failed: ${errors}` : ""}` });
      rows.push({ section: "capacity", metric: `handshakes per relay CPU-second (ms CPU each)`, library: lib, value: `${(ok / relayCpu).toFixed(0)} (${((relayCpu * 1000) / ok).toFixed(1)} ms)`, ratio: "", note: "user+sys from /proc, 10 ms tick" });
      await Bun.sleep(3000);
      const rss = rssBytes(pid);
      rows.push({ section: "capacity", metric: `relay RSS per idle session at ${open} (KB)`, library: lib, value: ((rss - base) / open / 1024).toFixed(0), ratio: "", note: `RSS ${(rss / 2 ** 20).toFixed(0)} MB vs ${(base / 2 ** 20).toFixed(0)} MB after warm-up` });
    }
    await Promise.all(workers.map((w) => w.stop()));
    workers.length = 0;
    await Bun.sleep(2000);
    // Signaling: P pairs in rooms, each side keeping 16 SENDs (64 bytes) in flight to the other.
    const p = o.pairs ?? 50, secs = o.seconds ?? 10;
    const w = new Worker(relay.port, relay.fp);
    workers.push(w);
    const c0 = cpuSeconds(pid), g0 = w.cpu(), t0 = performance.now();
    const r = await w.ask({ cmd: "pairs", n: p, seconds: secs, window: 16, bytes: 64 }, 120000);
    const wall = (performance.now() - t0) / 1000;
    const relayCpu = cpuSeconds(pid) - c0, genCpu = w.cpu() - g0;
    rows.push({ section: "capacity", metric: `forwarded signaling messages/s (${p} pairs, SEND→DELIVER, 64 B, 16 in flight per side, ${secs} s)`, library: lib, value: (r.delivered / (r.ms / 1000)).toFixed(0), ratio: "", note: `relay ${((relayCpu * 1000 * 1000) / Math.max(1, r.delivered)).toFixed(0)} µs CPU per message (incl. ${2 * p} handshakes); relay ${(100 * relayCpu / wall).toFixed(0)}% / loadgen ${(100 * genCpu / wall).toFixed(0)}% of a core over the phase${r.errors ? `; ${r.errors} ERROR frames` : ""}` });
    rows.push({ section: "capacity", metric: "relay limits raised for this run", library: lib, value: [...LIMITS, ...MSG_LIMITS, "idle-timeout=3600"].join(" "), ratio: "" });
    rows.push({ section: "capacity", metric: "same load against js-libp2p WebRTC Direct (@libp2p/webrtc webRTCDirect, node-datachannel)", library: "@libp2p/webrtc@6.0.33", value: "n/a (node-datachannel's install builds libdatachannel from a source download, which this machine cannot reach; no prebuilt binary ships in the npm package, and Debian 12 has no libdatachannel)", ratio: "" });
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await relay.stop();
  }
  return rows;
}
