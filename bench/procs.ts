// Child processes for the benchmarks: the Nostr relay (ours, Bun) and bittorrent-tracker (Node),
// each announcing {"port":N} on its first stdout line.
import { join } from "node:path";

export async function startChild(cmd: string[], timeoutMs = 15000) {
  const proc = Bun.spawn(cmd, { cwd: join(import.meta.dir, ".."), stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  const reader = proc.stdout.getReader();
  let buf = "";
  const port = await Promise.race([
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${cmd.join(" ")} exited before listening`);
        buf += new TextDecoder().decode(value);
        const i = buf.indexOf("\n");
        if (i >= 0) return JSON.parse(buf.slice(0, i)).port as number;
      }
    })(),
    Bun.sleep(timeoutMs).then(() => {
      throw new Error(`${cmd.join(" ")}: not listening after ${timeoutMs} ms`);
    }),
  ]);
  return { proc, port, stop: () => (proc.kill(), proc.exited) };
}

export const startNostr = () => startChild([process.execPath, "bench/nostr-relay.ts"]);
export const startTracker = () => startChild(["node", "bench/tracker.mjs"]);
