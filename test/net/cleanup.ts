// Cleanup of test namespaces that outlive their test: synchronous teardown on process exit and
// signals, and removal of namespaces left by earlier test processes that died.
import { existsSync, readdirSync } from "node:fs";

/** Namespace names are `lm<pid>x<n>-<host>`: the pid says which process owns them. */
export const OWNER = /^lm(\d+)x\d+-/;

const tasks = new Set<() => void>();
let installed = false;

/** Run `task` (synchronous) when the process exits or is told to stop; returns the unregister. */
export function atExit(task: () => void): () => void {
  install();
  tasks.add(task);
  return () => void tasks.delete(task);
}

function runAll() {
  for (const t of [...tasks]) {
    tasks.delete(t);
    try {
      t();
    } catch {
      // best effort: one failed teardown must not stop the others
    }
  }
}

function install() {
  if (installed) return;
  installed = true;
  process.on("exit", runAll);
  // A signal's default action would kill us before 'exit' runs; take over, clean up, then exit as
  // the signal would have (128 + signal number).
  for (const [sig, n] of [
    ["SIGINT", 2],
    ["SIGTERM", 15],
    ["SIGHUP", 1],
  ] as const)
    process.on(sig, () => {
      runAll();
      process.exit(128 + n);
    });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Kill every process inside namespace `ns`, then delete it. Synchronous; ignores errors. */
export function deleteNamespaceSync(ns: string) {
  const pids = Bun.spawnSync(["ip", "netns", "pids", ns], { stderr: "ignore" }).stdout.toString().split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  Bun.spawnSync(["ip", "netns", "del", ns], { stderr: "ignore" });
}

/** Namespaces of ours whose owning process is dead: delete them. Returns the names deleted. */
export function sweepStale(): string[] {
  if (!existsSync("/run/netns")) return [];
  const stale = readdirSync("/run/netns").filter((n) => {
    const m = OWNER.exec(n);
    return m && !alive(Number(m[1]));
  });
  for (const ns of stale) deleteNamespaceSync(ns);
  return stale;
}
