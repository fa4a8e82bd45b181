// The relay's I/O shell: one UDP socket, a timer, and one werift session per remote address,
// all driven by the sans-IO RelayCore. Nothing here decides anything; it executes actions.
import { createSocket, type Socket } from "node:dgram";
import { appendFileSync } from "node:fs";
import { RelayCore, addrKey, type Action, type Addr } from "./core.ts";
import { createServerSession, type Certificate, type ChannelSession } from "./werift.ts";
import type { Limits } from "./limits.ts";
import type { Logger } from "./log.ts";

export interface RelayOptions {
  host: string;
  port: number;
  cert: Certificate;
  log: Logger;
  limits?: Partial<Limits>;
  /** Test switch: append every application-layer frame in and out to this file. */
  recordFrames?: string;
  /** RECORDS (gossip) received from a session whose certificate fingerprint is `fp`, from IP `ip`. */
  onRecords?: (json: string, from: { key: string; fp: string; ip: string }) => void;
  /** A plain STUN Binding sent with `bind()` was answered: `from` ("ip:port") saw this socket at `mapped`. */
  onMapped?: (from: string, mapped: string | null) => void;
  /** A session ended, for whatever reason. */
  onSessionClosed?: (key: string) => void;
}

export interface RunningRelay {
  port: number;
  core: RelayCore;
  sessions: () => number;
  /** Send a plain STUN Binding to `to` from the relay's own socket (answers: onMapped). */
  bind(to: Addr): void;
  /** Send one application frame to a session (dropped if it is gone or not ready). */
  sendFrame(key: string, data: Uint8Array): void;
  stop(): Promise<void>;
}

export async function startRelay(o: RelayOptions): Promise<RunningRelay> {
  const core = new RelayCore(o.limits, performance.now());
  const adapters = new Map<string, ChannelSession>();
  const family = o.host.includes(":") ? "udp6" : "udp4";
  const sock: Socket = createSocket({ type: family, reuseAddr: false });
  const now = () => performance.now();
  const log = o.log;
  const redact = (key: string) => {
    const i = key.lastIndexOf(":");
    return log.addr(key.slice(0, i).replace(/^\[|\]$/g, ""), Number(key.slice(i + 1)));
  };
  const record = (dir: number, data: Uint8Array) => {
    if (!o.recordFrames) return;
    const h = new Uint8Array(5);
    h[0] = dir;
    new DataView(h.buffer).setUint32(1, data.length);
    appendFileSync(o.recordFrames, Buffer.concat([h, data]));
  };

  const run = (actions: Action[]) => {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          sock.send(a.data, a.to.port, a.to.address);
          break;
        case "open": {
          const { key, from } = a;
          const s: ChannelSession = createServerSession(o.cert, {
            transmit: (d) => sock.send(d, from.port, from.address),
            onOpen: () => adapters.get(key) === s && run(core.handleOpen(key, now(), s.remoteFingerprint)),
            onMessage: (m) => {
              if (adapters.get(key) !== s) return;
              record(0, m);
              run(core.handleMessage(key, m, now()));
            },
            onClose: (reason) => {
              if (adapters.get(key) !== s) return;
              adapters.delete(key);
              o.onSessionClosed?.(key);
              run(core.handleClosed(key, reason, now()));
            },
            onDrop: (reason) => core.count("drop." + reason),
            onAlive: () => adapters.get(key) === s && core.handleAlive(key, now()),
          }, { maxMessageSize: core.limits.maxFrame * 4, maxQueued: core.limits.sendQueue });
          adapters.set(key, s);
          break;
        }
        case "dtls":
          adapters.get(a.key)?.receive(a.data);
          break;
        case "frame": {
          const s = adapters.get(a.key);
          if (s && s.send(a.data)) record(1, a.data);
          break;
        }
        case "close": {
          const s = adapters.get(a.key);
          adapters.delete(a.key);
          s?.close();
          if (s) o.onSessionClosed?.(a.key);
          break;
        }
        case "records":
          o.onRecords?.(a.json, { key: a.key, fp: a.fp, ip: a.ip });
          break;
        case "mapped":
          o.onMapped?.(addrKey(a.from), a.mapped);
          break;
        case "event": {
          const f = { ...a.fields };
          if (typeof f.key == "string") f.key = redact(f.key);
          log(a.level, a.name, f);
          break;
        }
      }
    }
  };

  sock.on("message", (msg, rinfo) => {
    try {
      run(core.handleDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), { address: rinfo.address, port: rinfo.port }, now()));
    } catch (e) {
      // Nothing a remote sends may take the relay down; count and log what slipped through.
      core.count("drop.exception");
      log("warn", "input.exception", { error: String(e) });
    }
  });
  // ICMP port-unreachable from a browser that went away surfaces as ECONNREFUSED; without a
  // listener it would kill the process.
  sock.on("error", (e) => {
    core.count("socket.error");
    log("debug", "socket.error", { error: String(e) });
  });

  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(o.port, o.host, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  const timer = setInterval(() => {
    try {
      run(core.tick(now()));
    } catch (e) {
      log("warn", "tick.exception", { error: String(e) });
    }
  }, 1000);

  return {
    port: sock.address().port,
    core,
    sessions: () => adapters.size,
    bind: (to) => run(core.bindingRequest(to, now())),
    sendFrame: (key, data) => run(core.frameTo(key, data)),
    async stop() {
      clearInterval(timer);
      run(core.closeAll(now()));
      // Let the goodbyes (SCTP ABORT, close_notify) leave first: Bun drops datagrams still queued
      // on a socket closed in the same turn.
      await new Promise((r) => setImmediate(r));
      await new Promise<void>((r) => sock.close(() => r()));
    },
  };
}
