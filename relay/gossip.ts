// Gossip between relays, sans-IO (docs/protocol.md §6): records, links, probes, liveness and this
// relay's own public address; events and the current time in, actions out. The shell
// (relay/peering.ts) opens Layer-1 links (relay/client.ts), sends STUN Bindings from the relay's own
// socket and runs the timer; test/helpers/gossip-sim.ts runs a thousand of these on a fake network.
//
// What a relay believes, and why:
// - A record is taken only with a valid signature (relay/record.ts), and passed on (vouched for)
//   only after this relay completed a handshake with it at its address (a "probe"). A relay can
//   withhold records but not forge them.
// - Every RECORDS frame between relays starts with the sender's own record. A frame's other new
//   records are probed on the sender's credit: the bytes it sent; a probe reserves PROBE_COST (what
//   a dial of an address that never answers sends it) and gets it back when the relay answered, so
//   what any sender makes this relay send to addresses that do not answer is at most what it sent.
// - A vouched relay stays vouched while it answers a plain STUN Binding every `pingMs` (or while a
//   link to it is up); two misses in a row and it is dropped from the list, re-probed later with
//   backoff, and forgotten after three failures.
// - This relay's own address is what the relays it pings saw (relay/selfaddr.ts, a quorum), and it
//   is confirmed when a relay lists this relay's current record: relays list only what they reached.
// Everything is bounded: records known, records waiting for a probe, probes in flight, links,
// payers' accounts, addresses that failed, address reports.
import { checkRecord, type RelayRecord } from "./record.ts";
import { parseAddr } from "../protocol/addr.ts";
import { bucket, take, type Bucket } from "./limits.ts";
import { MAX_PROBE_BYTES } from "./client.ts";
import { DeadlineHeap } from "./heap.ts";
import { SelfAddress, type Agreed } from "./selfaddr.ts";

export interface PeerAddr {
  addr: string;
  fp: string;
}

/** What one failed probe sends to an address that does not answer (relay/client.ts MAX_PROBE_BYTES). */
export const PROBE_COST = MAX_PROBE_BYTES;

export interface GossipLimits {
  /** Records kept (vouched, waiting for a probe, or failed and waiting to be retried). */
  maxKnown: number;
  /** Records waiting for a probe. */
  maxPending: number;
  /** Links kept open for exchanging records (this relay dials them). */
  maxLinks: number;
  /** Relays that linked to this one and are sent what becomes vouched, too. */
  maxInbound: number;
  /** Dials (probes and new links) in flight. */
  maxInflight: number;
  /** New dials per second, and burst. */
  probeRate: number;
  probeBurst: number;
  /** Records in one RECORDS frame, the sender's own included (frames stay under 16 KiB). */
  frameRecords: number;
  /** Relays reached lately, sent along with every probe's "you were reached" frame. */
  probeNews: number;
  /** One frame per link at most this often (ms); a relay accepts one a second from a session (relay/core.ts). */
  pushMs: number;
  /** Each vouched relay without a link is pinged (STUN Binding) this often (ms, ±25 %). */
  pingMs: number;
  pingTimeoutMs: number;
  /** Pings missed in a row before a relay is dropped from the list. */
  pingMisses: number;
  /** One link is replaced by a link to another vouched relay this often (ms). */
  rotateMs: number;
  /** An address whose probe failed is not probed again for this long (ms), whoever names it. */
  retryMs: number;
  /** A relay that was vouched for and stopped answering is tried again after this (ms), then 4× later. */
  retryFirstMs: number;
  /** A record waiting for its payer's credit is dropped after this long (ms). */
  pendingTtlMs: number;
  /** Credit a payer can hold (bytes), and payers kept (more than relays known: a payer forgotten
   *  takes its credit along, and what it named waits in vain). */
  maxCredit: number;
  maxPayers: number;
  /** Links to bootstrap relays are retried after this (ms, doubling up to 64×) while no relay is vouched for. */
  bootRetryMs: number;
  /** Bootstrap relays are pinged for this relay's address until it is known: 2 s apart, doubling up to this (ms). */
  addrPingMs: number;
}

export const GOSSIP_LIMITS: GossipLimits = {
  maxKnown: 2048,
  maxPending: 2048,
  maxLinks: 6,
  maxInbound: 32,
  maxInflight: 16,
  probeRate: 5,
  probeBurst: 20,
  frameRecords: 40,
  probeNews: 4,
  pushMs: 3000,
  pingMs: 5 * 60_000,
  pingTimeoutMs: 5000,
  pingMisses: 2,
  rotateMs: 30 * 60_000,
  retryMs: 10 * 60_000,
  retryFirstMs: 60_000,
  pendingTtlMs: 10 * 60_000,
  maxCredit: 1024 * PROBE_COST,
  maxPayers: 4096,
  bootRetryMs: 2000,
  addrPingMs: 30_000,
};

