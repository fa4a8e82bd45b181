// src/mesh.ts, the room's sans-IO mesh core, driven with a fake clock and a fake relay between
// pages: who offers, proof before cost, sessions and sequence numbers against replays, fallback to
// the relay at 3 s, retries, path switching, leaving, limits. No browser, no crypto: a message
// "opens" exactly when the shell's would (the recipient's session named in the AD, or zeros for HELLO).
import { describe, expect, test } from "bun:test";
import { CANDIDATE_TTL, FALLBACK, GRACE, HELLO_EVERY, MAX_CANDIDATES, Mesh, RETRY, type Action } from "../../src/mesh.ts";

const SEALED = { OFFER: 1, ANSWER: 2, CAND: 3, DATA: 4, HELLO: 5 } as const;
const LINK = { name: "relay-1" };
const types = (acts: Action[]) => acts.map((a) => a.type);
const sends = (acts: Action[]) => acts.filter((a): a is Extract<Action, { type: "send" }> => a.type == "send");
const kinds = (acts: Action[]) => sends(acts).map((a) => a.kind);

/** Two (or more) pages and the relay between them: what one sends arrives at the other, opened as the shell would. */
class Net {
  pages = new Map<string, Mesh>();
  /** Every sealed message that went through the relay (a hostile relay's recording). */
  recorded: { from: string; a: Extract<Action, { type: "send" }> }[] = [];
  add(id: string, session: string) {
    const m = new Mesh(id, session, "nick-" + id);
    this.pages.set(id, m);
    return m;
  }
  /** Deliver `a` (a send from `from`), as the relay would; returns what the recipient does. */
  deliver(from: string, a: Extract<Action, { type: "send" }>, now: number): Action[] {
    const to = this.pages.get(a.id)!;
    const fresh = a.toSession == to.session;
    if (a.toSession && !fresh) return to.undecryptable(from); // sealed for another session: does not open
    return to.opened(from, LINK, { kind: a.kind, seq: a.seq, session: this.pages.get(from)!.session, body: a.body }, fresh, now);
  }
  /** Run actions of `who` until nothing more is sent: sends go through the relay; the offer/answer dance completes. */
  settle(who: string, acts: Action[], now: number, log: Action[] = []): Action[] {
    const queue: [string, Action][] = acts.map((a) => [who, a]);
    while (queue.length) {
      const [me, a] = queue.shift()!;
      log.push(a);
      const m = this.pages.get(me)!;
      if (a.type == "send") {
        this.recorded.push({ from: me, a });
        for (const b of this.deliver(me, a, now)) queue.push([a.id, b]);
      } else if (a.type == "offer") for (const b of m.local(a.id, SEALED.OFFER, "v=0 offer of " + me)) queue.push([me, b]);
      else if (a.type == "answer") for (const b of m.local(a.id, SEALED.ANSWER, "v=0 answer of " + me)) queue.push([me, b]);
    }
    return log;
  }
}

// Ids compare as hex strings: "a…" < "b…", so "a" offers to "b".
const A = "aaaaaaaaaaaaaaaa", B = "bbbbbbbbbbbbbbbb", SA = "01".repeat(8), SB = "02".repeat(8);

function meet(now = 0) {
  const net = new Net();
  const a = net.add(A, SA), b = net.add(B, SB);
  const log: Action[] = [];
  // The relay tells each of the other (MEMBERS to the newcomer b, JOINED to a).
  net.settle(A, a.seen(B, LINK, now), now, log);
  net.settle(B, b.seen(A, LINK, now), now, log);
  return { net, a, b, log };
}

