// The gossip shell: runs the sans-IO GossipCore (relay/gossip.ts) against the real network. Dials
// are Layer-1 links (relay/client.ts) with this relay's certificate, pings are plain STUN Bindings
// from the relay's own UDP socket (relay/socket.ts bind), the vouched list becomes the RECORDS
// frames every session gets (relay/core.ts), and a timer ticks the core. Nothing here decides.
import { openRelayLink, type RelayLink } from "./client.ts";
import { GossipCore, type GossipAction, type GossipLimits, type GossipStatus, type PeerAddr } from "./gossip.ts";
import type { RunningRelay } from "./socket.ts";
import type { RelayRecord } from "./record.ts";
import type { Certificate } from "./cert.ts";
import type { Logger } from "./log.ts";
import { parseAddr } from "../protocol/addr.ts";
import { encode, T } from "../protocol/frames.ts";

export interface PeeringOptions {
  relay: RunningRelay;
  cert: Certificate;
  log: Logger;
  self: RelayRecord;
  /** Relays to start from (bootstrap config, compiled in, cached, or --peer). */
  peers: PeerAddr[];
  /** The address in `self` is right from the start (--public-ip, or a bound non-wildcard host). */
  addressKnown: boolean;
  /** --public-ip: never replaced by what relays report. */
  fixedAddress: boolean;
  /** A record of this relay at a new address (re-signed, higher seq). */
  resign(addr: string): RelayRecord;
  /** Something the operator sees changed: the address, its confirmation, links, the list. */
  onStatus?(s: GossipStatus, list: RelayRecord[]): void;
  connect?: typeof openRelayLink;
  limits?: Partial<GossipLimits>;
  /** Tick period (ms). */
  tickMs?: number;
}

export interface Peering {
  core: GossipCore;
  /** RECORDS JSON from a session (relay/socket.ts onRecords): taken only from relays. */
  fromSession(json: string, from: { key: string; fp: string; ip: string }): boolean;
  /** A session ended (relay/socket.ts onSessionClosed). */
  sessionClosed(key: string): void;
  /** A Binding answer (relay/socket.ts onMapped). */
  pong(from: string, mapped: string | null): void;
  /** More relays to start from (a later discovery). */
  addPeers(peers: PeerAddr[]): void;
  status(): GossipStatus;
  list(): RelayRecord[];
  stop(): void;
}

/** Gossip links are long-lived and cheap: a consent check and a PING after 10 s of silence each way
 *  (the relay's idle timeout is 30 s), instead of a browser's every 2.5 s. */
const LINK = { timeout: 5000, liveness: 10_000, consentMs: 10_000 };
/** Bytes of records per RECORDS frame at most, so a frame stays under the 16 KiB frame limit. */
const FRAME_JSON = 15_000;

/** RECORDS frames for a list: each starts with this relay's own record `self` (when given). */
export function recordFrames(self: RelayRecord | null, rest: RelayRecord[], per = 40): string[] {
  const head = self ? [JSON.stringify(self)] : [];
  const out: string[] = [];
  let cur: string[] = [];
  const base = (head[0]?.length ?? 0) + 2;
  let size = base;
  const flush = () => (out.push(`[${[...head, ...cur].join(",")}]`), (cur = []), (size = base));
  for (const r of rest) {
    const j = JSON.stringify(r);
    if (cur.length && (cur.length + head.length >= per || size + j.length + 1 > FRAME_JSON)) flush();
    cur.push(j);
    size += j.length + 1;
  }
  if (cur.length || (!out.length && head.length)) flush();
  return out;
}

function parseList(json: string): unknown[] | null {
  try {
    const a = JSON.parse(json);
    return Array.isArray(a) ? a : null;
  } catch {
    return null;
  }
}

