// The relay's UDP socket: node:dgram for binding and buffer sizes, Bun's own UDP socket underneath
// for the datagrams themselves. A relay lives or dies by its receive buffer: a burst of handshakes
// arrives faster than one thread takes it in, and the kernel's default (~208 KiB on Linux, a few
// hundred datagrams) overflowed under 128 concurrent handshakes (bench/RESULTS.md, capacity), so the
// socket asks for RECV_BUFFER; the kernel grants at most net.core.rmem_max, which the relay logs.
// Bun implements node:dgram on top of its own socket (Bun.udpSocket); when that socket is reachable
// the relay sends and receives on it directly (no DNS lookup, no rinfo object, no callback queue per
// datagram: ~25 % less CPU per datagram, measured), else through node:dgram's API. Either way the
// socket hands the relay each datagram as a Uint8Array that is its own (no copy needed).
// Datagrams sent in one turn of the event loop leave together at its end (one sendmmsg for all the
// answers to what one wake took in), and above a datagram rate the thread lets the next ones gather
// before it takes them in (wake coalescing, below).
import { createSocket, type Socket } from "node:dgram";

/** Bytes of receive buffer asked for (the kernel doubles it for bookkeeping and caps it at rmem_max). */
export const RECV_BUFFER = 8 * 1024 * 1024;
export const SEND_BUFFER = 4 * 1024 * 1024;

/**
 * Wake coalescing, as a NIC's interrupt moderation. An idle link costs the relay one ICE consent check
 * in and one answer out every ~2.7 s; with thousands of links, checks arriving one by one wake the
 * relay's thread one by one (epoll_wait, two context switches, a turn of the event loop), which costs
 * more than answering them. Above `rate` datagrams per second, at the end of a turn that took
 * datagrams in and did little (less than half of `ms`), the thread sleeps until `ms` after the turn
 * began: what arrives meanwhile waits in the socket's receive buffer (8 MiB) and the next turn takes it
 * all in (Bun receives with recvmmsg until the socket is empty), so the thread wakes once per `ms` at
 * most instead of once per datagram. Never while the thread is busy (half a core or more over the last
 * window: the queue refills while it works, there is nothing to save) nor while the caller says no
 * (the relay: while a handshake is in flight, so joining costs no extra latency). A datagram waits
 * `ms` at most, and only above `rate`. `ms` 0 turns it off.
 */
export interface CoalesceOptions {
  /** Longest a datagram waits to be taken in (ms, whole; Bun sleeps whole ms); 0: never. */
  ms: number;
  /** From this many datagrams received per second (over the last window). */
  rate: number;
}
/** 2 ms: a tenth of a browser's handshake round trips on a LAN, a fifth of the wakes of 10,000 idle links. */
export const COALESCE: CoalesceOptions = /* @__PURE__ */ Object.freeze({ ms: 2, rate: 1000 });
/** How often the datagram rate and the thread's load are measured (ms). */
const COALESCE_WINDOW_MS = 250;
/** At or above this share of one core (over the last window), the thread never sleeps. */
const COALESCE_MAX_LOAD = 0.5;

/** The decision, sans-IO (clock and CPU time passed in): how long to sleep at the end of a turn. */
export class Coalescer {
  private windowAt: number;
  private windowCpu: number;
  private count = 0;
  /** Datagrams per second and share of one core used, over the last whole window. */
  rate = 0;
  load = 0;
  /** Sleeps so far. */
  sleeps = 0;
  constructor(
    readonly o: CoalesceOptions,
    now: number,
    cpu: number,
  ) {
    if (!Number.isInteger(o.ms) || o.ms < 0 || !(o.rate > 0)) throw new RangeError(`udp: bad coalescing ${o.ms} ms / ${o.rate} per second`);
    this.windowAt = now;
    this.windowCpu = cpu;
  }
  /** Whether datagrams come at or above the rate (last window) with coalescing on: then what a turn
   *  sends is worth sending in one go. */
  get active(): boolean {
    return this.o.ms > 0 && this.rate >= this.o.rate;
  }
  /** A datagram arrived at `now`; `cpu()` is the process's CPU time (ms), asked once per window. */
  arrived(now: number, cpu: () => number) {
    this.count++;
    if (now - this.windowAt >= COALESCE_WINDOW_MS) {
      const c = cpu(),
        span = now - this.windowAt;
      this.rate = (this.count * 1000) / span;
      this.load = (c - this.windowCpu) / span;
      (this.windowAt = now), (this.windowCpu = c), (this.count = 0);
    }
  }
  /** A turn that took datagrams in, begun at `start`, ends at `now`; `allowed`: the caller's say.
   *  Returns how long to sleep (ms), 0 for not. */
  pause(start: number, now: number, allowed: boolean): number {
    const ms = this.o.ms,
      spent = now - start;
    if (ms === 0 || !allowed || this.rate < this.o.rate || this.load >= COALESCE_MAX_LOAD || spent >= ms / 2) return 0;
    this.sleeps++;
    // Whole ms (Bun.sleepSync), at least 1.
    return Math.max(1, Math.round(ms - spent));
  }
}

