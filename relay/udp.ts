// The relay's UDP socket: node:dgram for binding and buffer sizes, Bun's own UDP socket underneath
// for the datagrams themselves. A relay lives or dies by its receive buffer: a burst of handshakes
// arrives faster than one thread takes it in, and the kernel's default (~208 KiB on Linux, a few
// hundred datagrams) overflowed under 128 concurrent handshakes (bench/RESULTS.md, capacity), so the
// socket asks for RECV_BUFFER; the kernel grants at most net.core.rmem_max, which the relay logs.
// Bun implements node:dgram on top of its own socket (Bun.udpSocket); when that socket is reachable
// the relay sends and receives on it directly (no DNS lookup, no rinfo object, no callback queue per
// datagram: ~25 % less CPU per datagram, measured), else through node:dgram's API. Either way the
// socket hands the relay each datagram as a Uint8Array that is its own (no copy needed).
import { createSocket, type Socket } from "node:dgram";

/** Bytes of receive buffer asked for (the kernel doubles it for bookkeeping and caps it at rmem_max). */
export const RECV_BUFFER = 8 * 1024 * 1024;
export const SEND_BUFFER = 4 * 1024 * 1024;

export interface Udp {
  port: number;
  /** The receive buffer the kernel granted (bytes, as getsockopt reports it). */
  recvBuffer: number;
  /** Whether datagrams have come through Bun's socket directly (so far). */
  readonly direct: boolean;
  send(data: Uint8Array, port: number, address: string): void;
  close(): Promise<void>;
}

interface BunUdp {
  send(data: Uint8Array, port: number, address: string): boolean;
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
}): Promise<Udp> {
  const sock: Socket = createSocket({ type: o.host.includes(":") ? "udp6" : "udp4", reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    // The code stays on the error: callers fall back on it (npm start takes free ports on EADDRINUSE).
    const failed = (e: Error & { code?: string }) => reject(Object.assign(new Error(bindError(o.host, o.port, e)), { code: e.code }));
    sock.once("error", failed);
    sock.bind(o.port, o.host, () => {
      sock.off("error", failed);
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
  inner?.reload({
    socket: {
      data: (_s, buf, port, address) => ((direct = true), o.onDatagram(buf, port, address)),
      error: (_s, e) => o.onError(e),
    },
  });
  sock.on("message", (msg, rinfo) => o.onDatagram(msg, rinfo.port, rinfo.address));
  return {
    port: sock.address().port,
    recvBuffer,
    get direct() {
      return direct;
    },
    send: inner
      ? (d, port, address) => {
          // Bun's send returns false when the kernel would block: node:dgram queues those instead.
          try {
            if (!inner.send(d, port, address)) sock.send(d, port, address);
          } catch (e) {
            o.onError(e);
          }
        }
      : (d, port, address) => sock.send(d, port, address),
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/** What an operator needs to hear when the socket cannot be bound: the address, and what to do. */
export function bindError(host: string, port: number, e: Error & { code?: string }): string {
  const at = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch (e.code) {
    case "EADDRINUSE":
      return `cannot bind UDP ${at}: the port is in use (another relay on it? pick another with --port)`;
    case "EADDRNOTAVAIL":
      return `cannot bind UDP ${at}: not an address of this machine (bind one it has, or 0.0.0.0; the address browsers reach goes in --public-ip)`;
    case "EACCES":
      return `cannot bind UDP ${at}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`;
    default:
      return `cannot bind UDP ${at}: ${e.message}`;
  }
}
