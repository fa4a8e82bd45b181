// Test helper: run a real relay as its own process (from source or the compiled executable),
// read its JSON log lines, and wait for events.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export interface RelayProc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** The relay's signed record, plus the UDP port it bound (handy for raw-datagram tests). */
  record: { addr: string; fp: string; id: string; seq: number; sig: string; port: number };
  dataDir: string;
  lines: any[];
  /** The first log line of `event` matching `pred`, among lines from index `since` on (0: all so far). */
  waitFor(event: string, pred?: (l: any) => boolean, timeoutMs?: number, since?: number): Promise<any>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

const ROOT = join(import.meta.dir, "../..");

/** `host`: the address to bind (default 127.0.0.1); `netns`: run inside this network namespace;
 *  `bunArgs`: flags for bun itself (a relay run from source), e.g. --cpu-prof for the benchmarks;
 *  `root`: the checkout to run relay/main.ts from (default this one; the benchmarks profile an older one). */
export async function startRelayProc(
  o: {
    exe?: string;
    dataDir?: string;
    args?: string[];
    env?: Record<string, string>;
    host?: string;
    netns?: string;
    bunArgs?: string[];
    root?: string;
  } = {},
): Promise<RelayProc> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), "lumamesh-relay-"));
  const cmd = [
    ...(o.netns ? ["ip", "netns", "exec", o.netns] : []),
    ...(o.exe ? [o.exe] : [process.execPath, ...(o.bunArgs ?? []), join(o.root ?? ROOT, "relay/main.ts")]),
  ];
  // No ord server unless the test names one: tests never reach past loopback and their namespaces.
  const ord = o.args?.includes("--ord") || o.env?.LUMAMESH_ORD ? [] : ["--ord", "none"];
  const proc = Bun.spawn(
    [...cmd, "--host", o.host ?? "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--log-level", "debug", ...ord, ...(o.args ?? [])],
    {
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
      env: { ...process.env, ...o.env },
    },
  );
  const lines: any[] = [];
  const waiters: { ev: string; pred: (l: any) => boolean; res: (l: any) => void }[] = [];
  let stderr = "";
  (async () => {
    for await (const c of proc.stderr) stderr += new TextDecoder().decode(c);
  })();
  (async () => {
    let buf = "";
    for await (const c of proc.stdout) {
      buf += new TextDecoder().decode(c);
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let l: any;
        try {
          l = JSON.parse(line);
        } catch {
          continue;
        }
        lines.push(l);
        for (const w of [...waiters]) if (w.ev === l.event && w.pred(l)) waiters.splice(waiters.indexOf(w), 1), w.res(l);
      }
    }
  })();
  const waitFor = (ev: string, pred: (l: any) => boolean = () => true, timeoutMs = 15000, since = 0) => {
    const seen = lines.slice(since).find((l) => l.event === ev && pred(l));
    if (seen) return Promise.resolve(seen);
    return new Promise<any>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`relay: no ${ev} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      waiters.push({ ev, pred, res: (l) => (clearTimeout(t), res(l)) });
    });
  };
  const listening = await Promise.race([
    waitFor("relay.listening"),
    proc.exited.then((c) => {
      throw new Error(`relay exited with ${c}: ${stderr}`);
    }),
  ]);
  return {
    proc,
    dataDir,
    lines,
    waitFor,
    record: { ...listening.record, port: listening.port },
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      return proc.exited;
    },
  };
}

/** Three relays chained by one bootstrap entry each (b → a, c → b); resolves once each vouches for all three. */
export async function startRelayChain(): Promise<RelayProc[]> {
  const { openRelayLink } = await import("../../relay/client.ts");
  const { generateCertificate } = await import("../../relay/werift.ts");
  const a = await startRelayProc();
  const b = await startRelayProc({ args: ["--peer", `${a.record.addr},${a.record.fp}`] });
  const c = await startRelayProc({ args: ["--peer", `${b.record.addr},${b.record.fp}`] });
  const cert = await generateCertificate();
  for (const end = Date.now() + 20000; Date.now() < end; await Bun.sleep(300)) {
    const counts = await Promise.all(
      [a, b, c].map(async (r) => {
        const l = await openRelayLink(r.record, cert);
        const n = JSON.parse(l.records ?? "[]").length;
        l.close();
        return n;
      }),
    );
    if (counts.every((n) => n === 3)) return [a, b, c];
  }
  for (const r of [a, b, c]) await r.stop();
  throw new Error("relays: gossip did not converge in 20 s");
}

/**
 * A real relay in this process on loopback, so a test can tamper with its core (a relay that
 * misbehaves on purpose); `rec` is what a page is given.
 */
export async function startInProcessRelay(limits?: Partial<import("../../relay/limits.ts").Limits>) {
  const { startRelay } = await import("../../relay/socket.ts");
  const { generateCertificate } = await import("../../relay/werift.ts");
  const { createLogger } = await import("../../relay/log.ts");
  const cert = await generateCertificate();
  const relay = await startRelay({ host: "127.0.0.1", port: 0, cert, limits, log: createLogger("warn", { write: () => {} }) });
  return { relay, rec: { addr: `127.0.0.1:${relay.port}`, fp: cert.fingerprint } };
}