export type GossipAction =
  /** Open a Layer-1 link to this relay; report handleDialed (and later handleLinkClosed). */
  | { type: "dial"; link: number; relay: PeerAddr; kind: "probe" | "link" | "boot" }
  /** One RECORDS frame on a link (this relay's own record first). */
  | { type: "send"; link: number; records: RelayRecord[] }
  /** One RECORDS frame to a session: a relay that linked to this one (this relay's own record first). */
  | { type: "push"; session: string; records: RelayRecord[] }
  /** Close a link (no handleLinkClosed needed). */
  | { type: "close"; link: number }
  /** A plain STUN Binding from the relay's own UDP socket to `addr`; report handlePong if it answers. */
  | { type: "ping"; addr: string }
  /** The relays this relay vouches for changed (list() is what sessions get now). */
  | { type: "list" }
  /** The relays that answered agree this relay is reachable at this address (re-sign the record: setSelf). */
  | { type: "address"; addr: string; votes: number; of: number }
  /** A relay listed this relay's current record: it reached this relay at its advertised address. */
  | { type: "confirmed"; by: string }
  | { type: "event"; level: "debug" | "info" | "warn"; name: string; fields: Record<string, unknown> };

type State = "pending" | "probing" | "live" | "dead";

interface Entry {
  rec: RelayRecord;
  state: State;
  since: number;
  /** Whose credit pays for the probe (a sender's certificate fingerprint); none when free. */
  payer?: string;
  failures: number;
  misses: number;
  /** The link to it, if one is open. */
  link?: number;
  /** Bumped on every change, so stale timers are ignored. */
  gen: number;
  /** Index in `liveIds` while live. */
  li: number;
  /** It was vouched for once (only such a relay is tried again after it failed). */
  ever?: boolean;
  /** Vouched for, missed its pings, and being dialed to decide. */
  suspect?: boolean;
  /** Who told this relay of it (a fingerprint): not told back. */
  from?: string;
}

interface Link {
  id: number;
  relay: PeerAddr;
  /** "probe": closed after reaching the relay unless kept; "link": kept for gossip; "boot": a bootstrap relay. */
  kind: "probe" | "link" | "boot";
  entry?: string;
  up: boolean;
  since: number;
  /** Records to push on this link (ids, in order). */
  queue: Set<string>;
  nextPush: number;
  /** The `seq` of this relay's own record last sent on this link. */
  selfSeq: number;
  closeAt: number;
  /** A probe done, about to close. */
  lingering?: boolean;
  /** Relays vouched for when it was made. */
  among: number;
}

/** A relay that linked to this one (a session that sent RECORDS starting with its own record). */
interface Inbound {
  key: string;
  fp: string;
  queue: Set<string>;
  nextPush: number;
  selfSeq: number;
}

interface Timer {
  id: string;
  gen: number;
  kind: "ping" | "timeout" | "retry";
}

export interface GossipOptions {
  /** This relay's record (its address may still be a placeholder: see `addressKnown`). */
  self: RelayRecord;
  /** Bootstrap relays: address and fingerprint. */
  peers?: PeerAddr[];
  /** The address in `self` is right (given by the operator, or a non-loopback bound address); else
   *  this relay says nothing about itself until other relays told it its address. */
  addressKnown?: boolean;
  /** The operator fixed the address (--public-ip): reports are logged, never acted on. */
  fixedAddress?: boolean;
  limits?: Partial<GossipLimits>;
  /** Record check (default relay/record.ts checkRecord; the simulation passes a cheaper one). */
  verify?: (x: unknown) => RelayRecord | string;
  random?: () => number;
  now?: number;
}

/** What the relay knows, for logs, serving.json and `status`. */
export interface GossipStatus {
  /** The address advertised; `confirmed` once a relay listed this relay's current record. */
  addr: string;
  addressKnown: boolean;
  confirmed: boolean;
  confirmedBy: string[];
  /** What the relays that answered saw (reporter IP → address). */
  reports: { reporter: string; addr: string }[];
  links: number;
  known: number;
  vouched: number;
  pending: number;
  probing: number;
}

const ipOf = (addr: string) => parseAddr(addr)?.ip ?? addr;
const norm = (ip: string) => ip.replace(/^::ffff:(?=\d)/i, "").toLowerCase();
const looks = (x: any): x is { id: string; seq: number } =>
  !!x && typeof x === "object" && typeof x.id === "string" && Number.isSafeInteger(x.seq);

export class GossipCore {
  readonly limits: GossipLimits;
  private self: RelayRecord;
  private addressKnown: boolean;
  private readonly fixed: boolean;
  private readonly verify: (x: unknown) => RelayRecord | string;
  private readonly rand: () => number;
  private known = new Map<string, Entry>();
  /** Certificate fingerprints of every record kept (how many records carry each). */
  private fps = new Map<string, number>();
  private byAddr = new Map<string, string>();
  private liveIds: string[] = [];
  /** Records waiting for a probe, in order (ids; a copy may be stale: skipped when popped). */
  private pending: string[] = [];
  private head = 0;
  private pendingCount = 0;
  private links = new Map<number, Link>();
  private inbound = new Map<string, Inbound>();
  private nextLink = 1;
  private inflight = 0;
  private dials: Bucket;
  private timers = new DeadlineHeap<Timer>();
  /** Address → when a probe of it failed (bounded). */
  private failedAt = new Map<string, number>();
  /** Payer fingerprint → credit in bytes (bounded). */
  private credit = new Map<string, number>();
  /** Address pinged → when (an answer clears it). */
  private pings = new Map<string, number>();
  private boot: { peer: PeerAddr; link?: number; retryAt: number; delay: number; pingAt: number; pingEvery: number; tried: boolean }[];
  private warned = "";
  private selfAddr = new SelfAddress();
  private confirmedSeq = -1;
  private confirmedBy: string[] = [];
  private rotateAt: number;
  private listDirty = true;
  /** Counters for the simulation and `relay.stats`. */
  readonly counters = {
    probes: 0,
    probesFailed: 0,
    reached: 0,
    pings: 0,
    framesIn: 0,
    framesOut: 0,
    recordsIn: 0,
    refused: 0,
    bad: 0,
    noCredit: 0,
    dropped: 0,
    droppedFull: 0,
    droppedRoom: 0,
    droppedTtl: 0,
  };