export function startPeering(o: PeeringOptions): Peering {
  const now = () => performance.now();
  const core = new GossipCore({
    self: o.self,
    peers: o.peers,
    addressKnown: o.addressKnown,
    fixedAddress: o.fixedAddress,
    limits: o.limits,
    now: now(),
  });
  const links = new Map<number, RelayLink>();
  const closing = new Set<number>();
  const connect = o.connect ?? openRelayLink;
  let stopped = false;
  let lastStatus = "";

  const status = () => {
    if (!o.onStatus) return;
    const s = core.status(now());
    const key = JSON.stringify([s.addr, s.confirmed, s.links, s.vouched, s.addressKnown]);
    if (key === lastStatus) return;
    lastStatus = key;
    o.onStatus(s, core.list());
  };

  const run = (actions: GossipAction[]) => {
    for (const a of actions) {
      switch (a.type) {
        case "dial": {
          const id = a.link;
          connect(a.relay, o.cert, LINK).then(
            (l) => {
              if (stopped) return l.close();
              links.set(id, l);
              l.onframe = (f) => {
                if (f.t !== T.RECORDS) return;
                const list = parseList(f.json);
                if (list) run(core.handleLinkRecords(id, list, f.json.length, now()));
                else o.log("debug", "gossip.bad", { from: a.relay.addr, reason: "not JSON" });
              };
              l.onclose = (why) => {
                links.delete(id);
                if (!closing.delete(id) && !stopped) run(core.handleLinkClosed(id, why, now()));
              };
              const list = l.records ? parseList(l.records) : null;
              run(core.handleDialed(id, { ok: true, ...(list && { records: list, bytes: l.records!.length }) }, now()));
            },
            (e) => !stopped && run(core.handleDialed(id, { ok: false, error: String((e as Error)?.message ?? e) }, now())),
          );
          break;
        }
        case "send":
          links.get(a.link)?.send({ t: T.RECORDS, json: JSON.stringify(a.records) });
          break;
        case "push":
          o.relay.sendFrame(a.session, encode({ t: T.RECORDS, json: JSON.stringify(a.records) }));
          break;
        case "close": {
          const l = links.get(a.link);
          if (l) {
            closing.add(a.link);
            l.close();
          }
          break;
        }
        case "ping": {
          const p = parseAddr(a.addr);
          if (p) o.relay.bind({ address: p.ip, port: p.port });
          break;
        }
        case "list": {
          const list = core.served();
          const self = list[0] === core.record ? list.shift()! : null;
          const frames = recordFrames(self, list).map((json) => encode({ t: T.RECORDS, json }));
          o.relay.core.records = frames[0] ?? null;
          o.relay.core.recordsMore = frames.slice(1);
          break;
        }
        case "address": {
          const rec = o.resign(a.addr);
          core.setSelf(rec);
          o.log("info", "relay.address", { addr: a.addr, from: `${a.votes} of ${a.of} relays that answered`, record: rec });
          break;
        }
        case "confirmed":
          o.log("info", "relay.confirmed", { addr: core.record.addr, by: a.by });
          break;
        case "event":
          o.log(a.level, a.name, a.fields);
          break;
      }
    }
    status();
  };

  o.relay.core.isRelay = (fp) => core.knowsFp(fp);
  const timer = setInterval(() => {
    try {
      run(core.tick(now()));
    } catch (e) {
      o.log("warn", "gossip.exception", { error: String(e) });
    }
  }, o.tickMs ?? 250);
  run(core.tick(now()));

  return {
    core,
    fromSession(json, from) {
      const list = parseList(json);
      if (!list) {
        o.log("debug", "gossip.bad", { from: "session", reason: "not JSON" });
        return false;
      }
      const r = core.handleSessionRecords(list, json.length, from, now());
      run(r.actions);
      return r.accepted;
    },
    sessionClosed: (key) => core.handleSessionClosed(key),
    pong: (from, mapped) => run(core.handlePong(from, mapped, now())),
    addPeers: (peers) => run(core.addPeers(peers, now())),
    status: () => core.status(now()),
    list: () => core.list(),
    stop() {
      stopped = true;
      clearInterval(timer);
      core.stop();
      for (const l of links.values()) l.close();
      links.clear();
    },
  };
}
