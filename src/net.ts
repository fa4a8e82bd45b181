// Net: this page's connection to the Lumamesh relays. Picks a relay, keeps the link up
// (reconnecting with backoff when the relay goes away) and carries frames for rooms.
import { createEmitter } from "./emitter.ts";
import { openLink, LinkError, type Link, type LinkOptions, type RelayInfo, type FailReason } from "./link.ts";
import { T, type Frame } from "../protocol/frames.ts";
import { joinRoom, type JoinOptions, type Room } from "./room.ts";
import { webCrypto, type CryptoProvider } from "./seal.ts";
import { discover, remember, checkRecords, ordHome, BUILD, type DiscoverOptions, type SourceReport } from "./discover.ts";
import { hex, random } from "../protocol/bytes.ts";
import { fpId } from "../protocol/addr.ts";

export interface ConnectOptions extends LinkOptions, DiscoverOptions {
  /** URL of the crypto fallback module, loaded only where crypto.subtle is missing (default: compiled in). */
  fallback?: string;
  /** Reconnect when the relay goes away (default true). */
  reconnect?: boolean;
  /** Relays each room is joined on, picked by rendezvous hashing of its topic (default 2). */
  relaysPerRoom?: number;
}

export interface Attempt { relay: string; reason: FailReason; message: string }

/** No relay could be reached; `attempts` names each relay tried and why it failed, `sources` where relays were looked for. */
export class ConnectError extends Error {
  constructor(readonly attempts: Attempt[], readonly sources: SourceReport[] = []) {
    super("lumamesh: no relay reachable" + (attempts.length ? ": " + attempts.map((a) => a.message).join("; ") : " (none found: " + sources.map((s) => s.source + ": " + (s.reason ?? s.relays)).join("; ") + ")"));
    this.name = "ConnectError";
  }
}

export type NetEvents = {
  /** The link to a relay went down; reconnecting follows unless closed. */
  disconnect: [why: string];
  /** A link is up again after a disconnect. */
  reconnect: [relay: RelayInfo];
  /** @internal every frame from any relay link (rooms listen here). */
  frame: [f: Frame, link: Link];
  /** @internal a relay link went down (rooms move elsewhere). */
  linkdown: [link: Link];
  /** The relay refused something (an ERROR frame): code and message. */
  error: [e: { code: number; message: string }];
  close: [];
};

export interface Net {
  /** Where relays were looked for, and what each source gave or why it was skipped. */
  readonly sources: SourceReport[];
  /** This page's peer id: 16 hex chars, the first 8 bytes of its DTLS certificate fingerprint. */
  readonly id: string;
  /** Join a room: resolves once the relay has admitted this page to it. */
  joinRoom(name: string, options?: JoinOptions): Promise<Room>;
  /** The relay this page is linked to now, or null while reconnecting. */
  readonly relay: RelayInfo | null;
  on: ReturnType<typeof createEmitter<NetEvents>>["on"];
  off: ReturnType<typeof createEmitter<NetEvents>>["off"];
  /** Round trip to the relay in ms (PING/PONG). */
  ping(timeoutMs?: number): Promise<number>;
  /** @internal send one frame to the relay; false when no link is up. */
  send(f: Frame): boolean;
  /** Every relay this page knows of: discovered, then told of by relays (verified). */
  readonly relays: RelayInfo[];
  /** @internal a link to this relay (opened on first use; rejects if it cannot be reached). */
  linkTo(r: RelayInfo): Promise<Link>;
  /** @internal relays that went down in the last 30 s. */
  isDown(addr: string): boolean;
  /** @internal resolves when every RECORDS received so far has been checked. */
  settled(): Promise<void>;
  close(): void;
}

async function firstLink(o: ConnectOptions, sources?: SourceReport[]): Promise<Link> {
  const attempts: Attempt[] = [];
  for (const r of o.relays ?? []) {
    try {
      return await openLink(r, o);
    } catch (e) {
      const a = e instanceof LinkError ? { relay: e.relay, reason: e.reason, message: e.message } : { relay: String(r?.addr), reason: "closed" as const, message: String(e) };
      attempts.push(a);
    }
  }
  throw new ConnectError(attempts, sources);
}