  constructor(o: GossipOptions) {
    this.limits = { ...GOSSIP_LIMITS, ...o.limits };
    this.self = o.self;
    this.addressKnown = !!o.addressKnown;
    this.fixed = !!o.fixedAddress;
    this.verify = o.verify ?? checkRecord;
    this.rand = o.random ?? Math.random;
    const now = o.now ?? 0;
    this.dials = bucket(this.limits.probeBurst, now);
    this.rotateAt = now + this.limits.rotateMs;
    const seen = new Set<string>();
    this.boot = (o.peers ?? [])
      .filter((p) => p.fp.toUpperCase() !== this.self.fp && !seen.has(p.addr) && seen.add(p.addr))
      .map((peer) => ({ peer, retryAt: now, delay: this.limits.bootRetryMs, pingAt: now, pingEvery: 1000, tried: false }));
  }

  get record(): RelayRecord {
    return this.self;
  }

  /** More relays to start from (a discovery that found some later); at most 64 are kept. */
  addPeers(peers: PeerAddr[], now: number): GossipAction[] {
    for (const p of peers) {
      if (this.boot.length >= 64) break;
      if (p.fp.toUpperCase() === this.self.fp || this.boot.some((b) => b.peer.addr === p.addr)) continue;
      this.boot.push({
        peer: { addr: p.addr, fp: p.fp },
        retryAt: now,
        delay: this.limits.bootRetryMs,
        pingAt: now,
        pingEvery: 1000,
        tried: false,
      });
    }
    return [];
  }

  /** Relays to start from, as given. */
  get peers(): PeerAddr[] {
    return this.boot.map((b) => b.peer);
  }

  /** This relay's record changed (a new address or registration: a higher `seq`). */
  setSelf(rec: RelayRecord, addressKnown = true) {
    this.self = rec;
    this.addressKnown ||= addressKnown;
    this.listDirty = true;
  }

  /** Whether this relay vouches for the relay with this certificate fingerprint. */
  vouchesFor(fp: string): boolean {
    return this.vouches(fp.toUpperCase());
  }

  /** Whether this relay holds a record (reached or not) of the relay with this certificate: such a
   *  dialer is a relay, and gets no RECORDS before WELCOME (relay/core.ts isRelay). */
  knowsFp(fp: string): boolean {
    return this.fps.has(fp.toUpperCase());
  }

  /** This relay's own record first, then every relay it vouches for (the first `max` at most). */
  list(max = Infinity): RelayRecord[] {
    const out = [this.self];
    for (const id of this.liveIds) {
      if (out.length >= max) break;
      out.push(this.known.get(id)!.rec);
    }
    return out;
  }

  /** What sessions are sent: list(), without this relay's own record while its address is unknown
   *  (a placeholder: nobody should dial it). */
  served(max = Infinity): RelayRecord[] {
    return this.addressKnown ? this.list(max) : this.list(max + 1).slice(1);
  }

  /** How many relays it vouches for. */
  get vouched(): number {
    return this.liveIds.length;
  }

  status(now: number): GossipStatus {
    let probing = 0;
    for (const e of this.known.values()) if (e.state === "probing") probing++;
    return {
      addr: this.self.addr,
      addressKnown: this.addressKnown,
      confirmed: this.confirmedSeq === this.self.seq,
      confirmedBy: [...this.confirmedBy],
      reports: this.selfAddr.reports(now).map(({ reporter, addr }) => ({ reporter, addr })),
      links: [...this.links.values()].filter((l) => l.kind !== "probe" && l.up).length,
      known: this.known.size,
      vouched: this.liveIds.length,
      pending: this.pendingCount,
      probing,
    };
  }

  /** Sizes, for the simulation's bounds. */
  sizes() {
    return {
      known: this.known.size,
      pending: this.pendingCount,
      inflight: this.inflight,
      links: this.links.size,
      inbound: this.inbound.size,
      timers: this.timers.size,
      failed: this.failedAt.size,
      payers: this.credit.size,
      pings: this.pings.size,
    };
  }

  // ---- inputs ----