describe("who offers, and proof before cost", () => {
  test("the relay naming an id costs nothing: no connection, no peer, no timer beyond the candidate's expiry", () => {
    const a = new Mesh(A, SA);
    expect(a.seen(B, LINK, 0)).toEqual([]); // a (smaller) waits to be proven to
    expect(a.peers()).toEqual([]);
    expect(a.nextDeadline()).toBe(CANDIDATE_TTL);
    expect(a.tick(CANDIDATE_TTL)).toEqual([]); // forgotten, nothing else happened
    expect(a.nextDeadline()).toBe(Infinity);
  });

  test("the larger id says HELLO; the smaller, once that opened, connects and offers; the larger answers", () => {
    const { log } = meet();
    expect(log.map((x) => (x.type == "send" ? `send:${x.kind}` : x.type))).toEqual([
      "send:5", // b HELLO → a
      "connect", "offer", "send:1", // a proves b, connects, offers
      "connect", "answer", "send:2", // b: the offer named b's session, so a is proven and fresh
      "remote",
    ]);
    const hello = sends(log)[0]!;
    expect(hello.toSession).toBe(""); // a HELLO names no session (it cannot know it yet)
    expect(sends(log).slice(1).every((s) => s.toSession != "")).toBe(true); // everything after does
  });

  test("glare cannot happen: an OFFER to the smaller id is refused and reported", () => {
    const { net, a, b } = meet();
    const bogus = { type: "send" as const, id: A, kind: SEALED.OFFER as 1, seq: 99, toSession: SA, body: new TextEncoder().encode(JSON.stringify({ sdp: "v=0" })) };
    const out = net.deliver(B, bogus, 10);
    expect(types(out)).toEqual(["error"]);
    expect(a.rejected).toBe(1);
    void b;
  });

  test("candidates not yet proven are capped; the relay naming thousands of ids makes one error, no connection", () => {
    const a = new Mesh(A, SA);
    const out: Action[] = [];
    // Ids below a's: a is the larger, so it says HELLO to each it keeps as a candidate.
    for (let i = 0; i < 2000; i++) out.push(...a.seen("0" + i.toString(16).padStart(15, "0"), LINK, 0));
    expect(out.filter((x) => x.type == "send").length).toBe(MAX_CANDIDATES); // HELLOs to those it keeps
    expect(out.filter((x) => x.type == "connect")).toEqual([]);
    expect(out.filter((x) => x.type == "error").length).toBe(1);
    expect(a.peers()).toEqual([]);
  });

  test("HELLO is resent while unanswered, until the candidate expires", () => {
    const b = new Mesh(B, SB);
    expect(kinds(b.seen(A, LINK, 0))).toEqual([SEALED.HELLO]);
    expect(kinds(b.tick(HELLO_EVERY - 1))).toEqual([]);
    expect(kinds(b.tick(HELLO_EVERY))).toEqual([SEALED.HELLO]);
    b.tick(CANDIDATE_TTL);
    expect(b.nextDeadline()).toBe(Infinity);
  });
});

describe("replays (a relay that records and resends sealed messages)", () => {
  test("every copy of every message, resent in order: all refused, counted, one error per peer", () => {
    const { net, a, b } = meet();
    const before = a.rejected + b.rejected;
    const errors: Action[] = [];
    for (const { from, a: s } of [...net.recorded]) errors.push(...net.deliver(from, s, 100));
    expect(a.rejected + b.rejected - before).toBe(net.recorded.length);
    expect(errors.filter((e) => e.type == "error").length).toBe(2); // one on each side
    expect(errors.filter((e) => e.type != "error")).toEqual([]);
  });

  test("a fake LEFT then JOINED, then the recorded relayed data again: refused (the sequence survives the member)", () => {
    const { net, a, b } = meet();
    // The pair never got a direct channel: after FALLBACK both sides go relayed.
    expect(types(a.tick(FALLBACK))).toEqual(["peer"]);
    b.tick(FALLBACK);
    const d1 = a.data(B, Uint8Array.of(0, 1))!, d2 = a.data(B, Uint8Array.of(0, 2))!;
    expect(types(net.deliver(A, d1 as any, FALLBACK))).toEqual(["data"]);
    expect(types(net.deliver(A, d2 as any, FALLBACK))).toEqual(["data"]);
    // The relay: LEFT (a's session there ended), JOINED again, then replays.
    expect(types(b.left(A, LINK, FALLBACK + 1))).toEqual(["gone"]);
    net.settle(B, b.seen(A, LINK, FALLBACK + 2), FALLBACK + 2);
    const rejected = b.rejected;
    for (const d of [d1, d2]) expect(net.deliver(A, d as any, FALLBACK + 3).filter((x) => x.type == "data")).toEqual([]);
    expect(b.rejected).toBe(rejected + 2);
  });

  test("a message sealed for another visit of the recipient (another session) does not open", () => {
    const { net, a } = meet();
    const b2 = new Mesh(B, "03".repeat(8)); // b left and joined again: a new session
    net.pages.set(B, b2);
    const offerToOldB = net.recorded.find((r) => r.from == A && r.a.kind == SEALED.OFFER)!.a;
    expect(types(net.deliver(A, offerToOldB, 50))).toEqual([]); // undecryptable, b2 had no member a yet
    expect(b2.rejected).toBe(1);
    void a;
  });
});

