// Gossip: relays tell each other (and browsers) about relays. A relay links to its bootstrap peers
// as a Layer-1 client (relay/client.ts), exchanges signed records in RECORDS frames, and passes a
// record on only after it reached that relay itself (handshake with the record's fingerprint).
// A relay can withhold records but not forge them (relay/record.ts signatures).
import { checkRecord, type RelayRecord } from "./record.ts";
import { MAX_PROBE_BYTES, openRelayLink, type RelayLink } from "./client.ts";
import { T } from "../protocol/frames.ts";
import { parseAddr } from "../protocol/addr.ts";
import { bucket, take } from "./limits.ts";
import type { Certificate } from "./cert.ts";
import type { Logger } from "./log.ts";

export interface GossipOptions {
  self: () => RelayRecord;
  cert: Certificate;
  log: Logger;
  /** Bootstrap relays: address and fingerprint, no record needed. */
  peers?: { addr: string; fp: string }[];
  /** The vouched-for list changed (the shell refreshes what sessions get before WELCOME). */
  onChange?: (list: RelayRecord[]) => void;
  connect?: typeof openRelayLink;
  /** Records passed on, at most (they must fit in one 16 KiB frame). */
  maxKnown?: number;
  /** Links kept open for exchanging records. */
  maxLinks?: number;
  /** How often records are pushed to linked relays and unreachable ones re-probed (ms). */
  intervalMs?: number;
}

interface Known {
  rec: RelayRecord;
  ok: boolean;
  link?: RelayLink;
  probing?: boolean;
  failures: number;
}

/** What one failed probe can send to an address that does not answer: the client's ICE checks
 *  (relay/client.ts MAX_PROBE_BYTES). A RECORDS frame of n bytes may cause at most n / PROBE_COST
 *  probes of addresses other than the sender's own, so no frame makes the relay send more to third
 *  parties than it received. */
export const PROBE_COST = MAX_PROBE_BYTES;
/** An address that did not answer is not probed again for this long (ms), whoever names it again. */
const RETRY_AFTER = 10 * 60_000;
/** New probes per second across the relay, and burst; probes in flight at most. */
const PROBE_RATE = 1, PROBE_BURST = 20, MAX_INFLIGHT = 8;

export interface Gossip {
  /** RECORDS JSON from a relay this relay linked to. */
  add(json: string, from: string): void;
  /** RECORDS JSON from a session: taken only from a relay, i.e. when the frame's first record is the
   *  sender's own — its certificate fingerprint `fp`, and `ip` its address's IP. Else refused. */
  fromSession(json: string, from: { fp: string; ip: string }): boolean;
  /** This relay's record first, then every relay it reached. */
  list(): RelayRecord[];
  stop(): void;
}

