// Benchmark helpers: percentiles, process CPU and RSS from /proc, versions and machine facts,
// and a plain-text table.
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";

export const median = (xs: number[]) => pct(xs, 50);
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const TICK = 100; // USER_HZ on Linux
/** CPU seconds (user + system) a process has used. */
export function cpuSeconds(pid: number): number {
  const c = cpuSplit(pid);
  return c.user + c.sys;
}
/** CPU seconds a process has used in user space and in the kernel (system calls: on loopback a
 *  send also runs the receiving side's network stack and wakes its thread, in the sender's time). */
export function cpuSplit(pid: number): { user: number; sys: number } {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return { user: Number(rest[11]) / TICK, sys: Number(rest[12]) / TICK };
}
/** Resident set size of a process in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

const ROOT = join(import.meta.dir, "..");
/** "name@version" of an installed package (or of this repository for "lumamesh"). */
export function libVersion(name: string): string {
  const file = name === "lumamesh" ? join(ROOT, "package.json") : join(ROOT, "node_modules", name, "package.json");
  try {
    const v = JSON.parse(readFileSync(file, "utf8")).version;
    return name === "lumamesh" ? `lumamesh@${v}+${gitHead()}` : `${name}@${v}`;
  } catch {
    return `${name}@?`;
  }
}
function gitHead(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT });
  return r.stdout.toString().trim() || "?";
}

export function machine(): Record<string, string> {
  const c = cpus();
  const chromium = Bun.spawnSync([process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", "--version"], { stderr: "ignore" })
    .stdout.toString()
    .trim();
  const node = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  return {
    date: new Date().toISOString(),
    cpu: `${c[0]?.model ?? "?"} × ${c.length} cores`,
    ram: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    bun: Bun.version,
    node,
    chromium: chromium || "?",
  };
}

export type Row = Record<string, string | number>;
export function table(rows: Row[]): string {
  if (!rows.length) return "";
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1)) : String(v ?? ""));
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => "| " + vals.map((v, i) => v.padEnd(w[i])).join(" | ") + " |";
  return [line(cols), "|" + w.map((n) => "-".repeat(n + 2)).join("|") + "|", ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join(
    "\n",
  );
}

/**
 * `rounds` rounds over `items`, the order alternating (forward in even rounds, reversed in odd ones)
 * so that neither side always runs first or last, i.e. in the same state of the machine. Returns the
 * 1-minute load averages seen at every step, for the table's note.
 */
export async function alternate<T>(items: readonly T[], rounds: number, fn: (item: T, round: number) => Promise<void>): Promise<number[]> {
  const load = [loadavg()[0]!];
  for (let r = 0; r < rounds; r++) {
    for (const it of r % 2 ? [...items].reverse() : items) {
      await fn(it, r);
      load.push(loadavg()[0]!);
    }
  }
  return load;
}
/** "load 0.52–1.30 (1-min average over the rounds, 2 cores)". */
export const loadNote = (l: number[]) =>
  `load ${Math.min(...l).toFixed(2)}–${Math.max(...l).toFixed(2)} (1-min avg during the rounds, ${cpus().length} cores)`;
/** "12.3 (rounds 11.9, 12.3, 14.0)": the median of per-round values and the values themselves. */
export const medianOf = (xs: number[], digits = 1) =>
  `${median(xs).toFixed(digits)} (rounds ${xs.map((x) => x.toFixed(digits)).join(", ")})`;

/** A child process driven one JSON line per command on stdin, answering one JSON line each on stdout
 *  (bench/attacker.ts, bench/loadgen.ts); `{ error }` answers are thrown as `name: error`. */
export class LineChild {
  readonly proc;
  private reader;
  private buf = "";
  constructor(
    cmd: string[],
    private name: string,
    private timeoutMs: number,
  ) {
    this.proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    this.reader = this.proc.stdout.getReader();
  }
  async ask(cmd: object, timeoutMs = this.timeoutMs): Promise<any> {
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
    this.proc.stdin.flush();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const i = this.buf.indexOf("\n");
      if (i >= 0) {
        const l = JSON.parse(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
        if (l?.error) throw new Error(`${this.name}: ${l.error}`);
        return l;
      }
      const r = await Promise.race([this.reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!r || r.done) break;
      this.buf += new TextDecoder().decode(r.value);
    }
    throw new Error(`${this.name}: no answer to ${JSON.stringify(cmd)}`);
  }
  cpu = () => cpuSeconds(this.proc.pid);
  async stop() {
    try {
      await this.ask({ cmd: "close" }, 10000);
    } catch {}
    this.proc.kill();
    await this.proc.exited;
  }
}
