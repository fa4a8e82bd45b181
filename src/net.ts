// Net: this page's connection to the Lumamesh relays. Races the known relays and keeps the nearest
// that answers, keeps the link up (reconnecting with backoff when the relay goes away), learns relays
// from relays (bounded, ranked below its own sources) and carries frames for rooms.
import { createEmitter } from "./emitter.ts";
import { openLink, now, LinkError, type Link, type LinkOptions, type RelayInfo, type FailReason } from "./link.ts";
import { T, type Frame } from "../protocol/frames.ts";
import { joinRoom, type JoinOptions, type Room, type RoomHost, type RoomIn } from "./room.ts";
import { webCrypto, type CryptoProvider } from "./seal.ts";
import {
  discover,
  checkRecords,
  ordHome,
  byDistance,
  seen,
  failed,
  keepLearned,
  BUILD,
  type DiscoverOptions,
  type SourceReport,
} from "./discover.ts";
import { hex, random } from "../protocol/bytes.ts";
import { fpId } from "../protocol/addr.ts";
import { certificate } from "./identity.ts";

export interface ConnectOptions extends LinkOptions, DiscoverOptions {
  /** URL of the crypto fallback module, loaded only where crypto.subtle is missing (default: compiled in). */
  fallback?: string;
  /** Reconnect when the relay goes away (default true). */
  reconnect?: boolean;
  /** Relays each room is joined on, picked by rendezvous hashing of its topic (default 2). */
  relaysPerRoom?: number;
  /** "persistent": keep this page's certificate, and so its peer id, across reloads (IndexedDB, a year
   *  at most; one tab at a time, a second tab gets a fresh id). Where the page cannot keep it (a
   *  sandboxed inscription's opaque origin, blocked storage, a page that is not a secure context) it
   *  is fresh, silently, as with "ephemeral" (the default). The kept id belongs to the origin: every
   *  page of the origin can use it. */
  identity?: "ephemeral" | "persistent";
}

export interface Attempt {
  relay: string;
  reason: FailReason;
  message: string;
}

/** No relay could be reached; `attempts` names each relay tried and why it failed, `sources` where relays were looked for. */
export class ConnectError extends Error {
  // Declared, not class fields: set once in the constructor (a field would be emitted as well).
  declare readonly attempts: Attempt[];
  declare readonly sources: SourceReport[];
  constructor(attempts: Attempt[], sources: SourceReport[] = []) {
    super(
      "lumamesh: no relay reachable" +
        (attempts.length
          ? ": " + attempts.map((a) => a.message).join("; ")
          : " (none found: " + sources.map((s) => s.source + ": " + (s.reason ?? s.relays)).join("; ") + ")"),
    );
    this.name = "ConnectError";
    this.attempts = attempts;
    this.sources = sources;
  }
}

export type NetEvents = {
  /** The link to a relay went down; reconnecting follows unless closed. */
  disconnect: [why: string];
  /** A link is up again after a disconnect. */
  reconnect: [relay: RelayInfo];
  /** The relay refused something (an ERROR frame): code and message. */
  error: [e: { code: number; message: string }];
  close: [];
};

export interface Net {
  /** Where relays were looked for, and what each source gave or why it was skipped. */
  readonly sources: SourceReport[];
  /** This page's peer id: 16 hex chars, the first 8 bytes of its DTLS certificate fingerprint. */
  readonly id: string;
  /** Join a room: resolves once a relay has admitted this page to it. */
  joinRoom(name: string, options?: JoinOptions): Promise<Room>;
  /** The relay this page is linked to now, or null while reconnecting. */
  readonly relay: RelayInfo | null;
  on: ReturnType<typeof createEmitter<NetEvents>>["on"];
  off: ReturnType<typeof createEmitter<NetEvents>>["off"];
  /** Round trip to the relay in ms (PING/PONG). */
  ping(timeoutMs?: number): Promise<number>;
  /** @internal send one frame to the relay; false when no link is up. */
  send(f: Frame): boolean;
  /** Every relay this page knows of: from its sources first, then those relays told it of (verified). */
  readonly relays: RelayInfo[];
  close(): void;
}