  /** A dial finished: the link is up (with the RECORDS the relay sent before WELCOME, parsed, and
   *  that frame's size), or it failed. */
  handleDialed(
    id: number,
    r: { ok: true; records?: unknown[]; bytes?: number } | { ok: false; error: string },
    now: number,
  ): GossipAction[] {
    const L = this.links.get(id);
    if (!L) return r.ok ? [{ type: "close", link: id }] : [];
    this.inflight--;
    const out: GossipAction[] = [];
    const e = L.entry ? this.known.get(L.entry) : undefined;
    if (!r.ok) {
      this.links.delete(id);
      if (L.kind === "boot") {
        const b = this.boot.find((b) => b.link === id);
        if (b) (b.link = undefined), (b.retryAt = now + b.delay), (b.delay = Math.min(b.delay * 2, this.limits.bootRetryMs * 64));
        out.push(this.ev("info", "gossip.bootstrap-failed", { addr: L.relay.addr, error: r.error }));
        return out;
      }
      // (A probe's cost was taken from its payer when it started: spent on an address that did not answer.)
      if (e && e.link === id && (e.state === "probing" || e.state === "live")) {
        e.link = undefined;
        this.counters.probesFailed++;
        if (e.suspect)
          out.push(
            this.ev("info", "gossip.dead", {
              relay: e.rec.id.slice(0, 16),
              addr: e.rec.addr,
              why: `${this.limits.pingMisses} pings unanswered, then no answer to a dial`,
            }),
          );
        if (this.failedAt.size >= 4096) this.failedAt.delete(this.failedAt.keys().next().value!);
        this.failedAt.set(e.rec.addr, now);
        out.push(this.ev("debug", "gossip.unreachable", { relay: e.rec.id.slice(0, 16), error: r.error }));
        this.markDead(e, now, out);
      }
      return out;
    }
    L.up = true;
    L.since = now;
    if (L.kind === "boot") {
      const b = this.boot.find((b) => b.link === id);
      if (b) b.delay = this.limits.bootRetryMs;
      // It answers now: ask it what address it sees, if that is still unknown.
      if (b && !this.addressKnown && !this.fixed) this.ping(b.peer.addr, now, out);
      out.push(this.ev("info", "gossip.linked", { addr: L.relay.addr }));
    }
    if (e && e.state === "probing" && e.link === id) {
      if (e.payer) this.pay(e.payer, PROBE_COST); // the relay answered: not a reflection, credit back
      this.reached(e, now, out);
      // Tell the relay it was reached (the proof it waits for: relays list only what they reached),
      // and what else this relay reached lately: news travels with every probe.
      if (this.addressKnown) out.push(this.send(L, [this.self, e.rec, ...this.recentFor(e.rec.id)]));
      if (this.keptLinks() < this.limits.maxLinks && !this.linkedTo(e.rec.addr)) (L.kind = "link"), (L.among = this.liveIds.length);
      else {
        e.link = undefined;
        // Closed after the frame above has left; counted in flight until then.
        L.closeAt = now + 500;
        L.lingering = true;
        this.inflight++;
      }
    } else if (L.kind === "probe") {
      // Reached meanwhile some other way (or replaced by a newer record): not needed.
      this.links.delete(id);
      out.push({ type: "close", link: id });
      return out;
    }
    if (L.kind !== "probe" && this.addressKnown && L.selfSeq !== this.self.seq) out.push(this.send(L, [this.self]));
    if (r.records) out.push(...this.records(r.records, r.bytes ?? 0, L.relay.fp, now, L));
    return out;
  }

  /** RECORDS on a link this relay opened (after WELCOME). */
  handleLinkRecords(id: number, list: unknown[], bytes: number, now: number): GossipAction[] {
    const L = this.links.get(id);
    return L?.up ? this.records(list, bytes, L.relay.fp, now, L) : [];
  }

  /** A link closed on its own (the relay went away, or stopped answering). */
  handleLinkClosed(id: number, why: string, now: number): GossipAction[] {
    const L = this.links.get(id);
    if (!L) return [];
    this.links.delete(id);
    if (!L.up || L.lingering) this.inflight--;
    const out: GossipAction[] = [];
    const b = this.boot.find((b) => b.link === id);
    if (b) (b.link = undefined), (b.retryAt = now + b.delay);
    const e = L.entry ? this.known.get(L.entry) : undefined;
    if (e && e.link === id) {
      e.link = undefined;
      out.push(this.ev("info", "gossip.down", { relay: e.rec.id.slice(0, 16), why }));
      // Gone, or a hiccup: a ping now decides (two missed and it is dropped).
      if (e.state === "live") this.schedule(e, "ping", now);
    }
    return out;
  }

  /**
   * RECORDS from a session (another relay dialed this one). Taken only from a relay: the frame's
   * first record must be the sender's own, with `fp` its certificate and `ip` its address's IP.
   */
  handleSessionRecords(
    list: unknown[],
    bytes: number,
    from: { fp: string; ip: string; key?: string },
    now: number,
  ): { accepted: boolean; actions: GossipAction[] } {
    const first = this.check(list[0]);
    if (typeof first === "string" || first.fp !== from.fp.toUpperCase() || norm(ipOf(first.addr)) !== norm(from.ip)) {
      this.counters.refused++;
      return {
        accepted: false,
        actions: [this.ev("debug", "gossip.refused", { reason: "not from a relay (the first record must be the sender's own)" })],
      };
    }
    // A relay linked to this one: what becomes vouched goes back to it too, so every link carries news
    // both ways (a relay nobody can dial, behind a NAT, learns only this way).
    if (from.key !== undefined && !this.inbound.has(from.key) && this.inbound.size < this.limits.maxInbound)
      this.inbound.set(from.key, { key: from.key, fp: first.fp, queue: new Set(), nextPush: now, selfSeq: this.self.seq });
    return { accepted: true, actions: this.records(list, bytes, first.fp, now) };
  }

