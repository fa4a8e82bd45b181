// relay/gossip.ts, the sans-IO gossip core, and relay/selfaddr.ts: cores wired to each other through
// a tiny in-memory network and a fake clock (no sockets), with real Ed25519-signed records.
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync, createPublicKey, randomBytes } from "node:crypto";
import { GossipCore, PROBE_COST, type GossipAction } from "../../relay/gossip.ts";
import { SelfAddress } from "../../relay/selfaddr.ts";
import { signRecord, type RelayRecord } from "../../relay/record.ts";

/** A relay identity: Ed25519 key, id, a certificate fingerprint; records of it at any address. */
function identity() {
  const key = generateKeyPairSync("ed25519").privateKey;
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const id = Buffer.from(spki.subarray(spki.length - 32)).toString("hex");
  const fp = [...randomBytes(32)].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
  let seq = 1_700_000_000;
  return { id, fp, rec: (addr: string): RelayRecord => signRecord({ lumamesh: 1, addr, fp, id, seq: ++seq }, key) };
}

/**
 * Relays on a network with no delay: actions are carried out at once, in order. `down` addresses
 * do not answer (dials fail, pings are lost). A relay's public address is its key in `nodes`.
 */
class Net {
  nodes = new Map<string, { core: GossipCore; me: ReturnType<typeof identity>; confirmed: string[]; addr: string }>();
  down = new Set<string>();
  links = new Map<string, { from: string; to: string; id: number }>();
  dialed: { from: string; to: string }[] = [];
  events: { at: string; name: string; fields: Record<string, unknown> }[] = [];
  now = 0;
  add(addr: string, o: { peers?: string[]; known?: boolean } = {}) {
    const me = identity();
    const core = new GossipCore({
      self: me.rec(o.known ? addr : "127.0.0.1:4884"),
      addressKnown: !!o.known,
      now: this.now,
      peers: (o.peers ?? []).map((p) => ({ addr: p, fp: this.nodes.get(p)!.me.fp })),
      random: () => 0.5,
    });
    this.nodes.set(addr, { core, me, confirmed: [], addr });
    return this.nodes.get(addr)!;
  }
  run(at: string, acts: GossipAction[]) {
    const n = this.nodes.get(at)!;
    for (const a of acts) {
      if (a.type === "dial") {
        this.dialed.push({ from: at, to: a.relay.addr });
        const t = this.nodes.get(a.relay.addr);
        if (!t || this.down.has(a.relay.addr) || t.me.fp !== a.relay.fp)
          this.run(at, n.core.handleDialed(a.link, { ok: false, error: "no answer" }, this.now));
        else {
          this.links.set(`${at}#${a.link}`, { from: at, to: a.relay.addr, id: a.link });
          const first = t.core.knowsFp(n.me.fp) ? undefined : t.core.list(40);
          this.run(
            at,
            n.core.handleDialed(a.link, { ok: true, ...(first && { records: first, bytes: JSON.stringify(first).length }) }, this.now),
          );
        }
      } else if (a.type === "send") {
        const l = this.links.get(`${at}#${a.link}`);
        const t = l && this.nodes.get(l.to);
        if (t && !this.down.has(l.to))
          this.run(
            l.to,
            t.core.handleSessionRecords(
              a.records,
              JSON.stringify(a.records).length,
              { fp: n.me.fp, ip: at.split(":")[0]!, key: `${at}#${a.link}` },
              this.now,
            ).actions,
          );
      } else if (a.type === "push") {
        const l = this.links.get(a.session);
        if (l)
          this.run(l.from, this.nodes.get(l.from)!.core.handleLinkRecords(l.id, a.records, JSON.stringify(a.records).length, this.now));
      } else if (a.type === "close") this.links.delete(`${at}#${a.link}`);
      else if (a.type === "ping") {
        if (this.nodes.has(a.addr) && !this.down.has(a.addr)) this.run(at, n.core.handlePong(a.addr, at, this.now));
      } else if (a.type === "address") n.core.setSelf(n.me.rec(a.addr));
      else if (a.type === "confirmed") n.confirmed.push(a.by);
      else if (a.type === "event") this.events.push({ at, name: a.name, fields: a.fields });
    }
  }
  /** Advance the clock in 1 s ticks. */
  tick(ms = 1000) {
    for (let t = 0; t < ms; t += 1000) {
      this.now += 1000;
      for (const [addr, n] of this.nodes) if (!this.down.has(addr)) this.run(addr, n.core.tick(this.now));
    }
  }
  ids(addr: string) {
    return this.nodes
      .get(addr)!
      .core.list()
      .slice(1)
      .map((r) => r.addr)
      .sort();
  }
}

