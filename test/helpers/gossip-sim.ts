// A network of GossipCores (relay/gossip.ts) on a fake network and a fake clock: the real gossip
// logic at internet scale, in seconds. Each simulated relay is the sans-IO core the relay runs;
// this file plays the shell (relay/peering.ts) and the network: a dial succeeds after a few round
// trips when the address belongs to a running, reachable relay with that fingerprint (the dialee's
// RECORDS come first, the rest of its list 2 s later on links still open, as relay/core.ts does),
// a RECORDS frame arrives half a round trip later (at most one a second per session is accepted,
// burst 5, as relay/core.ts), a STUN Binding is answered with the asker's address (1 % of pings
// lost). Bytes are counted from sizes measured on the real client and relay (COSTS; bench/gossip.ts
// measures them again in the same run). Records are shaped like real ones (same sizes) but signed
// with a set lookup instead of Ed25519, which is the one thing the core is given instead (`verify`).
//
// Scenario: `relays` relays start within `joinMs` (two bootstrap relays first; everyone is given
// those two), a share `unreachable` of them behind a NAT nobody can dial in through; once all
// agree (or `maxMs` passes) the network runs `steadyMs` as it is; then within `churnMs` a share
// `churn` of the relays stop (a third of those come back at a new address, same identity) and as
// many new relays join; until all agree again.
import { GossipCore, type GossipAction, type GossipLimits } from "../../relay/gossip.ts";
import { MAX_PROBE_BYTES } from "../../relay/client.ts";
import type { RelayRecord } from "../../relay/record.ts";

/** Wire bytes (IP and UDP headers included), measured with a UDP proxy between relay/client.ts and
 *  a relay on loopback (bench/gossip.ts measureCosts repeats it). */
export interface Costs {
  /** A Layer-1 handshake up to WELCOME and its close, without RECORDS: client → relay, relay → client. */
  handshakeOut: number;
  handshakeIn: number;
  /** A gossip link kept open (consent checks and PINGs every 10 s), per minute: dialer, dialee. */
  keepaliveOut: number;
  keepaliveIn: number;
  /** A frame of n bytes: ceil((n+1) / framePayload) datagrams, each frameOverhead more, and one
   *  SACK of sackBytes back per datagram. */
  framePayload: number;
  frameOverhead: number;
  sackBytes: number;
  /** A plain STUN Binding and its answer. */
  pingOut: number;
  pingIn: number;
  /** A dial of an address that never answers. */
  probeFail: number;
}

export const COSTS: Costs = {
  handshakeOut: 1581,
  handshakeIn: 1515,
  keepaliveOut: 1183,
  keepaliveIn: 730,
  framePayload: 866,
  frameOverhead: 97,
  sackBytes: 92,
  pingOut: 48,
  pingIn: 68,
  probeFail: MAX_PROBE_BYTES,
};

export interface SimOptions {
  relays: number;
  joinMs?: number;
  unreachable?: number;
  churn?: number;
  churnMs?: number;
  steadyMs?: number;
  /** Give up waiting for agreement after this long in each phase (simulated ms). */
  maxMs?: number;
  /** Round trips between relays, spread over this range (ms). */
  rttMs?: [number, number];
  pingLoss?: number;
  limits?: Partial<GossipLimits>;
  costs?: Costs;
  seed?: number;
  /** Check agreement this often (simulated ms). */
  checkMs?: number;
}

export interface PhaseResult {
  /** Simulated ms from the phase's last join/leave until every running relay's list held every
   *  running reachable relay (at its current address); null if not within maxMs. */
  learned: number | null;
  /** …and nothing else: the relays that stopped dropped everywhere too (pings: GossipLimits.pingMs). */
  converged: number | null;
  /** The median over relays of the first time one relay's list held every running reachable relay
   *  (what a page reading that relay's RECORDS would know), from the same moment. */
  pageMedian: number | null;
  /** Bytes sent per running relay per simulated minute during the phase (received is the same on average). */
  bytesPerRelayMin: number;
  relaysAtEnd: number;
}

