#!/usr/bin/env bun
// A byte-stream forwarder between a TCP port and a filesystem Unix socket. A pathname Unix socket
// is shared by every network namespace (it lives in the filesystem), so a pair of forwarders
// reaches a TCP port on a namespace's own loopback without giving the namespace an interface:
//
//   test process ── 127.0.0.1:P (root ns) ─▶ /tmp/x.sock ─▶ 127.0.0.1:Q (inside the namespace)
//
// As a script: `bun forward.ts <listen> <connect>`, each `tcp:HOST:PORT` or `unix:PATH`; prints
// `listening <port-or-path>` once ready.
import type { Socket, SocketHandler } from "bun";

export type Endpoint = { unix: string } | { hostname: string; port: number };

export const parseEndpoint = (s: string): Endpoint => {
  if (s.startsWith("unix:")) return { unix: s.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(s);
  if (!m) throw new TypeError(`forward: bad endpoint ${s} (tcp:HOST:PORT or unix:PATH)`);
  return { hostname: m[1]!, port: Number(m[2]) };
};

/** Per socket: its peer; bytes this socket has not accepted yet; `closed`: end this socket once
 * `pending` is written (its peer has closed). Before the peer exists, `pending` holds bytes that
 * arrived early and `closed` says this socket itself closed. */
type Side = { peer?: Socket<Side>; pending: Uint8Array[]; closed: boolean };

function write(s: Socket<Side>, data: Uint8Array) {
  const q = s.data.pending;
  if (q.length) return void q.push(data);
  const n = s.write(data);
  if (n < data.length) q.push(data.subarray(Math.max(n, 0)));
}

function flush(s: Socket<Side>) {
  const q = s.data.pending;
  while (q.length) {
    const d = q[0]!;
    const n = s.write(d);
    if (n < d.length) {
      q[0] = d.subarray(Math.max(n, 0));
      return;
    }
    q.shift();
  }
  if (s.data.closed) s.end();
}

const handlers = {
  data(s: Socket<Side>, d: Uint8Array) {
    const peer = s.data.peer;
    if (peer) write(peer, d.slice());
    else s.data.pending.push(d.slice()); // the outbound side is still connecting: hold the bytes
  },
  drain: flush,
  close(s: Socket<Side>) {
    const peer = s.data.peer;
    if (!peer) return void (s.data.closed = true);
    peer.data.closed = true;
    if (!peer.data.pending.length) peer.end();
  },
  error(s: Socket<Side>) {
    s.data.peer?.end();
  },
};

const connectTo = (t: Endpoint, socket: SocketHandler<Side>) =>
  "unix" in t ? Bun.connect<Side>({ unix: t.unix, socket }) : Bun.connect<Side>({ hostname: t.hostname, port: t.port, socket });

function listenOn(l: Endpoint, socket: SocketHandler<Side>): { port?: number; stop(): void } {
  return "unix" in l ? Bun.listen<Side>({ unix: l.unix, socket }) : Bun.listen<Side>({ hostname: l.hostname, port: l.port, socket });
}

/** Accept on `listen`, and pipe each connection to a new connection to `target`. */
export function forward(listen: Endpoint, target: Endpoint) {
  return listenOn(listen, {
    ...handlers,
    open(inbound) {
      inbound.data = { pending: [], closed: false };
      connectTo(target, {
        ...handlers,
        open(outbound) {
          // Bytes that came in while connecting go out first; from here on, pending is a backlog.
          const early = inbound.data.pending;
          outbound.data = { peer: inbound, pending: [], closed: inbound.data.closed };
          inbound.data = { peer: outbound, pending: [], closed: false };
          for (const d of early) write(outbound, d);
          flush(outbound); // ends it at once if the inbound side already hung up
        },
        connectError() {
          inbound.end();
        },
      }).catch(() => inbound.end());
    },
  });
}

if (import.meta.main) {
  const [listen, target] = process.argv.slice(2).map(parseEndpoint);
  if (!listen || !target) throw new TypeError("usage: bun forward.ts <listen> <connect>");
  const server = forward(listen, target);
  console.log(`listening ${"unix" in listen ? listen.unix : server.port}`);
}