describe("GossipCore between relays", () => {
  test("a relay with no address learns it from the relay it starts from, is reached by it, and only then is confirmed", () => {
    const net = new Net();
    const b = net.add("198.51.100.1:4884", { known: true });
    const a = net.add("203.0.113.7:4884", { peers: ["198.51.100.1:4884"] });
    // Before anyone answers: a placeholder address, nothing said about itself.
    expect(a.core.status(0)).toMatchObject({ addr: "127.0.0.1:4884", addressKnown: false, confirmed: false });
    net.tick();
    // b answered a's Binding: a knows its address (one relay answered, so one voice suffices) and re-signed.
    expect(a.core.record.addr).toBe("203.0.113.7:4884");
    expect(a.core.status(net.now).reports).toEqual([{ reporter: "198.51.100.1", addr: "203.0.113.7:4884" }]);
    net.tick(5000);
    // b reached a (a probe of a's own record, which a pushed), vouches for it, and told a so.
    expect(net.ids("198.51.100.1:4884")).toEqual(["203.0.113.7:4884"]);
    expect(net.ids("203.0.113.7:4884")).toEqual(["198.51.100.1:4884"]);
    expect(a.confirmed).toEqual(["198.51.100.1:4884"]);
    expect(a.core.status(net.now)).toMatchObject({ confirmed: true, confirmedBy: ["198.51.100.1:4884"] });
    expect(net.dialed).toContainEqual({ from: "198.51.100.1:4884", to: "203.0.113.7:4884" });
    // A new address: a new record, unconfirmed until a relay reaches it there.
    a.core.setSelf(a.me.rec("203.0.113.8:4884"));
    expect(a.core.status(net.now).confirmed).toBe(false);
  });

  test("a relay nobody can reach is never confirmed and never passed on; relays behind it still learn the others", () => {
    const net = new Net();
    const b = net.add("198.51.100.1:4884", { known: true });
    const c = net.add("198.51.100.2:4884", { known: true, peers: ["198.51.100.1:4884"] });
    const nat = net.add("203.0.113.9:4884", { peers: ["198.51.100.1:4884"] });
    // Inbound to the NATed relay is dropped: nobody can dial it (its own dials and pings go out).
    const run = net.run.bind(net);
    net.run = (at, acts) =>
      run(
        at,
        acts.map((x) => (x.type === "dial" && x.relay.addr === nat.addr ? { ...x, relay: { ...x.relay, fp: "00" } } : x)),
      );
    net.tick(30_000);
    expect(net.ids(b.addr)).toEqual([c.addr]);
    expect(net.ids(c.addr)).toEqual([b.addr]);
    expect(net.ids(nat.addr)).toEqual([b.addr, c.addr]);
    expect(nat.confirmed).toEqual([]);
    expect(nat.core.status(net.now)).toMatchObject({ addr: nat.addr, addressKnown: true, confirmed: false });
  });

  test("a forged record is dropped and never dialed; a session whose first record is not its own is refused", () => {
    const net = new Net();
    const b = net.add("198.51.100.1:4884", { known: true });
    const x = identity();
    const genuine = x.rec("192.0.2.5:4884");
    const forged = { ...genuine, addr: "192.0.2.66:4884" };
    const me = identity();
    const r = b.core.handleSessionRecords([me.rec("192.0.2.1:4884"), forged], 999, { fp: me.fp, ip: "192.0.2.1" }, 0);
    expect(r.accepted).toBe(true);
    expect(r.actions.find((a) => a.type === "event" && a.name === "gossip.bad")).toMatchObject({ fields: { reason: "bad signature" } });
    // Not the sender's own first: its certificate, or its IP.
    for (const from of [
      { fp: x.fp, ip: "192.0.2.1" },
      { fp: me.fp, ip: "192.0.2.9" },
    ]) {
      const no = b.core.handleSessionRecords([me.rec("192.0.2.1:4884"), genuine], 999, from, 0);
      expect(no.accepted).toBe(false);
      expect(no.actions).toEqual([{ type: "event", level: "debug", name: "gossip.refused", fields: expect.any(Object) }]);
    }
    const dials: string[] = [];
    for (let t = 1000; t < 5000; t += 1000) for (const a of b.core.tick(t)) if (a.type === "dial") dials.push(a.relay.addr);
    expect(dials).toEqual(["192.0.2.1:4884"]); // the sender's own record only
  });

  test("probes are paid from the sender's credit: what fails is never more than the frame; what answers is paid back", () => {
    const b = new GossipCore({ self: identity().rec("198.51.100.1:4884"), addressKnown: true, now: 0 });
    const me = identity();
    const others = Array.from({ length: 30 }, (_, i) => identity().rec(`192.0.2.${i + 10}:4884`));
    const list = [me.rec("192.0.2.1:4884"), ...others];
    const bytes = 6 * PROBE_COST + 100; // credit for 6 probes
    b.handleSessionRecords(list, bytes, { fp: me.fp, ip: "192.0.2.1" }, 0);
    // Every dial fails: at most 6 of the 30, besides the sender's own.
    let t = 0,
      failed = 0;
    const dial = (answer: boolean) => {
      for (let i = 0; i < 120; i++) {
        t += 1000;
        for (const a of b.tick(t)) {
          if (a.type !== "dial") continue;
          if (a.relay.addr === "192.0.2.1:4884" || !answer) {
            failed += a.relay.addr === "192.0.2.1:4884" ? 0 : 1;
            b.handleDialed(a.link, { ok: false, error: "no answer" }, t);
          } else b.handleDialed(a.link, { ok: true }, t);
        }
      }
    };
    dial(false);
    expect(failed).toBe(6);
    expect(failed * PROBE_COST).toBeLessThanOrEqual(bytes);
    // The same credit, relays that answer: each probe's cost comes back, so all 30 are reached.
    const c = new GossipCore({ self: identity().rec("198.51.100.2:4884"), addressKnown: true, now: 0 });
    const me2 = identity();
    c.handleSessionRecords([me2.rec("192.0.2.1:4884"), ...others], bytes, { fp: me2.fp, ip: "192.0.2.1" }, 0);
    for (let i = 0, tt = 0; i < 120; i++) {
      tt += 1000;
      for (const a of c.tick(tt))
        if (a.type === "dial") c.handleDialed(a.link, a.relay.addr === "192.0.2.1:4884" ? { ok: false, error: "x" } : { ok: true }, tt);
    }
    expect(c.vouched).toBe(30);
  });

  test("a relay that stops answering pings is dialed after two misses and dropped when that fails too; tried again a minute later, then 4, then forgotten", () => {
    // No links of its own (maxLinks 0), so pings are all it has to go by.
    const b = new GossipCore({
      self: identity().rec("198.51.100.1:4884"),
      addressKnown: true,
      now: 0,
      limits: { maxLinks: 0 },
      random: () => 0.5,
    });
    const c = identity();
    b.handleSessionRecords([c.rec("198.51.100.2:4884")], 999, { fp: c.fp, ip: "198.51.100.2" }, 0);
    let t = 0,
      up = true;
    const acts: (GossipAction & { t?: number })[] = [];
    const step = (ms: number) => {
      for (const end = t + ms; t < end; ) {
        t += 1000;
        for (const a of b.tick(t)) {
          acts.push({ ...a, t });
          if (a.type === "dial")
            acts.push(...b.handleDialed(a.link, up ? { ok: true } : { ok: false, error: "no answer" }, t).map((x) => ({ ...x, t })));
          if (a.type === "ping" && up) acts.push(...b.handlePong(a.addr, "198.51.100.1:4884", t));
        }
      }
    };
    step(2000);
    expect(b.vouched).toBe(1);
    step(b.limits.pingMs * 2);
    expect(b.vouched).toBe(1); // pinged and answered
    expect(acts.filter((a) => a.type === "ping").length).toBeGreaterThanOrEqual(1);
    up = false;
    acts.length = 0;
    step(b.limits.pingMs * 1.25 + 2 * b.limits.pingTimeoutMs + 1000);
    expect(b.vouched).toBe(0);
    // Two Bindings unanswered make it a suspect; a dial that gets no answer either makes it dead.
    const suspect = acts.findIndex((a) => a.type === "event" && a.name === "gossip.suspect");
    const dead = acts.findIndex((a) => a.type === "event" && a.name === "gossip.dead");
    expect(acts.slice(0, suspect).filter((a) => a.type === "ping").length).toBe(2);
    expect(acts.slice(suspect, dead).filter((a) => a.type === "dial").length).toBe(1);
    expect(acts[dead]).toMatchObject({ fields: { why: "2 pings unanswered, then no answer to a dial" } });
    step(40 * 60_000);
    // Tried again (a dial) a minute after it was dropped, then 4 minutes after that, then forgotten.
    const died = acts[dead]!.t!;
    const retries = acts
      .slice(dead)
      .filter((a) => a.type === "dial")
      .map((a) => Math.round((a.t! - died) / 1000));
    expect(retries).toEqual([60, 300]);
    expect(b.sizes().known).toBe(0);
  });

  test("everything a relay keeps is bounded, whatever it is sent", () => {
    const limits = { maxKnown: 64, maxPending: 16, maxInflight: 4, maxLinks: 3, maxInbound: 2 };
    const b = new GossipCore({ self: identity().rec("198.51.100.1:4884"), addressKnown: true, now: 0, limits });
    const recs = Array.from({ length: 400 }, (_, i) => identity().rec(`192.0.${i >> 8}.${i & 255}:4884`));
    let t = 0;
    for (let s = 0; s < 40; s++) {
      const me = identity();
      b.handleSessionRecords(
        [me.rec(`203.0.113.${s}:4884`), ...recs.slice(s * 10, s * 10 + 39)],
        16_000,
        { fp: me.fp, ip: `203.0.113.${s}`, key: `k${s}` },
        t,
      );
      t += 1000;
      // Half the dials answer.
      for (const a of b.tick(t)) if (a.type === "dial") b.handleDialed(a.link, a.link % 2 ? { ok: true } : { ok: false, error: "no" }, t);
      const z = b.sizes();
      expect(z.known).toBeLessThanOrEqual(limits.maxKnown);
      expect(z.pending).toBeLessThanOrEqual(limits.maxPending);
      expect(z.inflight).toBeLessThanOrEqual(limits.maxInflight);
      expect(z.inbound).toBeLessThanOrEqual(limits.maxInbound);
      expect(z.links).toBeLessThanOrEqual(limits.maxLinks + limits.maxInflight);
    }
    expect(b.vouched).toBeGreaterThan(10);
  });
});