  /** A session ended (relay/socket.ts): nothing more is pushed to it. */
  handleSessionClosed(key: string) {
    this.inbound.delete(key);
  }

  /** A STUN Binding answer from `from` (an address this relay pinged): it saw this relay's socket at `mapped`. */
  handlePong(from: string, mapped: string | null, now: number): GossipAction[] {
    if (!this.pings.delete(from)) return [];
    const out: GossipAction[] = [];
    const id = this.byAddr.get(from);
    const e = id ? this.known.get(id) : undefined;
    if (e && e.state === "live") {
      e.misses = 0;
      this.schedule(e, "ping", now + this.jitter(this.limits.pingMs));
    }
    if (mapped && (this.selfAddr.observe(norm(ipOf(from)), mapped, now) || !this.addressKnown) && parseAddr(mapped)) {
      const a = this.selfAddr.agreed(now, this.self.addr);
      if (a && this.fixed) {
        if (a.addr !== this.self.addr && a.votes >= 2 && a.addr !== this.warned && (this.warned = a.addr))
          out.push(this.ev("warn", "gossip.address-differs", { given: this.self.addr, seen: a.addr, votes: a.votes, of: a.of }));
      } else if (a && (a.addr !== this.self.addr || !this.addressKnown)) out.push(...this.learned(a));
    }
    return out;
  }

  /** Timers: probes to start, pings due and missed, links to fill, rotate, push to and close. */
  tick(now: number): GossipAction[] {
    const out: GossipAction[] = [];
    const lim = this.limits;
    for (const L of this.links.values()) if (L.closeAt && now >= L.closeAt) this.closeLink(L, out);
    // Timers due.
    for (let d; (d = this.timers.popBefore(now, true)); ) {
      const t = d.item,
        e = this.known.get(t.id);
      if (!e || e.gen !== t.gen) continue;
      if (t.kind === "ping" && e.state === "live") {
        if (e.link !== undefined)
          this.schedule(e, "ping", now + this.jitter(lim.pingMs)); // a link says it is alive
        else {
          this.ping(e.rec.addr, now, out);
          this.schedule(e, "timeout", now + lim.pingTimeoutMs);
        }
      } else if (t.kind === "timeout" && e.state === "live") {
        if (this.pings.has(e.rec.addr)) {
          this.pings.delete(e.rec.addr);
          if (++e.misses >= lim.pingMisses) {
            // A Binding or two can be lost: a dial (six checks over 3 s, then a handshake) decides.
            out.push(
              this.ev("debug", "gossip.suspect", { relay: e.rec.id.slice(0, 16), addr: e.rec.addr, why: `${e.misses} pings unanswered` }),
            );
            e.suspect = true;
            if (this.inflight < lim.maxInflight) this.probe(e, now, out);
            else if (this.pendingCount < lim.maxPending) this.toPending(e, undefined, now);
            else this.schedule(e, "ping", now + lim.pingTimeoutMs);
          } else this.schedule(e, "ping", now);
        }
      } else if (t.kind === "retry" && e.state === "dead") {
        // Reached before: tried again, free (no frame asked for it).
        if (this.pendingCount < lim.maxPending) this.toPending(e, undefined, now);
        else this.schedule(e, "retry", now + lim.retryMs);
      }
    }
    // Probes, paid by whoever named the relay, within the dial rate.
    this.startProbes(now, out);
    // Bootstrap relays: pinged for this relay's address until it is known; linked at start, and
    // again while no relay is vouched for.
    for (const b of this.boot) {
      if (!this.addressKnown && !this.fixed && now >= b.pingAt) {
        // 2 s, 4 s, … up to addrPingMs apart: a relay started at the same moment answers soon.
        b.pingEvery = Math.min(b.pingEvery * 2, lim.addrPingMs);
        b.pingAt = now + b.pingEvery;
        this.ping(b.peer.addr, now, out);
      }
      const want = b.link === undefined && now >= b.retryAt && (!b.tried || this.liveIds.length === 0);
      if (want && this.keptLinks() < lim.maxLinks && this.inflight < lim.maxInflight && !this.linkedTo(b.peer.addr)) {
        b.tried = true;
        b.link = this.dial(b.peer, "boot", now, out).id;
      }
    }
    // Rotation: one link makes room for a link to another vouched relay, every rotateMs, and sooner
    // while the network this relay knows grows: a link chosen among few relays is replaced once
    // there are twice as many (links made early all point at the first relays, who then cannot
    // push to everyone that linked to them).
    const kept = [...this.links.values()].filter((l) => l.kind !== "probe" && l.up);
    const early = kept.find((l) => now - l.since > 30_000 && this.liveIds.length >= 2 * l.among + 4);
    if (early || now >= this.rotateAt) {
      if (now >= this.rotateAt) this.rotateAt = now + lim.rotateMs;
      if (kept.length && kept.length >= lim.maxLinks && this.liveIds.length > kept.length)
        this.closeLink(early ?? kept.reduce((a, b) => (b.since < a.since ? b : a)), out);
    }
    // Links to random vouched relays, up to maxLinks.
    for (let tries = 0; this.keptLinks() < lim.maxLinks && this.inflight < lim.maxInflight && tries < 4 && this.liveIds.length; tries++) {
      const e = this.known.get(this.liveIds[Math.floor(this.rand() * this.liveIds.length)]!)!;
      if (e.link !== undefined || this.linkedTo(e.rec.addr)) continue;
      if (!take(this.dials, lim.probeRate, lim.probeBurst, now)) break;
      const L = this.dial(e.rec, "link", now, out);
      L.entry = e.rec.id;
      e.link = L.id;
    }
    // Pushes: one frame per link per pushMs, this relay's record first, then what became vouched.
    const push = (L: Link | Inbound) => {
      const link = "id" in L;
      if ((link && (!L.up || L.kind === "probe")) || now < L.nextPush || !this.addressKnown) return;
      if (!L.queue.size && L.selfSeq === this.self.seq) return;
      const recs = [this.self];
      for (const id of L.queue) {
        L.queue.delete(id);
        const e = this.known.get(id);
        if (e && e.state === "live") recs.push(e.rec);
        if (recs.length >= lim.frameRecords) break;
      }
      if (link) out.push(this.send(L, recs));
      else {
        L.selfSeq = this.self.seq;
        this.counters.framesOut++;
        out.push({ type: "push", session: L.key, records: recs });
      }
      L.nextPush = now + lim.pushMs;
    };
    for (const L of this.links.values()) push(L);
    for (const L of this.inbound.values()) push(L);
    if (this.listDirty) {
      this.listDirty = false;
      out.push({ type: "list" });
    }
    return out;
  }

