// The relay's I/O shell: one UDP socket (relay/udp.ts), one timer set to the core's next deadline,
// and one werift session per remote address, all driven by the sans-IO RelayCore. Nothing here
// decides anything; it executes actions.
import { appendFileSync } from "node:fs";
import { openUdp, RECV_BUFFER } from "./udp.ts";
import { RelayCore, addrKey, type Action, type Addr } from "./core.ts";
import { createServerSession, type ChannelSession } from "./session.ts";
import type { Certificate } from "./cert.ts";
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
          core.count("datagrams.out");
          udp.send(a.data, a.to.port, a.to.address);
          break;
        case "open": {
          const { key, from } = a;
          const s: ChannelSession = createServerSession(
            o.cert,
            {
              transmit: (d) => (core.count("datagrams.out"), udp.send(d, from.port, from.address)),
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
            },
            { maxMessageSize: core.limits.maxFrame * 4, maxQueued: core.limits.sendQueue },
          );
          adapters.set(key, s);
          break;
        }
        case "dtls":
          adapters.get(a.key)?.receive(a.data);
          break;
        case "frame": {
          const s = adapters.get(a.key);
          if (s && s.send(a.data)) core.count("frames.out"), record(1, a.data);
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
          if (log.on && !log.on(a.level)) break; // per-session events are debug: not even built at info
          const f = { ...a.fields };
          if (typeof f.key === "string") f.key = redact(f.key);
          log(a.level, a.name, f);
          break;
        }
      }
    }
    arm(); // what ran may have brought a deadline forward (a new session, a channel opened)
  };

  // The core's timeouts: one timer, set to its next deadline (never polling every session).
  let timer: ReturnType<typeof setTimeout> | undefined,
    armed = Infinity,
    stopped = false;
  const arm = () => {
    const at = core.nextDeadline();
    if (stopped || at >= armed) return;
    clearTimeout(timer);
    armed = at;
    // +1 ms: a session expires once the clock is past its deadline.
    timer = setTimeout(fire, Math.max(0, at - now()) + 1);
  };
  const fire = () => {
    armed = Infinity;
    try {
      run(core.tick(now()));
    } catch (e) {
      log("warn", "tick.exception", { error: String(e) });
    }
    arm();
  };

  const udp = await openUdp({
    host: o.host,
    port: o.port,
    onDatagram: (msg, port, address) => {
      core.count("datagrams.in");
      if (msg[0]! <= 3) core.count("datagrams.in.stun");
      try {
        run(core.handleDatagram(msg, { address, port }, now()));
      } catch (e) {
        // Nothing a remote sends may take the relay down; count and log what slipped through.
        core.count("drop.exception");
        log("warn", "input.exception", { error: String(e) });
      }
    },
    onError: (e) => {
      core.count("socket.error");
      log("debug", "socket.error", { error: String(e) });
    },
  });
  // The kernel reports twice what it grants (its bookkeeping): below RECV_BUFFER, bursts may overflow it.
  if (udp.recvBuffer && udp.recvBuffer < RECV_BUFFER)
    log("warn", "socket.small-receive-buffer", {
      bytes: udp.recvBuffer,
      asked: RECV_BUFFER,
      hint: `bursts of handshakes can overflow it and cost retransmissions: raise it with sysctl -w net.core.rmem_max=${RECV_BUFFER}`,
    });

  return {
    port: udp.port,
    core,
    sessions: () => adapters.size,
    bind: (to) => run(core.bindingRequest(to, now())),
    sendFrame: (key, data) => run(core.frameTo(key, data)),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      run(core.closeAll(now()));
      // Let the goodbyes (SCTP ABORT, close_notify) leave first: Bun drops datagrams still queued
      // on a socket closed in the same turn.
      await new Promise((r) => setImmediate(r));
      await udp.close();
    },
  };
}