/** Relays learned from relays (gossip) kept at most; they rank below every relay traceable to the page's
 *  sources or to Bitcoin, so minting keys buys no place in a room's ranking. */
const MAX_GOSSIP = 32;
/** A relay link may teach relays once, then once per this long (ms): a flood of RECORDS costs nothing. */
const RECORDS_EVERY = 30000;
/** Connect: a new attempt every STAGGER ms (or as soon as one fails), RACE in flight at most: a list
 *  whose live relay comes after 19 that do not answer still links in about 20 × STAGGER. */
const STAGGER = 60,
  RACE = 24;

/**
 * The first relay to answer, trying them in order (nearest first, those that failed lately last):
 * attempts start STAGGER ms apart, at most RACE in flight, so dead relays cost no full timeout. Of
 * the attempts in flight when the first answers, the nearest within that first's own round trip wins.
 */
function firstLink(relays: RelayInfo[], o: ConnectOptions, sources?: SourceReport[]): Promise<Link> {
  const attempts: Attempt[] = [];
  const queue = [...relays];
  return new Promise<Link>((resolve, reject) => {
    let inflight = 0,
      best: Link | null = null,
      decided = false,
      timer: ReturnType<typeof setTimeout> | undefined;
    const decide = () => {
      if (decided) return;
      decided = true;
      clearTimeout(timer);
      best ? resolve(best) : reject(new ConnectError(attempts, sources));
    };
    const next = () => {
      clearTimeout(timer);
      if (decided) return;
      const r = queue.shift();
      if (!r) return inflight || decide();
      inflight++;
      openLink(r, o).then(
        (l) => {
          inflight--;
          if (decided || (best && best.rtt <= l.rtt)) return l.close();
          best?.close();
          best = l;
          // Others in flight get as long as this one took to beat it.
          clearTimeout(timer);
          timer = setTimeout(decide, inflight ? l.rtt : 0);
        },
        // openLink rejects with a LinkError only (what it cannot build throws before it returns).
        (e: LinkError) => {
          inflight--;
          failed(r);
          attempts.push({ relay: e.relay, reason: e.reason, message: e.message });
          if (!best) next();
          else if (!inflight) decide();
        },
      );
      if (inflight < RACE && queue.length) timer = setTimeout(next, STAGGER);
    };
    next();
  });
}

