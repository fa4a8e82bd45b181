// js-libp2p WebRTC Direct, the reference for the layer1 rows: its listener as a Node child process
// (bench/libp2p/listener.mjs, node-datachannel underneath) and its browser dialer bundled by esbuild
// (bench/libp2p/dialer.ts). Loopback only; no STUN servers on either side.
import { join } from "node:path";
import * as esbuild from "esbuild";
import { libVersion } from "./util.ts";

export const LIBP2P = () =>
  `${libVersion("@libp2p/webrtc")} (${libVersion("libp2p")}, ${libVersion("node-datachannel")}, Node ${Bun.spawnSync(["node", "--version"]).stdout.toString().trim()})`;

let bundle: Promise<Uint8Array> | undefined;
/** The dialer as one browser ES module. */
export const libp2pDialer = () =>
  (bundle ??= (async () => {
    const r = await esbuild.build({
      entryPoints: [join(import.meta.dir, "libp2p/dialer.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      logLevel: "silent",
      minify: true,
    });
    return r.outputFiles[0]!.contents;
  })());

export async function startLibp2pListener(timeoutMs = 30000) {
  const proc = Bun.spawn(["node", "--expose-gc", join(import.meta.dir, "libp2p/listener.mjs")], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let buf = "";
  const next = async () => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = buf.indexOf("\n");
      if (i >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        return JSON.parse(l);
      }
      if (Date.now() > deadline) throw new Error("libp2p listener: no answer");
      const r = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!r || r.done) throw new Error("libp2p listener exited");
      buf += new TextDecoder().decode(r.value);
    }
  };
  const hello = await next();
  return {
    proc,
    addr: hello.addr as string,
    /** A full garbage collection in the listener (RSS then counts what is held, not what awaits collection). */
    async gc(): Promise<void> {
      proc.stdin.write('{"cmd":"gc"}\n');
      proc.stdin.flush();
      await next();
    },
    async conns(): Promise<number> {
      proc.stdin.write('{"cmd":"conns"}\n');
      proc.stdin.flush();
      return (await next()).conns;
    },
    async stop() {
      try {
        proc.stdin.write('{"cmd":"close"}\n');
        proc.stdin.flush();
      } catch {}
      await Promise.race([proc.exited, Bun.sleep(5000)]);
      proc.kill();
      await proc.exited;
    },
  };
}
