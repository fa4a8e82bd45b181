#!/usr/bin/env bun
// A UDP agent for network tests, run inside a namespace: one socket on 0.0.0.0:<port> (0 = any).
// Prints `{"port":N}`, then one JSON line per datagram received ({from, text}); sends what it is
// told on stdin (one JSON line {to: "ip:port", text}). With --echo it answers every datagram
// with the source "ip:port" it saw: a STUN-like mirror that shows a NAT's mapping.
// `udpAgent()` starts one in a test host and drives it.
import type { NetHost } from "./netns.ts";
import { watchOutput } from "./output.ts";

export interface Datagram {
  from: string;
  text: string;
}

export interface UdpAgent {
  /** The local port the agent's socket is bound to. */
  port: number;
  send(to: string, text: string): void;
  /** Every datagram received so far, in order. */
  received(): Datagram[];
  /** Resolves with the first received datagram that satisfies `pred`; rejects after `ms`. */
  waitFor(pred: (d: Datagram) => boolean, ms?: number): Promise<Datagram>;
  stop(): void;
}

export async function udpAgent(host: NetHost, opts: { port?: number; echo?: boolean } = {}): Promise<UdpAgent> {
  const args = [String(opts.port ?? 0), ...(opts.echo ? ["--echo"] : [])];
  const p = host.spawn([process.execPath, import.meta.path, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const out = watchOutput(p.stdout);
  const err = watchOutput(p.stderr);
  let port: number;
  try {
    port = Number((await out.match(/\{"port":(\d+)\}/))[1]);
  } catch (e) {
    p.kill();
    throw new Error(`udp agent in ${host.ns} did not start: ${(e as Error).message}\n${err.text()}`);
  }
  const received = () =>
    out
      .text()
      .split("\n")
      .filter((l) => l.startsWith('{"from"'))
      .map((l) => JSON.parse(l) as Datagram);
  return {
    port,
    send(to, text) {
      p.stdin.write(JSON.stringify({ to, text }) + "\n");
      p.stdin.flush();
    },
    received,
    async waitFor(pred, ms = 3000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const d = received().find(pred);
        if (d) return d;
        if (Date.now() > deadline)
          throw new Error(`udp agent in ${host.ns}: no matching datagram in ${ms} ms; got ${JSON.stringify(received())}`);
        await Bun.sleep(10);
      }
    },
    stop: () => p.kill(),
  };
}

if (import.meta.main) {
  const echo = process.argv.includes("--echo");
  const sock = await Bun.udpSocket({
    port: Number(process.argv[2] ?? 0),
    hostname: "0.0.0.0",
    socket: {
      data(s, buf, port, addr) {
        const from = `${addr}:${port}`;
        console.log(JSON.stringify({ from, text: buf.toString() }));
        if (echo) s.send(from, port, addr);
      },
    },
  });
  console.log(JSON.stringify({ port: sock.port }));
  for await (const line of console) {
    if (!line.trim()) continue;
    const { to, text } = JSON.parse(line) as { to: string; text: string };
    const i = to.lastIndexOf(":");
    sock.send(text, Number(to.slice(i + 1)), to.slice(0, i));
  }
  process.exit(0); // stdin closed: the test that drove us is gone
}