describe("SelfAddress", () => {
  test("one relay's word while it is the only one; two that agree outvote one; a tie changes nothing", () => {
    const s = new SelfAddress();
    s.observe("198.51.100.1", "203.0.113.7:4884", 0);
    expect(s.agreed(0)).toEqual({ addr: "203.0.113.7:4884", votes: 1, of: 1 });
    s.observe("198.51.100.2", "203.0.113.66:9", 0);
    expect(s.agreed(0, "203.0.113.7:4884")).toBeNull(); // 1 against 1: no agreement, keep what you have
    s.observe("198.51.100.3", "203.0.113.7:4884", 0);
    expect(s.agreed(0)).toEqual({ addr: "203.0.113.7:4884", votes: 2, of: 3 });
    // Reports count for 30 minutes; a reporter counts once, its latest report.
    expect(s.observe("198.51.100.2", "203.0.113.66:9", 1000)).toBe(false);
    expect(s.observe("198.51.100.2", "203.0.113.7:4884", 2000)).toBe(true);
    expect(s.agreed(2000)).toEqual({ addr: "203.0.113.7:4884", votes: 3, of: 3 });
    expect(s.agreed(2000 + 30 * 60_000 + 1)).toBeNull();
  });

  test("at most 16 reporters are kept (the oldest go)", () => {
    const s = new SelfAddress();
    for (let i = 0; i < 40; i++) s.observe(`198.51.100.${i}`, "203.0.113.7:4884", i);
    expect(s.reports(40).length).toBe(16);
    expect(s.reports(40)[0]!.reporter).toBe("198.51.100.24");
  });
});