  /** Close everything (shutdown). */
  stop(): GossipAction[] {
    const out: GossipAction[] = [];
    for (const L of [...this.links.values()]) this.closeLink(L, out);
    return out;
  }

  // ---- internals ----

  private ev(level: "debug" | "info" | "warn", name: string, fields: Record<string, unknown>): GossipAction {
    return { type: "event", level, name, fields };
  }

  private jitter(ms: number) {
    return ms * (0.75 + this.rand() / 2);
  }

  /** Fingerprints of vouched relays (how many records carry each). */
  private vouchedFps = new Map<string, number>();
  private vouches(fp: string) {
    return this.vouchedFps.has(fp);
  }

  /** The relays reached most recently (newest first), for a probe's frame; `but` left out. */
  private recent: string[] = [];
  private recentFor(but: string): RelayRecord[] {
    const out: RelayRecord[] = [];
    for (let i = this.recent.length - 1; i >= 0 && out.length < this.limits.probeNews; i--) {
      const e = this.known.get(this.recent[i]!);
      if (e && e.state === "live" && e.rec.id !== but) out.push(e.rec);
    }
    return out;
  }

  private count(fp: string, d: number) {
    const n = (this.fps.get(fp) ?? 0) + d;
    if (n > 0) this.fps.set(fp, n);
    else this.fps.delete(fp);
  }

  private keptLinks() {
    let n = 0;
    for (const L of this.links.values()) if (L.kind !== "probe") n++;
    return n;
  }

  private linkedTo(addr: string) {
    for (const L of this.links.values()) if (L.relay.addr === addr && L.kind !== "probe") return true;
    return false;
  }

  private check(x: unknown): RelayRecord | string {
    return this.verify(x);
  }

  private pay(payer: string, n: number) {
    const c = this.credit.get(payer);
    if (c === undefined && this.credit.size >= this.limits.maxPayers) this.credit.delete(this.credit.keys().next().value!);
    this.credit.set(payer, Math.max(0, Math.min(this.limits.maxCredit, (c ?? 0) + n)));
  }

  private schedule(e: Entry, kind: Timer["kind"], at: number) {
    this.timers.push(at, { id: e.rec.id, gen: ++e.gen, kind });
  }

  private ping(addr: string, now: number, out: GossipAction[]) {
    if (this.pings.size >= 4096) this.pings.delete(this.pings.keys().next().value!);
    this.pings.set(addr, now);
    this.counters.pings++;
    out.push({ type: "ping", addr });
  }

  private send(L: Link, records: RelayRecord[]): GossipAction {
    L.selfSeq = this.self.seq;
    this.counters.framesOut++;
    return { type: "send", link: L.id, records };
  }

  private dial(relay: PeerAddr, kind: Link["kind"], now: number, out: GossipAction[]): Link {
    const L: Link = {
      id: this.nextLink++,
      relay: { addr: relay.addr, fp: relay.fp },
      kind,
      up: false,
      since: now,
      queue: new Set(),
      nextPush: now,
      selfSeq: -1,
      closeAt: 0,
      among: this.liveIds.length,
    };
    this.links.set(L.id, L);
    this.inflight++;
    out.push({ type: "dial", link: L.id, relay: L.relay, kind });
    return L;
  }

