// Net: this page's connection to the Lumamesh relays. Picks a relay, keeps the link up
// (reconnecting with backoff when the relay goes away) and carries frames for rooms.
import { createEmitter } from "./emitter.ts";
import { openLink, LinkError, type Link, type LinkOptions, type RelayInfo, type FailReason } from "./link.ts";
import { T, type Frame } from "./wire.ts";

export interface ConnectOptions extends LinkOptions {
  /** Relays to use, tried in order. */
  relays?: RelayInfo[];
  /** Reconnect when the relay goes away (default true). */
  reconnect?: boolean;
}

export interface Attempt { relay: string; reason: FailReason; message: string }

/** No relay could be reached; `attempts` names each relay tried and why it failed. */
export class ConnectError extends Error {
  constructor(readonly attempts: Attempt[]) {
    super("lumamesh: no relay reachable" + (attempts.length ? ": " + attempts.map((a) => a.message).join("; ") : " (no relays configured)"));
    this.name = "ConnectError";
  }
}

export type NetEvents = {
  /** The link to a relay went down; reconnecting follows unless closed. */
  disconnect: [why: string];
  /** A link is up again after a disconnect. */
  reconnect: [relay: RelayInfo];
  /** Every frame from the relay (rooms listen here). */
  frame: [f: Frame];
  close: [];
};

export interface Net {
  /** The relay this page is linked to now, or null while reconnecting. */
  readonly relay: RelayInfo | null;
  on: ReturnType<typeof createEmitter<NetEvents>>["on"];
  off: ReturnType<typeof createEmitter<NetEvents>>["off"];
  /** Round trip to the relay in ms (PING/PONG). */
  ping(timeoutMs?: number): Promise<number>;
  /** Send one frame to the relay; false when no link is up. */
  send(f: Frame): boolean;
  close(): void;
  /** @internal the link options, shared with rooms. */
  readonly opts: ConnectOptions;
}

async function firstLink(o: ConnectOptions, onFail?: (a: Attempt) => void): Promise<Link> {
  const attempts: Attempt[] = [];
  for (const r of o.relays ?? []) {
    try {
      return await openLink(r, o);
    } catch (e) {
      const a = e instanceof LinkError ? { relay: e.relay, reason: e.reason, message: e.message } : { relay: String(r?.addr), reason: "closed" as const, message: String(e) };
      attempts.push(a);
      onFail?.(a);
    }
  }
  throw new ConnectError(attempts);
}

export async function createNet(o: ConnectOptions = {}): Promise<Net> {
  const ev = createEmitter<NetEvents>();
  let link: Link | null = await firstLink(o);
  let closed = false;
  let retry = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const pongs = new Map<string, () => void>();

  const attach = (l: Link) => {
    link = l;
    l.onframe = (f) => {
      if (f.t == T.PONG) pongs.get(f.data.join())?.();
      ev.emit("frame", f);
    };
    l.onclose = (why) => {
      if (link !== l) return;
      link = null;
      ev.emit("disconnect", why);
      if (!closed && o.reconnect !== false) schedule();
    };
  };
  // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 30 s.
  const schedule = () => {
    const base = Math.min(30000, 500 * 2 ** retry++);
    const jitter = crypto.getRandomValues(new Uint16Array(1))[0] / 65536;
    retryTimer = setTimeout(async () => {
      try {
        const l = await firstLink(o);
        if (closed) return l.close();
        retry = 0;
        attach(l);
        ev.emit("reconnect", l.relay);
      } catch {
        if (!closed) schedule();
      }
    }, base * (0.5 + jitter / 2));
  };
  attach(link);

  const net: Net = {
    get relay() { return link?.relay ?? null; },
    on: ev.on,
    off: ev.off,
    opts: o,
    send: (f) => !!link && (link.send(f), true),
    ping(timeoutMs = 5000) {
      const data = crypto.getRandomValues(new Uint8Array(8));
      const k = data.join();
      const t0 = performance.now();
      return new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => (pongs.delete(k), reject(new Error("lumamesh: ping timed out"))), timeoutMs);
        pongs.set(k, () => (clearTimeout(t), pongs.delete(k), resolve(performance.now() - t0)));
        if (!net.send({ t: T.PING, data })) clearTimeout(t), pongs.delete(k), reject(new Error("lumamesh: not connected"));
      });
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      link?.close();
      ev.emit("close");
    },
  };
  return net;
}