export interface SimResult {
  cold: PhaseResult;
  steady: { bytesPerRelayMin: number; minutes: number };
  churn: PhaseResult;
  /** Highest value seen at any relay at any check. */
  max: {
    known: number;
    pending: number;
    inflight: number;
    links: number;
    inbound: number;
    timers: number;
    failed: number;
    payers: number;
    pings: number;
  };
  limits: GossipLimits;
  /** Relays that ended with their address confirmed, among running reachable / unreachable ones. */
  confirmed: { reachable: number; of: number; unreachable: number; ofUnreachable: number };
  /** Every running relay learned its own address (the one others reach it at). */
  addressesLearned: boolean;
  /** Bytes sent over the whole run, by what for. */
  spent: Record<string, number>;
  events: number;
  wallMs: number;
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ev {
  at: number;
  n: number;
  fn: () => void;
}
class Queue {
  private h: Ev[] = [];
  private n = 0;
  get size() {
    return this.h.length;
  }
  push(at: number, fn: () => void) {
    const e = { at, n: this.n++, fn },
      h = this.h;
    let i = h.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at < e.at || (h[p]!.at === e.at && h[p]!.n < e.n)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }
  pop(): Ev | undefined {
    const h = this.h,
      top = h[0],
      last = h.pop();
    if (!h.length || !last) return top;
    let i = 0;
    const less = (a: Ev, b: Ev) => a.at < b.at || (a.at === b.at && a.n < b.n);
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      let mt = last;
      if (l < h.length && less(h[l]!, mt)) (m = l), (mt = h[l]!);
      if (r < h.length && less(h[r]!, mt)) m = r;
      if (m === i) break;
      h[i] = h[m]!;
      i = m;
    }
    h[i] = last;
    return top;
  }
  peekAt() {
    return this.h[0]?.at ?? Infinity;
  }
}

interface Link {
  id: number;
  from: Relay;
  to: Relay;
  up: boolean;
  open: boolean;
  session: { tokens: number; at: number };
}

interface Relay {
  n: number;
  id: string;
  fp: string;
  ip: string;
  addr: string;
  reachable: boolean;
  running: boolean;
  boot: boolean;
  core: GossipCore;
  rec: RelayRecord;
  links: Map<number, Link>;
  sent: number;
  complete: number | null;
  confirmed: boolean;
}