export interface Udp {
  port: number;
  /** The receive buffer the kernel granted (bytes, as getsockopt reports it). */
  recvBuffer: number;
  /** Whether datagrams have come through Bun's socket directly (so far). */
  readonly direct: boolean;
  /** Wake coalescing's state. */
  readonly coalescer: Coalescer;
  /** Above the coalescing rate, queued: leaves at the end of this turn of the event loop with every
   *  other datagram sent in it (one sendmmsg); below it, at once. */
  send(data: Uint8Array, port: number, address: string): void;
  close(): Promise<void>;
}

interface BunUdp {
  send(data: Uint8Array, port: number, address: string): boolean;
  sendMany?(packets: (Uint8Array | number | string)[]): number;
  reload(o: {
    socket: { data(s: unknown, buf: Uint8Array, port: number, address: string): void; drain?(): void; error?(s: unknown, e: Error): void };
  }): void;
}

/** Bun's socket inside a node:dgram Socket, when this runtime has one (Bun 1.4: state symbol → handle.socket). */
function bunSocketOf(sock: Socket): BunUdp | undefined {
  try {
    const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === "state symbol");
    const inner = sym && (sock as unknown as Record<symbol, { handle?: { socket?: BunUdp } }>)[sym]?.handle?.socket;
    return inner && typeof inner.send === "function" && typeof inner.reload === "function" ? inner : undefined;
  } catch {
    return undefined;
  }
}

export async function openUdp(o: {
  host: string;
  port: number;
  onDatagram(d: Uint8Array, port: number, address: string): void;
  onError(e: unknown): void;
  direct?: boolean;
  coalesce?: CoalesceOptions;
  /** Whether the thread may sleep to coalesce wakes now (default: yes). */
  mayCoalesce?(): boolean;
  /** It slept `ms` to coalesce wakes. */
  onCoalesce?(ms: number): void;
}): Promise<Udp> {
  const sock: Socket = createSocket({ type: o.host.includes(":") ? "udp6" : "udp4", reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(o.port, o.host, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  let recvBuffer = 0;
  try {
    sock.setRecvBufferSize(RECV_BUFFER);
    sock.setSendBufferSize(SEND_BUFFER);
  } catch {
    /* a runtime without them: the defaults */
  }
  try {
    recvBuffer = sock.getRecvBufferSize();
  } catch {}
  // ICMP port-unreachable from a browser that went away surfaces as ECONNREFUSED; without a
  // listener it would kill the process.
  sock.on("error", o.onError);
  const inner = o.direct === false ? undefined : bunSocketOf(sock);
  // Bun's socket takes new handlers (as Bun.udpSocket's `socket` option); node:dgram's 'message'
  // stays subscribed, and is what delivers if the runtime ignored them.
  let direct = false;
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const coalescer = new Coalescer(o.coalesce ?? COALESCE, performance.now(), cpuMs());
  // What this turn sends, as sendMany takes it (data, port, address, …), and when its first datagram came in.
  let out: (Uint8Array | number | string)[] = [];
  let turn = false,
    began = -1;
  const sendOne = inner
    ? (d: Uint8Array, port: number, address: string) => {
        // Bun's send returns false when the kernel would block: node:dgram queues those instead.
        try {
          if (!inner.send(d, port, address)) sock.send(d, port, address);
        } catch (e) {
          o.onError(e);
        }
      }
    : (d: Uint8Array, port: number, address: string) => sock.send(d, port, address);
  const flush = () => {
    const q = out;
    if (!q.length) return;
    out = [];
    let sent = 0;
    if (inner?.sendMany && q.length > 3)
      try {
        sent = inner.sendMany(q) * 3; // what the kernel would not take now goes the node:dgram way below
      } catch (e) {
        o.onError(e);
        sent = 0;
      }
    for (let i = sent; i < q.length; i += 3) sendOne(q[i] as Uint8Array, q[i + 1] as number, q[i + 2] as string);
  };
  const endTurn = () => {
    turn = false;
    flush();
    if (began < 0) return;
    const start = began;
    began = -1;
    const ms = coalescer.pause(start, performance.now(), o.mayCoalesce?.() ?? true);
    if (ms) {
      Bun.sleepSync(ms);
      o.onCoalesce?.(ms);
    }
  };
  const receive = (buf: Uint8Array, port: number, address: string) => {
    const t = performance.now();
    coalescer.arrived(t, cpuMs);
    // Below the rate, no end of turn to wait for: what the datagram makes the relay send leaves at once.
    if (coalescer.active) {
      if (began < 0) began = t;
      if (!turn) (turn = true), setImmediate(endTurn);
    }
    o.onDatagram(buf, port, address);
  };
  inner?.reload({
    socket: {
      data: (_s, buf, port, address) => ((direct = true), receive(buf, port, address)),
      error: (_s, e) => o.onError(e),
    },
  });
  sock.on("message", (msg, rinfo) => receive(msg, rinfo.port, rinfo.address));
  return {
    port: sock.address().port,
    recvBuffer,
    get direct() {
      return direct;
    },
    coalescer,
    send(d, port, address) {
      // Below the coalescing rate a wake takes in one datagram or two: sent at once, as a turn's end
      // would cost one more pass of the event loop than it saves (measured: 1,000 idle links).
      if (!coalescer.active) return sendOne(d, port, address);
      out.push(d, port, address);
      if (!turn) (turn = true), setImmediate(endTurn);
    },
    close: () => {
      flush();
      return new Promise<void>((r) => sock.close(() => r()));
    },
  };
}