describe("paths: direct, the relay at 3 s, retries, switching back", () => {
  test("a direct channel with the right certificate: peer (direct), no fallback later", () => {
    const { a } = meet();
    expect(a.channelOpen(B, true, 100)).toEqual([{ type: "peer", id: B, path: "direct" }]);
    expect(a.tick(FALLBACK + 10)).toEqual([]);
    expect(a.path(B)).toBe("direct");
  });

  test("the wrong certificate on the direct channel: an identity error and the member is dropped", () => {
    const { a } = meet();
    const out = a.channelOpen(B, false, 100);
    expect(types(out)).toEqual(["error", "gone"]);
    expect(out[0]).toMatchObject({ code: "identity" });
    expect(a.peers()).toEqual([]);
  });

  test("no direct channel: relayed at exactly FALLBACK after the proof, then the offerer retries ICE every RETRY", () => {
    const { a, b } = meet();
    expect(a.tick(FALLBACK - 1)).toEqual([]);
    expect(a.tick(FALLBACK)).toEqual([{ type: "peer", id: B, path: "relayed" }]);
    expect(b.tick(FALLBACK)).toEqual([{ type: "peer", id: A, path: "relayed" }]);
    expect(a.tick(FALLBACK + RETRY - 1)).toEqual([]);
    expect(a.tick(FALLBACK + RETRY)).toEqual([{ type: "offer", id: B, restart: true }]);
    expect(b.tick(FALLBACK + RETRY)).toEqual([]); // only the offerer restarts
    // The retry gets through: direct again, a path event.
    expect(a.channelOpen(B, true, FALLBACK + RETRY + 5)).toEqual([{ type: "path", id: B, path: "direct" }]);
  });

  test("a direct path that goes disconnected for GRACE moves to the relay; reconnecting moves it back", () => {
    const { a } = meet();
    a.channelOpen(B, true, 100);
    expect(a.ice(B, "disconnected", 1000)).toEqual([]);
    expect(a.tick(1000 + GRACE - 1)).toEqual([]);
    const out = a.tick(1000 + GRACE);
    expect(out).toEqual([{ type: "path", id: B, path: "relayed" }, { type: "offer", id: B, restart: true }]);
    expect(a.ice(B, "connected", 5000)).toEqual([{ type: "path", id: B, path: "direct" }]);
  });

  test("relayed data while a direct path is up is refused (a key holder could forge it), unless it continues a message begun on the relay", () => {
    const { net, a, b } = meet();
    b.channelOpen(A, true, 100);
    const forged = a.data(B, Uint8Array.of(4, 1))!;
    const out = net.deliver(A, forged as any, 200);
    expect(types(out)).toEqual(["error"]);
    expect(out[0]).toMatchObject({ code: "relay" });
    b.relaying(A, true); // a relayed message was in progress when the path switched
    expect(types(net.deliver(A, a.data(B, Uint8Array.of(8, 1))! as any, 300))).toEqual(["data"]);
  });

  test("the relay saying a peer left while its direct channel is open changes nothing; the channel closing then drops it", () => {
    const { a } = meet();
    a.channelOpen(B, true, 100);
    expect(a.left(B, LINK, 200)).toEqual([]);
    expect(a.peers()).toEqual([B]);
    expect(a.channelClosed(B, 300)).toEqual([{ type: "gone", id: B, announced: true }]);
  });

  test("leaving: every member gone, announced ones with leave", () => {
    const { a } = meet();
    a.channelOpen(B, true, 100);
    expect(a.leave(200)).toEqual([{ type: "gone", id: B, announced: true }]);
    expect(a.peers()).toEqual([]);
  });
});