export function startGossip(o: GossipOptions): Gossip {
  const known = new Map<string, Known>();
  const links = new Set<RelayLink>();
  /** Address → when a probe to it last failed (bounded). */
  const failedAt = new Map<string, number>();
  const probes = bucket(PROBE_BURST, Date.now());
  let inflight = 0;
  const connect = o.connect ?? openRelayLink;
  const maxKnown = o.maxKnown ?? 40, maxLinks = o.maxLinks ?? 8;
  let stopped = false;
  let last = "";

  const list = () => [o.self(), ...[...known.values()].filter((k) => k.ok).map((k) => k.rec)].slice(0, maxKnown);
  const changed = () => {
    const l = list();
    const s = JSON.stringify(l);
    if (s == last) return;
    last = s;
    o.onChange?.(l);
    for (const link of links) link.send({ t: T.RECORDS, json: s });
  };

  const keep = (link: RelayLink, k?: Known) => {
    links.add(link);
    link.onframe = (f) => f.t == T.RECORDS && add(f.json, link.relay.addr, link.relay.fp);
    link.onclose = (why) => {
      links.delete(link);
      if (k) {
        k.link = undefined;
        k.ok = false;
        k.failures++;
        o.log("info", "gossip.down", { relay: k.rec.id.slice(0, 16), why });
        changed();
      }
    };
    link.send({ t: T.RECORDS, json: JSON.stringify(list()) });
  };

  const ipOf = (addr: string) => parseAddr(addr)?.ip ?? addr;
  const probe = async (k: Known) => {
    if (k.probing || stopped) return;
    const addr = k.rec.addr, t = failedAt.get(addr);
    if (t !== undefined && Date.now() - t < RETRY_AFTER) return;
    if (inflight >= MAX_INFLIGHT || !take(probes, PROBE_RATE, PROBE_BURST, Date.now())) return; // the timer retries
    k.probing = true;
    inflight++;
    o.log("debug", "gossip.probe", { relay: k.rec.id.slice(0, 16), addr: k.rec.addr });
    try {
      const link = await connect({ addr: k.rec.addr, fp: k.rec.fp }, o.cert);
      k.ok = true;
      k.failures = 0;
      if (links.size < maxLinks && !stopped) keep((k.link = link), k);
      else link.close();
      if (link.records) add(link.records, k.rec.addr, k.rec.fp);
      o.log("info", "gossip.reached", { relay: k.rec.id.slice(0, 16), addr: k.rec.addr });
    } catch (e) {
      k.failures++;
      if (failedAt.size >= 4096) failedAt.delete(failedAt.keys().next().value!);
      failedAt.set(addr, Date.now());
      o.log("debug", "gossip.unreachable", { relay: k.rec.id.slice(0, 16), error: String((e as Error).message ?? e) });
      if (k.failures >= 3) known.delete(k.rec.id);
    } finally {
      inflight--;
      k.probing = false;
      changed();
    }
  };

  const parse = (json: string, from: string): unknown[] | undefined => {
    let arr: unknown;
    try {
      arr = JSON.parse(json);
    } catch {
      o.log("debug", "gossip.bad", { from, reason: "not JSON" });
      return;
    }
    return Array.isArray(arr) ? arr : undefined;
  };

  function fromSession(json: string, from: { fp: string; ip: string }): boolean {
    const arr = parse(json, "session");
    const first = arr && checkRecord(arr[0]);
    const norm = (ip: string) => ip.replace(/^::ffff:(?=\d)/i, "").toLowerCase();
    if (!first || typeof first == "string" || first.fp != from.fp || norm(ipOf(first.addr)) != norm(from.ip)) {
      o.log("debug", "gossip.refused", { reason: "not from a relay (the first record must be the sender's own)" });
      return false;
    }
    take_(arr!, json.length, "session", from.fp);
    return true;
  }

  function add(json: string, from: string, fp?: string) {
    const arr = parse(json, from);
    if (arr) take_(arr, json.length, from, fp);
  }

  /**
   * Records from one frame of `bytes` bytes. The sender's own record (fingerprint `self`) is free:
   * probing it dials the sender. Every other new record costs PROBE_COST of the frame's credit.
   */
  function take_(arr: unknown[], bytes: number, from: string, self?: string) {
    let credit = bytes;
    const me = o.self().id;
    for (const x of arr.slice(0, maxKnown)) {
      const r = checkRecord(x);
      if (typeof r == "string") {
        o.log("debug", "gossip.bad", { from, reason: r });
        continue;
      }
      if (r.id == me) continue;
      const k = known.get(r.id);
      if (k && k.rec.seq >= r.seq) continue;
      if (!k && known.size >= maxKnown * 2) continue;
      // New relay, or a newer record of a known one (new address or certificate): reach it first.
      if (r.fp !== self?.toUpperCase()) {
        if (credit < PROBE_COST) continue;
        credit -= PROBE_COST;
      }
      const nk: Known = { rec: r, ok: false, failures: 0 };
      if (k?.link) k.link.close();
      known.set(r.id, nk);
      void probe(nk);
    }
  }

  // Bootstrap peers: linked by address and fingerprint, retried for as long as the relay runs.
  const bootstrap = (p: { addr: string; fp: string }, delay = 0) =>
    setTimeout(async () => {
      if (stopped) return;
      try {
        const link = await connect(p, o.cert);
        o.log("info", "gossip.linked", { addr: p.addr });
        keep(link);
        const prev = link.onclose;
        link.onclose = (why) => (prev(why), bootstrap(p, 5000));
        if (link.records) add(link.records, p.addr, p.fp);
      } catch (e) {
        o.log("info", "gossip.bootstrap-failed", { addr: p.addr, error: String((e as Error).message ?? e) });
        bootstrap(p, Math.min(60000, Math.max(2000, delay * 2)));
      }
    }, delay);
  for (const p of o.peers ?? []) bootstrap(p);

  const timer = setInterval(() => {
    const s = JSON.stringify(list());
    for (const link of links) link.send({ t: T.RECORDS, json: s });
    for (const k of known.values()) if (!k.ok && !k.probing) void probe(k);
  }, o.intervalMs ?? 30000);

  return {
    add,
    fromSession,
    list,
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const l of [...links]) l.close();
    },
  };
}