  private closeLink(L: Link, out: GossipAction[]) {
    this.links.delete(L.id);
    if (!L.up || L.lingering) this.inflight--;
    const e = L.entry ? this.known.get(L.entry) : undefined;
    if (e && e.link === L.id) e.link = undefined;
    const b = this.boot.find((b) => b.link === L.id);
    if (b) (b.link = undefined), (b.retryAt = 0);
    out.push({ type: "close", link: L.id });
  }

  private setLive(e: Entry, live: boolean) {
    if (live && e.li < 0) {
      e.li = this.liveIds.push(e.rec.id) - 1;
      this.vouchedFps.set(e.rec.fp, (this.vouchedFps.get(e.rec.fp) ?? 0) + 1);
    } else if (!live && e.li >= 0) {
      const n = this.vouchedFps.get(e.rec.fp)! - 1;
      if (n > 0) this.vouchedFps.set(e.rec.fp, n);
      else this.vouchedFps.delete(e.rec.fp);
      const last = this.liveIds.pop()!;
      if (last !== e.rec.id) {
        this.liveIds[e.li] = last;
        this.known.get(last)!.li = e.li;
      }
      e.li = -1;
    }
    this.listDirty = true;
  }

  private setState(e: Entry, s: State, now: number) {
    if (e.state === "pending") this.pendingCount--;
    if (s === "pending") this.pendingCount++;
    if ((e.state === "live") !== (s === "live")) this.setLive(e, s === "live");
    e.state = s;
    e.since = now;
    e.gen++;
  }

  private reached(e: Entry, now: number, out: GossipAction[]) {
    this.setState(e, "live", now);
    e.ever = true;
    e.suspect = false;
    e.failures = 0;
    e.misses = 0;
    e.payer = undefined;
    this.failedAt.delete(e.rec.addr);
    this.counters.reached++;
    this.recent.push(e.rec.id);
    if (this.recent.length > 2 * this.limits.probeNews) this.recent.splice(0, this.recent.length - this.limits.probeNews);
    this.schedule(e, "ping", now + this.jitter(this.limits.pingMs));
    for (const L of this.links.values()) if (L.kind !== "probe" && L.entry !== e.rec.id && L.relay.fp !== e.from) L.queue.add(e.rec.id);
    // Relays that linked here hear it too unless this relay reached them itself: those have links of
    // their own; one nobody can dial (behind a NAT) learns only this way.
    for (const s of this.inbound.values()) if (s.fp !== e.rec.fp && s.fp !== e.from) s.queue.add(e.rec.id);
    out.push(this.ev("info", "gossip.reached", { relay: e.rec.id.slice(0, 16), addr: e.rec.addr }));
  }

  private markDead(e: Entry, now: number, out: GossipAction[]) {
    if (e.link !== undefined) {
      const L = this.links.get(e.link);
      e.link = undefined;
      if (L) this.closeLink(L, out);
    }
    this.setState(e, "dead", now);
    e.failures++;
    // Never reached: forgotten (failedAt keeps its address from being probed again soon).
    if (e.failures >= 3 || !e.ever) return this.forget(e);
    // Reached before: tried again after 1 minute, then 4, then forgotten.
    this.schedule(e, "retry", now + this.limits.retryFirstMs * 4 ** (e.failures - 1));
  }

  private forget(e: Entry) {
    this.setState(e, "dead", e.since);
    this.known.delete(e.rec.id);
    this.count(e.rec.fp, -1);
    if (this.byAddr.get(e.rec.addr) === e.rec.id) this.byAddr.delete(e.rec.addr);
  }

  private toPending(e: Entry, payer: string | undefined, now: number) {
    this.setState(e, "pending", now);
    e.payer = payer;
    this.pending.push(e.rec.id);
    if (this.head > 1024 && this.head > this.pending.length / 2) (this.pending = this.pending.slice(this.head)), (this.head = 0);
  }

  /** Room for one more record: a failed one goes first, then the longest waiting; vouched ones never. */
  private room(): boolean {
    if (this.known.size < this.limits.maxKnown) return true;
    let victim: Entry | undefined;
    for (const e of this.known.values()) {
      if (e.state === "dead") {
        victim = e;
        break;
      }
      if (e.state === "pending" && (!victim || e.since < victim.since)) victim = e;
    }
    if (!victim) return false;
    this.forget(victim);
    return true;
  }

  private learned(a: Agreed): GossipAction[] {
    this.addressKnown = true;
    const out: GossipAction[] = [this.ev("info", "gossip.address", { addr: a.addr, votes: a.votes, of: a.of })];
    if (a.addr !== this.self.addr) out.push({ type: "address", addr: a.addr, votes: a.votes, of: a.of });
    this.listDirty = true;
    return out;
  }