export async function createNet(o: ConnectOptions = {}): Promise<Net> {
  const ev = createEmitter<NetEvents>();
  const PC = o.RTCPeerConnection ?? globalThis.RTCPeerConnection;
  if (!PC) throw new Error("lumamesh: no RTCPeerConnection here; pass one as options.RTCPeerConnection");
  // One certificate for the relay link and every direct connection: the peer id is its fingerprint's
  // prefix, so the relay and the other peers can both check it.
  let id = random(8);
  if (!o.certificates && PC.generateCertificate) {
    const cert = await PC.generateCertificate({ name: "ECDSA", namedCurve: "P-256" } as EcKeyGenParams);
    const fp = cert.getFingerprints().find((f) => f.algorithm == "sha-256")?.value;
    if (fp) (o = { ...o, certificates: [cert] }), (id = fpId(fp));
  }
  const found = await discover(o);
  o = { ...o, relays: found.relays };
  const known = new Map<string, RelayInfo>(found.relays.map((r) => [r.addr, r]));
  const links = new Map<string, Promise<Link>>();
  const down = new Map<string, number>();
  let learning = Promise.resolve();
  const home = ordHome(import.meta.url);
  let link: Link | null = await firstLink(o, found.sources);
  let crypto_: Promise<CryptoProvider> | undefined;
  // WebCrypto is missing on non-secure origins (an ord server on plain HTTP on a LAN address): load
  // the @noble fallback, its own module and inscription, so secure pages never pay for it.
  const cryptoProvider = () =>
    (crypto_ ??= globalThis.crypto?.subtle
      ? Promise.resolve(webCrypto)
      : import(o.fallback ?? new URL(BUILD.fallback, import.meta.url).href).then((m) => m.nobleCrypto as CryptoProvider));
  let closed = false;
  let retry = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const pongs = new Map<string, () => void>();

  // Every link: frames go to the rooms; RECORDS teach us relays; a dead link is marked down.
  const wire = (l: Link) => {
    links.set(l.relay.addr, Promise.resolve(l));
    const learn = (json: string) =>
      (learning = learning.then(() => checkRecords(json, home)).then((rs) => {
        for (const r of rs) known.has(r.addr) || known.set(r.addr, r);
        remember([...known.values()]);
      }));
    if (l.records) learn(l.records);
    l.onframe = (f) => {
      if (f.t == T.PONG) pongs.get(f.data.join())?.();
      else if (f.t == T.ERROR) ev.emit("error", { code: f.code, message: f.message });
      else if (f.t == T.RECORDS) learn(f.json);
      ev.emit("frame", f, l);
    };
    l.onclose = (why) => {
      links.delete(l.relay.addr);
      down.set(l.relay.addr, Date.now());
      ev.emit("linkdown", l);
      if (link !== l) return;
      link = null;
      ev.emit("disconnect", why);
      if (!closed && o.reconnect !== false) schedule();
    };
  };
  const linkTo = (r: RelayInfo) => {
    let p = links.get(r.addr);
    if (!p) {
      links.set(r.addr, (p = openLink(r, o).then((l) => (closed ? (l.close(), Promise.reject(new Error("closed"))) : (wire(l), l)))));
      p.catch(() => (links.delete(r.addr), down.set(r.addr, Date.now())));
    }
    return p;
  };
  // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 30 s.
  const schedule = () => {
    const base = Math.min(30000, 500 * 2 ** retry++);
    const jitter = Math.random();
    retryTimer = setTimeout(async () => {
      try {
        const l = await firstLink({ ...o, relays: [...known.values()] });
        if (closed) return l.close();
        retry = 0;
        wire((link = l));
        ev.emit("reconnect", l.relay);
      } catch {
        if (!closed) schedule();
      }
    }, base * (0.5 + jitter / 2));
  };
  wire(link);
  remember([link.relay, ...found.relays.filter((r) => r != link!.relay)]);
  // A closing tab says goodbye: pc.close() sends SCTP ABORT to every direct peer and to the relay,
  // so the others see `leave` at once instead of after ICE consent or idle timeouts.
  globalThis.addEventListener?.("pagehide", () => net.close());

  const rooms = new Set<Room>();
  const net: Net = {
    id: hex(id),
    sources: found.sources,
    async joinRoom(name, options) {
      const room = await joinRoom({
        net, id, cert: o.certificates?.[0], crypto: await cryptoProvider(), PC, k: o.relaysPerRoom ?? 2,
      }, name, options);
      rooms.add(room);
      const leave = room.leave;
      (room as { leave: () => void }).leave = () => (rooms.delete(room), leave());
      return room;
    },
    get relay() { return link?.relay ?? null; },
    get relays() { return [...known.values()]; },
    linkTo,
    settled: () => learning,
    isDown: (addr) => Date.now() - (down.get(addr) ?? -1e9) < 30000,
    on: ev.on,
    off: ev.off,
    send: (f) => !!link && (link.send(f), true),
    ping(timeoutMs = 5000) {
      const data = random(8), k = data.join(), t0 = performance.now();
      return new Promise<number>((resolve, reject) => {
        // One way out: the PONG (no argument), the timeout or no link (a reason).
        const end = (why?: string) => (clearTimeout(t), pongs.delete(k), why ? reject(new Error("lumamesh: " + why)) : resolve(performance.now() - t0));
        const t = setTimeout(end, timeoutMs, "ping timed out");
        pongs.set(k, end);
        net.send({ t: T.PING, data }) || end("not connected");
      });
    },
    close() {
      if (closed) return;
      closed = true;
      for (const r of [...rooms]) r.leave();
      clearTimeout(retryTimer);
      for (const p of links.values()) p.then((l) => l.close(), () => {});
      ev.emit("close");
    },
  };
  return net;
}