export async function createNet(o: ConnectOptions = {}): Promise<Net> {
  const ev = createEmitter<NetEvents>();
  const PC = o.RTCPeerConnection ?? globalThis.RTCPeerConnection;
  if (!PC) throw new Error("lumamesh: no RTCPeerConnection (pass options.RTCPeerConnection)");
  // One certificate for the relay link and every direct connection: the peer id is its fingerprint's
  // prefix, so the relay and the other peers can both check it. Made (or read) while relays are looked for.
  let id = random(8);
  const [found, cert] = await Promise.all([discover(o), o.certificates?.[0] ?? certificate(PC, o.identity === "persistent")]);
  if (cert) {
    const fp = cert.getFingerprints().find((f) => f.algorithm === "sha-256")?.value;
    if (fp) (o = { ...o, certificates: [cert] }), (id = fpId(fp));
  }
  // Relays by trust: tier 0 traceable to this page's sources (options, bootstrap config, Bitcoin, its
  // cache of those), tier 1 learned from relays. Rooms rank within a tier, tier 0 first.
  const known = new Map<string, { r: RelayInfo; tier: number }>(found.relays.map((r) => [r.addr, { r, tier: 0 }]));
  for (const r of found.learned.slice(0, MAX_GOSSIP)) known.set(r.addr, { r, tier: 1 });
  const inTier = (t: number) => [...known.values()].filter((k) => k.tier === t).map((k) => k.r);
  const links = new Map<string, Promise<Link>>();
  const down = new Map<string, number>();
  let learning = Promise.resolve();
  const home = ordHome(import.meta.url);
  let crypto_: Promise<CryptoProvider> | undefined;
  // WebCrypto is missing on non-secure origins (an ord server on plain HTTP on a LAN address): load
  // the @noble fallback, its own module and inscription, so secure pages never pay for it.
  const cryptoProvider = () =>
    (crypto_ ??= globalThis.crypto?.subtle
      ? Promise.resolve(webCrypto)
      : import(o.fallback ?? new URL(BUILD.fallback, import.meta.url).href).then((m) => m.nobleCrypto as CryptoProvider));
  let link: Link | null = await firstLink([...byDistance(found.relays), ...byDistance(found.learned)], o, found.sources);
  let closed = false;
  let retry = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const pongs = new Map<string, () => void>();
  const rooms = new Set<RoomIn>();

  // Every link: frames go to the rooms; RECORDS teach us relays (bounded); a dead link is marked down.
  const wire = (l: Link) => {
    links.set(l.relay.addr, Promise.resolve(l));
    seen(l.relay, l.rtt);
    let taught = -Infinity;
    const learn = (json: string) => {
      const t = now();
      if (t - taught < RECORDS_EVERY) return;
      taught = t;
      learning = learning
        .then(() => checkRecords(json, home))
        .then((rs) => {
          for (const r of rs) {
            if (known.has(r.addr)) continue;
            // Registered on Bitcoin (checked on-chain: an ord server is at hand) ranks with the sources.
            const tier = home ? 0 : 1;
            if (tier && inTier(1).length >= MAX_GOSSIP) continue;
            known.set(r.addr, { r, tier });
          }
          keepLearned(inTier(1));
        });
    };
    if (l.records) learn(l.records);
    l.onframe = (f) => {
      if (f.t === T.PONG) pongs.get(f.data.join())?.();
      else if (f.t === T.ERROR) ev.emit("error", { code: f.code, message: f.message });
      else if (f.t === T.RECORDS) learn(f.json);
      for (const r of rooms) r.frame(f, l);
    };
    l.onclose = (why) => {
      links.delete(l.relay.addr);
      down.set(l.relay.addr, Date.now());
      for (const r of rooms) r.down(l);
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
      p.catch(() => (links.delete(r.addr), down.set(r.addr, Date.now()), failed(r)));
    }
    return p;
  };
  // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 30 s.
  const schedule = () => {
    const base = Math.min(30000, 500 * 2 ** retry++);
    const jitter = Math.random();
    retryTimer = setTimeout(
      async () => {
        try {
          const l = await firstLink(byDistance([...known.values()].map((k) => k.r)), o);
          if (closed) return l.close();
          retry = 0;
          wire((link = l));
          ev.emit("reconnect", l.relay);
        } catch {
          if (!closed) schedule();
        }
      },
      base * (0.5 + jitter / 2),
    );
  };
  wire(link);
  // A closing tab says goodbye: pc.close() sends SCTP ABORT to every direct peer and to the relay,
  // so the others see `leave` at once instead of after ICE consent or idle timeouts.
  globalThis.addEventListener?.("pagehide", () => net.close());

  const net: Net = {
    id: hex(id),
    sources: found.sources,
    async joinRoom(name, options) {
      const host: RoomHost = {
        id,
        cert: o.certificates?.[0],
        crypto: await cryptoProvider(),
        PC,
        k: o.relaysPerRoom ?? 2,
        linkTo,
        isDown: (addr) => Date.now() - (down.get(addr) ?? -1e9) < 30000,
        relays: () => [0, 1].map(inTier),
        // What relays have told us so far, checked within a moment: a flood of RECORDS cannot hold a join up.
        settled: () => Promise.race([learning, new Promise<void>((r) => setTimeout(r, 300))]),
        rooms,
      };
      return joinRoom(host, name, options);
    },
    get relay() {
      return link?.relay ?? null;
    },
    get relays() {
      return [...known.values()].map((k) => k.r);
    },
    on: ev.on,
    off: ev.off,
    send: (f) => !!link && (link.send(f), true),
    ping(timeoutMs = 5000) {
      const data = random(8),
        k = data.join(),
        t0 = now();
      return new Promise<number>((resolve, reject) => {
        // One way out: the PONG (no argument), the timeout or no link (a reason).
        const end = (why?: string) => (clearTimeout(t), pongs.delete(k), why ? reject(new Error("lumamesh: " + why)) : resolve(now() - t0));
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
      for (const p of links.values())
        p.then(
          (l) => l.close(),
          () => {},
        );
      ev.emit("close");
    },
  };
  return net;
}