  /**
   * The records of one frame of `bytes` bytes from the relay whose certificate is `sender`. Its own
   * record is free (probing it dials the sender); every other new one is probed on its credit.
   */
  private records(list: unknown[], bytes: number, sender: string, now: number, L?: Link): GossipAction[] {
    const out: GossipAction[] = [];
    const lim = this.limits;
    this.counters.framesIn++;
    this.pay(sender, bytes);
    for (const [i, x] of list.slice(0, lim.frameRecords + 8).entries()) {
      this.counters.recordsIn++;
      if (!looks(x)) {
        this.counters.bad++;
        out.push(this.ev("debug", "gossip.bad", { from: L?.relay.addr ?? "session", reason: "not a record" }));
        continue;
      }
      if (x.id === this.self.id) {
        // This relay's own current record in another relay's list: that relay reached it here.
        const r = x as RelayRecord;
        if (i > 0 && r.seq === this.self.seq && r.addr === this.self.addr && r.sig === this.self.sig && this.addressKnown) {
          const by = list[0] && typeof (list[0] as RelayRecord).addr === "string" ? (list[0] as RelayRecord).addr : "?";
          if (!this.confirmedBy.includes(by)) this.confirmedBy = [...this.confirmedBy.slice(-7), by];
          if (this.confirmedSeq !== this.self.seq) {
            this.confirmedSeq = this.self.seq;
            out.push(this.ev("info", "gossip.confirmed", { addr: this.self.addr, by }), { type: "confirmed", by });
          }
        }
        continue;
      }
      const k = this.known.get(x.id);
      if (k && k.state === "pending" && k.payer && k.rec.seq === x.seq && k.rec.sig === (x as RelayRecord).sig) {
        // Waiting for a probe: the relay itself, about itself, makes it free; another sender with
        // credit pays for it when the first one has none left.
        if ((x as RelayRecord).fp === sender.toUpperCase()) k.payer = undefined;
        else if ((this.credit.get(k.payer) ?? 0) < PROBE_COST && (this.credit.get(sender) ?? 0) >= PROBE_COST) k.payer = sender;
      }
      if (k && k.rec.seq >= x.seq) continue;
      const r = this.check(x);
      if (typeof r === "string") {
        this.counters.bad++;
        out.push(this.ev("debug", "gossip.bad", { from: L?.relay.addr ?? "session", reason: r }));
        continue;
      }
      const own = r.fp === sender.toUpperCase();
      // The relay at the other end of a link this relay dialed, at the address dialed: reached already.
      const here = !!L && L.up && own && r.addr === L.relay.addr;
      const failed = this.failedAt.get(r.addr);
      if (!here && failed !== undefined && now - failed < lim.retryMs) continue;
      if (!own && (this.credit.get(sender) ?? 0) < PROBE_COST) {
        this.counters.noCredit++;
        continue;
      }
      if (!here && (!k || k.state !== "pending") && this.pendingCount >= lim.maxPending) {
        this.counters.dropped++, this.counters.droppedFull++;
        continue;
      }
      if (!k && !this.room()) {
        this.counters.dropped++, this.counters.droppedRoom++;
        continue;
      }
      // A newer record of a known relay (new address or certificate): reached again before vouched.
      let e = k;
      if (e) {
        if (e.link !== undefined) {
          const old = this.links.get(e.link);
          e.link = undefined;
          if (old && old !== L) this.closeLink(old, out);
        }
        if (this.byAddr.get(e.rec.addr) === e.rec.id) this.byAddr.delete(e.rec.addr);
        const live = e.li >= 0;
        if (live) this.setLive(e, false); // (its fingerprint may change)
        this.count(e.rec.fp, -1);
        e.rec = r;
        this.count(r.fp, 1);
        if (live) this.setLive(e, true);
        e.failures = 0;
      } else {
        e = { rec: r, state: "dead", since: now, failures: 0, misses: 0, gen: 0, li: -1 };
        this.known.set(r.id, e);
        this.count(r.fp, 1);
      }
      this.byAddr.set(r.addr, r.id);
      e.from = sender;
      if (here) {
        if (L!.kind !== "probe") (e.link = L!.id), (L!.entry = r.id);
        this.reached(e, now, out);
      } else if (e.state === "pending") {
        if (own) e.payer = undefined;
      } else this.toPending(e, own ? undefined : sender, now);
    }
    return out;
  }

  private startProbes(now: number, out: GossipAction[]) {
    const lim = this.limits;
    const q = this.pending;
    let scanned = 0;
    const keep: string[] = [];
    while (this.head < q.length && scanned < 64 && this.inflight < lim.maxInflight) {
      const id = q[this.head++]!;
      const e = this.known.get(id);
      if (!e || e.state !== "pending") continue;
      scanned++;
      if (now - e.since > lim.pendingTtlMs) {
        this.counters.dropped++, this.counters.droppedTtl++;
        this.forget(e);
        continue;
      }
      if (e.payer && (this.credit.get(e.payer) ?? 0) < PROBE_COST) {
        keep.push(id); // waits for its payer's credit
        continue;
      }
      if (!take(this.dials, lim.probeRate, lim.probeBurst, now)) {
        q[--this.head] = id;
        break;
      }
      if (e.payer) this.pay(e.payer, -PROBE_COST);
      this.probe(e, now, out);
    }
    q.push(...keep);
  }

  /** Dial a relay to reach it (its payer, if any, already charged). */
  private probe(e: Entry, now: number, out: GossipAction[]) {
    this.setState(e, "probing", now);
    this.counters.probes++;
    const L = this.dial(e.rec, "probe", now, out);
    L.entry = e.rec.id;
    e.link = L.id;
    out.push(this.ev("debug", "gossip.probe", { relay: e.rec.id.slice(0, 16), addr: e.rec.addr }));
  }
}