const hex = (r: () => number, n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join("");

export function simulate(o: SimOptions): SimResult {
  const t0 = performance.now();
  const rand = prng(o.seed ?? 1);
  const costs = o.costs ?? COSTS;
  const joinMs = o.joinMs ?? 60_000,
    churnMs = o.churnMs ?? 60_000,
    steadyMs = o.steadyMs ?? 5 * 60_000,
    maxMs = o.maxMs ?? 60 * 60_000;
  const [rttLo, rttHi] = o.rttMs ?? [20, 200];
  const pingLoss = o.pingLoss ?? 0.01;
  const checkMs = o.checkMs ?? 5000;
  const q = new Queue();
  let now = 0;
  let events = 0;
  const valid = new Set<string>();
  const byAddr = new Map<string, Relay>();
  /** Sessions at dialees (`<dialer>/<link>`) that sent RECORDS: where "push" goes. */
  const sessions = new Map<string, Link>();
  const relays: Relay[] = [];
  let nextIp = 0;
  const max = { known: 0, pending: 0, inflight: 0, links: 0, inbound: 0, timers: 0, failed: 0, payers: 0, pings: 0 };
  let limits!: GossipLimits;

  const rtt = (a: Relay, b: Relay) => {
    // Fixed per pair (a hash of the two), spread over [rttLo, rttHi].
    let h = Math.imul(a.n * 2654435761 + b.n * 40503, 2246822519) ^ Math.imul(Math.min(a.n, b.n), 3266489917);
    h = (h ^ (h >>> 13)) >>> 0;
    return rttLo + ((h % 1000) / 1000) * (rttHi - rttLo);
  };
  const frameBytes = (n: number) => {
    const d = Math.ceil((n + 1) / costs.framePayload);
    return { out: n + 1 + d * costs.frameOverhead, back: d * costs.sackBytes };
  };
  /** Bytes sent, by what for (whole run). */
  const spent: Record<string, number> = {
    handshakes: 0,
    "records before WELCOME": 0,
    "records to links (2 s later)": 0,
    "records pushed": 0,
    pings: 0,
    "failed dials": 0,
    keepalives: 0,
  };
  const sizeOf = new WeakMap<RelayRecord, number>();
  const jsonBytes = (recs: RelayRecord[]) => {
    let n = 1;
    for (const r of recs) {
      let s = sizeOf.get(r);
      if (s === undefined) sizeOf.set(r, (s = JSON.stringify(r).length));
      n += s + 1;
    }
    return n;
  };
  const sign = (r: Omit<RelayRecord, "sig">): RelayRecord => {
    const sig = hex(rand, 86).replace(/[0-9]/g, (c) => "ghijklmnop"[+c]!); // 86 base64url-looking characters
    valid.add(sig);
    return { ...r, sig };
  };
  const verify = (x: unknown): RelayRecord | string => {
    const r = x as RelayRecord;
    return r && typeof r === "object" && typeof r.addr === "string" && valid.has(r.sig) ? r : "bad signature";
  };
  const newAddr = () => {
    const k = nextIp++;
    return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
  };

  let bootPeers: { addr: string; fp: string }[] = [];
  const start = (r: Relay) => {
    r.running = true;
    byAddr.set(r.addr, r);
    // Started with no address: 127.0.0.1 until the relays it pings say what they see.
    r.rec = sign({ lumamesh: 1, addr: "127.0.0.1:4884", fp: r.fp, id: r.id, seq: Math.floor(now / 1000) + 1_700_000_000 });
    r.core = new GossipCore({ self: r.rec, peers: bootPeers, limits: o.limits, verify, random: prng(r.n * 7919 + 1), now });
    limits = r.core.limits;
    r.links = new Map();
    r.confirmed = false;
    r.complete = null;
    const tick = () => {
      if (!r.running || r.core !== core) return;
      // Kept links cost their keepalives at both ends.
      for (const l of r.links.values())
        if (l.up && l.to.running)
          (r.sent += costs.keepaliveOut / 60),
            (l.to.sent += costs.keepaliveIn / 60),
            (spent.keepalives += (costs.keepaliveOut + costs.keepaliveIn) / 60);
      run(r, r.core.tick(now));
      q.push(now + 1000, tick);
    };
    const core = r.core;
    q.push(now + rand() * 1000, tick);
  };
  const stop = (r: Relay) => {
    r.running = false;
    if (byAddr.get(r.addr) === r) byAddr.delete(r.addr);
    // Links towards it die when their PINGs go unanswered: 10-20 s.
    for (const o2 of relays) {
      if (!o2.running) continue;
      for (const l of o2.links.values())
        if (l.to === r && l.up) {
          const core = o2.core;
          q.push(
            now + 10_000 + rand() * 10_000,
            () =>
              o2.running &&
              o2.core === core &&
              l.open &&
              (o2.links.delete(l.id), run(o2, core.handleLinkClosed(l.id, "relay stopped answering", now))),
          );
        }
    }
  };
  const make = (boot = false, reachable = true): Relay => {
    const n = relays.length;
    const r: Relay = {
      n,
      id: hex(rand, 64),
      fp: Array.from({ length: 32 }, () => hex(rand, 2).toUpperCase()).join(":"),
      ip: "",
      addr: "",
      reachable,
      running: false,
      boot,
      core: null as unknown as GossipCore,
      rec: null as unknown as RelayRecord,
      links: new Map(),
      sent: 0,
      complete: null,
      confirmed: false,
    };
    r.ip = newAddr();
    r.addr = r.ip + ":4884";
    relays.push(r);
    return r;
  };

  const run = (r: Relay, actions: GossipAction[]) => {
    const core = r.core;
    const alive = () => r.running && r.core === core;
    for (const a of actions) {
      switch (a.type) {
        case "dial": {
          const t = byAddr.get(a.relay.addr);
          const ok = !!t && t.running && t.reachable && t.fp === a.relay.fp.toUpperCase();
          if (!ok) {
            r.sent += costs.probeFail;
            spent["failed dials"] += costs.probeFail;
            q.push(
              now + 5000,
              () => alive() && run(r, core.handleDialed(a.link, { ok: false, error: "no answer to ICE checks within 5000 ms" }, now)),
            );
            break;
          }
          const link: Link = { id: a.link, from: r, to: t, up: false, open: true, session: { tokens: 5, at: now } };
          r.links.set(a.link, link);
          const ms = 4 * rtt(r, t);
          q.push(now + ms, () => {
            if (!alive() || !link.open) return;
            if (!t.running) return run(r, core.handleDialed(a.link, { ok: false, error: "closed" }, now));
            // A relay the dialee has a record of gets no RECORDS before WELCOME, the whole list later (relay/core.ts).
            const known = t.core.knowsFp(r.fp);
            const first = t.core.served(limits.frameRecords);
            const fb = known ? 0 : jsonBytes(first);
            const f = frameBytes(fb);
            r.sent += costs.handshakeOut + f.back;
            t.sent += costs.handshakeIn + f.out;
            spent.handshakes += costs.handshakeOut + costs.handshakeIn;
            if (fb) spent["records before WELCOME"] += f.back + f.out;
            link.up = true;
            run(r, core.handleDialed(a.link, known ? { ok: true } : { ok: true, records: first, bytes: fb }, now));
            // The rest of the list to sessions still open 2 s after HELLO (relay/core.ts RECORDS_MORE_MS).
            q.push(now + 2000, () => {
              if (!alive() || !link.open || !t.running) return;
              for (const fr of frames(t.core.served(), limits.frameRecords).slice(known ? 0 : 1)) {
                const b = jsonBytes(fr),
                  w = frameBytes(b);
                t.sent += w.out;
                r.sent += w.back;
                spent["records to links (2 s later)"] += w.out + w.back;
                q.push(now + rtt(r, t) / 2, () => alive() && link.open && run(r, core.handleLinkRecords(a.link, fr, b, now)));
              }
            });
          });
          break;
        }
        case "send": {
          const l = r.links.get(a.link);
          if (!l || !l.up || !l.to.running) break;
          const t = l.to,
            b = jsonBytes(a.records),
            w = frameBytes(b);
          r.sent += w.out;
          t.sent += w.back;
          spent["records pushed"] += w.out + w.back;
          q.push(now + rtt(r, t) / 2, () => {
            if (!t.running) return;
            // relay/core.ts: one RECORDS frame a second per session, burst 5.
            const s = l.session;
            s.tokens = Math.min(5, s.tokens + (now - s.at) / 1000);
            s.at = now;
            if (s.tokens < 1) return;
            s.tokens--;
            const tc = t.core;
            sessions.set(`${r.n}/${l.id}`, l);
            run(t, tc.handleSessionRecords(a.records, b, { fp: r.fp, ip: r.ip, key: `${r.n}/${l.id}` }, now).actions);
          });
          break;
        }
        case "close": {
          const l = r.links.get(a.link);
          if (l) {
            l.open = false;
            r.links.delete(a.link);
            // The dialee sees its session end.
            const key = `${r.n}/${l.id}`;
            if (sessions.delete(key) && l.to.running) l.to.core.handleSessionClosed(key);
          }
          break;
        }
        case "push": {
          // To the relay that dialed this one, on its link (as handleLinkRecords there).
          const l = sessions.get(a.session);
          if (!l || !l.open || !l.from.running) break;
          const d = l.from,
            b = jsonBytes(a.records),
            w = frameBytes(b);
          r.sent += w.out;
          d.sent += w.back;
          spent["records pushed"] += w.out + w.back;
          const dc = d.core;
          q.push(now + rtt(r, d) / 2, () => d.running && d.core === dc && l.open && run(d, dc.handleLinkRecords(l.id, a.records, b, now)));
          break;
        }
        case "ping": {
          const t = byAddr.get(a.addr);
          r.sent += costs.pingOut;
          spent.pings += costs.pingOut;
          if (!t || !t.running || !t.reachable || rand() < pingLoss) break;
          t.sent += costs.pingIn;
          spent.pings += costs.pingIn;
          q.push(now + rtt(r, t), () => alive() && run(r, core.handlePong(a.addr, r.addr, now)));
          break;
        }
        case "address": {
          r.rec = sign({ lumamesh: 1, addr: a.addr, fp: r.fp, id: r.id, seq: r.rec.seq + 1 });
          core.setSelf(r.rec);
          break;
        }
        case "confirmed":
          r.confirmed = true;
          break;
        case "list":
        case "event":
          break;
      }
    }
  };

  const frames = (list: RelayRecord[], per: number): RelayRecord[][] => {
    const [self, ...rest] = list;
    const out: RelayRecord[][] = [];
    for (let i = 0; i < rest.length || !out.length; i += per - 1) out.push([self!, ...rest.slice(i, i + per - 1)]);
    return out;
  };

  /** Does `r`'s list hold every running reachable relay at its address ("all"), and nothing else ("exact")? */
  const complete = (r: Relay, want: Map<string, string>) => {
    const need = want.size - (want.has(r.id) ? 1 : 0);
    if (r.core.vouched < need) return { all: false, exact: false };
    let n = 0;
    const l = r.core.list();
    for (let i = 1; i < l.length; i++) if (want.get(l[i]!.id) === l[i]!.addr) n++;
    return { all: n === need, exact: n === need && l.length - 1 === n };
  };
  const wanted = () => {
    const m = new Map<string, string>();
    for (const r of relays) if (r.running && r.reachable) m.set(r.id, r.addr);
    return m;
  };
  const sample = () => {
    for (const r of relays) {
      if (!r.running) continue;
      const s = r.core.sizes();
      for (const k of Object.keys(max) as (keyof typeof max)[]) max[k] = Math.max(max[k], s[k]);
    }
  };
  const advance = (until: number) => {
    while (q.peekAt() <= until) {
      const e = q.pop()!;
      now = e.at;
      events++;
      e.fn();
    }
    now = until;
  };
  const sentTotal = () => relays.reduce((n, r) => n + r.sent, 0);
  /** Run until every running relay agrees (checked every checkMs), from `from`; null after maxMs. */
  const converge = (from: number): { learned: number | null; at: number | null; page: number | null } => {
    const end = from + maxMs;
    for (const r of relays) r.complete = null;
    let learned: number | null = null;
    for (let t = Math.max(now, from); t <= end; t += checkMs) {
      advance(t);
      sample();
      const want = wanted();
      let all = true,
        exact = true;
      for (const r of relays) {
        if (!r.running) continue;
        const c = complete(r, want);
        if (c.all && r.complete === null) r.complete = now - from;
        all &&= c.all;
        exact &&= c.exact;
      }
      if (all && learned === null) learned = now - from;
      if (exact) {
        const times = relays
          .filter((r) => r.running)
          .map((r) => r.complete!)
          .sort((a, b) => a - b);
        return { learned, at: now - from, page: times[Math.floor(times.length / 2)]! };
      }
    }
    return { learned, at: null, page: null };
  };
  const running = () => relays.filter((r) => r.running).length;

  // ---- cold start ----
  const b0 = make(true),
    b1 = make(true);
  bootPeers = [b0, b1].map((b) => ({ addr: b.addr, fp: b.fp }));
  start(b0);
  start(b1);
  const unreachable = o.unreachable ?? 0.05;
  for (let i = 2; i < o.relays; i++) {
    const r = make(false, rand() >= unreachable);
    q.push(rand() * joinMs, () => start(r));
  }
  let mark = sentTotal();
  const cold = converge(joinMs);
  const coldMs = now;
  const cold_: PhaseResult = {
    learned: cold.learned,
    converged: cold.at,
    pageMedian: cold.page,
    bytesPerRelayMin: (sentTotal() - mark) / o.relays / (coldMs / 60_000),
    relaysAtEnd: running(),
  };

  // ---- steady ----
  mark = sentTotal();
  const steadyFrom = now;
  for (let t = now + checkMs; t <= steadyFrom + steadyMs; t += checkMs) advance(t), sample();
  const steady = { bytesPerRelayMin: (sentTotal() - mark) / running() / (steadyMs / 60_000), minutes: steadyMs / 60_000 };

  // ---- churn: a share stop (a third of them come back at a new address), as many new ones join ----
  const churnFrom = now;
  const leaving = relays
    .filter((r) => r.running && !r.boot)
    .sort(() => rand() - 0.5)
    .slice(0, Math.round((o.churn ?? 0.3) * running()));
  for (const [i, r] of leaving.entries()) {
    q.push(churnFrom + rand() * churnMs, () => {
      stop(r);
      if (i % 3 === 0) {
        // Moved: same identity, a new address after a restart.
        q.push(now + 5000, () => {
          r.ip = newAddr();
          r.addr = r.ip + ":4884";
          start(r);
        });
      }
    });
    const fresh = make(false, rand() >= unreachable);
    q.push(churnFrom + rand() * churnMs, () => start(fresh));
  }
  mark = sentTotal();
  const churn = converge(churnFrom + churnMs + 5000);
  const churnRun = (now - churnFrom) / 60_000;
  const churn_: PhaseResult = {
    learned: churn.learned,
    converged: churn.at,
    pageMedian: churn.page,
    bytesPerRelayMin: (sentTotal() - mark) / running() / churnRun,
    relaysAtEnd: running(),
  };

  const live = relays.filter((r) => r.running);
  return {
    cold: cold_,
    steady,
    churn: churn_,
    max,
    limits,
    confirmed: {
      reachable: live.filter((r) => r.reachable && r.confirmed).length,
      of: live.filter((r) => r.reachable).length,
      unreachable: live.filter((r) => !r.reachable && r.confirmed).length,
      ofUnreachable: live.filter((r) => !r.reachable).length,
    },
    addressesLearned: live.every((r) => r.rec.addr === r.addr),
    spent,
    events,
    wallMs: performance.now() - t0,
  };
}
