// src/mesh.ts, the room's sans-IO mesh core, driven with a fake clock and a fake relay between
// pages: who offers, proof before cost, sessions and sequence numbers against replays, fallback to
// the relay at 3 s, retries, path switching, leaving, limits. No browser, no crypto: a message
// "opens" exactly when the shell's would (the recipient's session named in the AD, or zeros for HELLO).
import { describe, expect, test } from "bun:test";
import { Sealed } from "../../protocol/sealed.ts";
import { CANDIDATE_TTL, Do, FALLBACK, GRACE, HELLO_EVERY, HELLO_RATE, RETRY, createMesh as core, type Action } from "../../src/mesh.ts";

/** The core with each event's actions returned, in the order the room's shell would carry them out;
 *  next(now) is the deadline tick(now) returns (nothing is due at `now` where the tests ask). */
function createMesh(self: string, ses: string, nick = "") {
  const acts: Action[] = [];
  const m = core(self, ses, nick, (...a) => void acts.push(a));
  const collect =
    <A extends unknown[]>(f: (...x: A) => unknown) =>
    (...x: A): Action[] => (f(...x), acts.splice(0));
  return {
    ...m,
    seen: collect(m.seen),
    left: collect(m.left),
    bad: collect(m.bad),
    opened: collect(m.opened),
    local: collect(m.local),
    cand: collect(m.cand),
    chan: collect(m.chan),
    ice: collect(m.ice),
    tick: collect(m.tick),
    leave: collect(m.leave),
    close: collect(m.close),
    data: (id: string, f: Uint8Array) => (m.data(id, f) ? acts.splice(0)[0]! : null),
    next: (now: number) => m.tick(now),
  };
}
type Mesh = ReturnType<typeof createMesh>;

const LINK = { name: "relay-1" };
const NAMES = ["send", "connect", "offer", "answer", "remote", "candidate", "peer", "path", "data", "gone", "error"];
/** Actions by name, for readable expectations. */
const types = (acts: Action[]) => acts.map((a) => NAMES[a[0]]);
type Send = Extract<Action, [Do.SEND, ...unknown[]]>;
const sends = (acts: Action[]) => acts.filter((a): a is Send => a[0] === Do.SEND);
const kinds = (acts: Action[]) => sends(acts).map((a) => a[2]);

/** Two (or more) pages and the relay between them: what one sends arrives at the other, opened as the shell would. */
class Net {
  pages = new Map<string, Mesh>();
  /** Every sealed message that went through the relay (a hostile relay's recording). */
  recorded: { from: string; a: Send }[] = [];
  add(id: string, session: string) {
    const m = createMesh(id, session, "nick-" + id);
    this.pages.set(id, m);
    return m;
  }
  /** Deliver `a` (a send from `from`), as the relay would; returns what the recipient does. */
  deliver(from: string, a: Send, now: number): Action[] {
    const [, id, kind, seq, toSession, body] = a;
    const to = this.pages.get(id)!;
    const fresh = toSession === to.ses;
    if (toSession && !fresh) return to.bad(from, false); // sealed for another session: does not open
    return to.opened(from, LINK, { kind, seq, ses: this.pages.get(from)!.ses, body, fresh: kind !== Sealed.HELLO }, now);
  }
  /** Run actions of `who` until nothing more is sent: sends go through the relay; the offer/answer dance completes. */
  settle(who: string, acts: Action[], now: number, log: Action[] = []): Action[] {
    const queue: [string, Action][] = acts.map((a) => [who, a]);
    while (queue.length) {
      const [me, a] = queue.shift()!;
      log.push(a);
      const m = this.pages.get(me)!;
      if (a[0] === Do.SEND) {
        this.recorded.push({ from: me, a });
        for (const b of this.deliver(me, a, now)) queue.push([a[1], b]);
      } else if (a[0] === Do.OFFER) for (const b of m.local(a[1], Sealed.OFFER, "v=0 offer of " + me)) queue.push([me, b]);
      else if (a[0] === Do.ANSWER) for (const b of m.local(a[1], Sealed.ANSWER, "v=0 answer of " + me)) queue.push([me, b]);
    }
    return log;
  }
}

// Ids compare as hex strings: "a…" < "b…", so "a" offers to "b".
const A = "aaaaaaaaaaaaaaaa",
  B = "bbbbbbbbbbbbbbbb",
  SA = "01".repeat(8),
  SB = "02".repeat(8);

function meet(now = 0) {
  const net = new Net();
  const a = net.add(A, SA),
    b = net.add(B, SB);
  const log: Action[] = [];
  // The relay tells each of the other (MEMBERS to the newcomer b, JOINED to a).
  net.settle(A, a.seen(B, LINK, now), now, log);
  net.settle(B, b.seen(A, LINK, now), now, log);
  return { net, a, b, log };
}

describe("who offers, and proof before cost", () => {
  test("the relay naming an id costs a HELLO: no connection, no peer, nothing beyond the candidate's expiry", () => {
    const a = createMesh(A, SA);
    expect(kinds(a.seen(B, LINK, 0))).toEqual([Sealed.HELLO]);
    expect(types(a.seen(B, LINK, 1))).toEqual([]); // named again: nothing more
    expect(a.peers()).toEqual([]);
    expect(a.next(1)).toBe(HELLO_EVERY);
    a.tick(CANDIDATE_TTL); // forgotten, nothing else happened
    expect(a.next(CANDIDATE_TTL)).toBe(Infinity);
  });

  test("whoever the relay told first says HELLO, the other answers it with its own; the smaller id then offers", () => {
    const { log } = meet();
    expect(log.map((x) => (x[0] === Do.SEND ? `send:${x[2]}` : NAMES[x[0]]))).toEqual([
      "send:5", // a HELLO → b
      "send:5", // b: a proved itself; b proves itself back
      "connect",
      "offer",
      "send:1", // a: b proven, a is the smaller id: connect and offer
      "connect",
      "answer",
      "send:2", // b: the offer named b's session, so a is fresh
      "remote",
    ]);
    const hello = sends(log)[0]!;
    expect(hello[4]).toBe(""); // a HELLO names no session (it cannot know it yet)
    expect(
      sends(log)
        .slice(2)
        .every((s) => s[4] !== ""),
    ).toBe(true); // everything after the HELLOs does
  });

  test("glare cannot happen: an OFFER to the smaller id is refused and reported", () => {
    const { net, a, b } = meet();
    const bogus: Send = [Do.SEND, A, Sealed.OFFER as 1, 99, SA, new TextEncoder().encode(JSON.stringify({ sdp: "v=0" }))];
    const out = net.deliver(B, bogus, 10);
    expect(types(out)).toEqual(["error"]);
    expect(a.st.rejected).toBe(1);
    void b;
  });

  test("candidates are capped (the oldest goes), HELLOs rate-limited; thousands of invented ids: one error, no connection", () => {
    const a = createMesh(A, SA);
    const out: Action[] = [];
    for (let i = 0; i < 2000; i++) out.push(...a.seen("0" + i.toString(16).padStart(15, "0"), LINK, 0));
    expect(types(out).filter((x) => x === "send").length).toBe(2 * HELLO_RATE); // the burst, then they wait
    expect(types(out).filter((x) => x === "connect")).toEqual([]);
    expect(types(out).filter((x) => x === "error").length).toBe(1);
    // The newest are the ones kept: a peer the relay names now is not crowded out.
    out.length = 0;
    out.push(...a.seen(B, LINK, 2000));
    expect(kinds(out)).toEqual([Sealed.HELLO]);
    expect(a.peers()).toEqual([]);
  });

  test("a HELLO owed to a member that proved itself is sent even when candidate HELLOs are rate-limited", () => {
    const net = new Net();
    const a = net.add(A, SA),
      b = net.add(B, SB);
    // b spends its HELLO budget on invented ids…
    for (let i = 0; i < 500; i++) b.seen("0" + i.toString(16).padStart(15, "0"), LINK, 0);
    expect(kinds(b.seen(A, LINK, 0))).toEqual([]); // a's HELLO from b has to wait its turn
    // …then a's HELLO arrives: b owes a the proof it holds the key, and sends it at once.
    const log = net.settle(A, a.seen(B, LINK, 0), 0);
    expect(types(log)).toContain("remote"); // the pair got through offer and answer
  });

  test("HELLO is resent while unanswered, until the candidate expires", () => {
    const b = createMesh(B, SB);
    expect(kinds(b.seen(A, LINK, 0))).toEqual([Sealed.HELLO]);
    expect(kinds(b.tick(HELLO_EVERY - 1))).toEqual([]);
    expect(kinds(b.tick(HELLO_EVERY))).toEqual([Sealed.HELLO]);
    b.tick(CANDIDATE_TTL);
    expect(b.next(CANDIDATE_TTL)).toBe(Infinity);
  });
});

describe("replays (a relay that records and resends sealed messages)", () => {
  test("every copy of every message, resent in order: all refused, counted, one error per peer", () => {
    const { net, a, b } = meet();
    const before = a.st.rejected + b.st.rejected;
    const errors: Action[] = [];
    for (const { from, a: s } of [...net.recorded]) errors.push(...net.deliver(from, s, 100));
    expect(a.st.rejected + b.st.rejected - before).toBe(net.recorded.length);
    expect(types(errors)).toEqual(["error", "error"]); // one on each side, nothing else
  });

  test("a fake LEFT then JOINED, then the recorded relayed data again: refused (the sequence survives the member)", () => {
    const { net, a, b } = meet();
    // The pair never got a direct channel: after FALLBACK both sides go relayed.
    expect(types(a.tick(FALLBACK))).toEqual(["peer"]);
    b.tick(FALLBACK);
    const d1 = a.data(B, Uint8Array.of(0, 1)) as Send,
      d2 = a.data(B, Uint8Array.of(0, 2)) as Send;
    expect(types(net.deliver(A, d1, FALLBACK))).toEqual(["data"]);
    expect(types(net.deliver(A, d2, FALLBACK))).toEqual(["data"]);
    // The relay: LEFT (a's session there ended), JOINED again, then replays.
    expect(types(b.left(A, LINK))).toEqual(["gone"]);
    net.settle(B, b.seen(A, LINK, FALLBACK + 2), FALLBACK + 2);
    const rejected = b.st.rejected;
    for (const d of [d1, d2]) expect(types(net.deliver(A, d, FALLBACK + 3)).filter((x) => x === "data")).toEqual([]);
    expect(b.st.rejected).toBe(rejected + 2);
  });

  test("a message sealed for another visit of the recipient (another session) does not open", () => {
    const { net, a } = meet();
    const b2 = createMesh(B, "03".repeat(8)); // b left and joined again: a new session
    net.pages.set(B, b2);
    const offerToOldB = net.recorded.find((r) => r.from === A && r.a[2] === Sealed.OFFER)!.a;
    // Does not open: counted, not reported (after a crash and reload this is what a peer's pending
    // messages to the old visit look like); a HELLO that does not open is the wrong-password signal.
    expect(net.deliver(A, offerToOldB, 50)).toEqual([]);
    expect(b2.st.rejected).toBe(1);
    const out = b2.bad(A, true);
    expect(types(out)).toEqual(["error"]);
    expect(out[0]![2]).toBe("decrypt");
    void a;
  });
});

describe("a page that comes back under its kept id (a crash, then a reload)", () => {
  test("its new session's HELLO waits, silently, while the old direct path works; once that path is lost it is met again", () => {
    const { net, a, b } = meet();
    expect(a.chan(B, true, 10)).toEqual([[Do.PEER, B, "direct"]]);
    expect(b.chan(A, true, 10)).toEqual([[Do.PEER, A, "direct"]]);
    // a's page crashed: no goodbye, its direct channel looks open for now. It comes back, same id, a new session.
    const a2 = net.add(A, "09".repeat(8));
    // The relay let the new session take the id over: LEFT, then JOINED. The member stays (its channel is up).
    expect(b.left(A, LINK)).toEqual([]);
    expect(b.seen(A, LINK, 100)).toEqual([]);
    const rejected = b.st.rejected;
    const hello = a2.seen(B, LINK, 100);
    expect(kinds(hello)).toEqual([Sealed.HELLO]);
    // Held: not an error (a replayed HELLO of an old session looks the same), not a new connection.
    expect(net.deliver(A, hello[0] as Send, 100)).toEqual([]);
    expect(b.st.rejected).toBe(rejected + 1);
    expect(b.next(100)).toBeGreaterThan(100);
    expect(b.path(A)).toBe("direct");
    // The old path stops answering: after GRACE it is lost (to the relay), and the held HELLO is taken in the same tick.
    expect(b.ice(A, "disconnected", 200)).toEqual([]);
    expect(b.tick(200 + GRACE - 1)).toEqual([]);
    const out = b.tick(200 + GRACE);
    expect(out[0]).toEqual([Do.PATH, A, "relayed"]);
    const log = net.settle(B, out.slice(1), 200 + GRACE);
    // The old visit goes (leave), b proves itself to the new one, which (the smaller id) offers; b answers.
    expect(types(log)).toEqual(["gone", "send", "connect", "offer", "send", "connect", "answer", "send", "remote"]);
    expect(log[0]).toEqual([Do.GONE, A, true]);
    expect(b.chan(A, true, 300)).toEqual([[Do.PEER, A, "direct"]]);
    expect(a2.chan(B, true, 300)).toEqual([[Do.PEER, B, "direct"]]);
    void a;
  });

  test("a member only ever relayed keeps its session against a new one until the relay says it left", () => {
    const { net, b } = meet();
    expect(b.tick(FALLBACK)).toEqual([[Do.PEER, A, "relayed"]]);
    const a2 = net.add(A, "09".repeat(8));
    expect(net.deliver(A, a2.seen(B, LINK, FALLBACK)[0] as Send, FALLBACK)).toEqual([]);
    // Nothing to wait for on a path that has no ICE: held, not retried in a loop.
    expect(b.next(FALLBACK)).toBeGreaterThan(FALLBACK);
    expect(b.tick(FALLBACK + 1)).toEqual([]);
    // The relay's LEFT drops the old visit; the next HELLO of the new one is met.
    expect(types(b.left(A, LINK))).toEqual(["gone"]);
    const log = net.settle(B, b.seen(A, LINK, FALLBACK + 2), FALLBACK + 2);
    expect(types(log)).toEqual(["send", "connect", "offer", "send", "connect", "answer", "send", "remote"]);
  });
});

describe("paths: direct, the relay at 3 s, retries, switching back", () => {
  test("a direct channel with the right certificate: peer (direct), no fallback later", () => {
    const { a } = meet();
    expect(a.chan(B, true, 100)).toEqual([[Do.PEER, B, "direct"]]);
    expect(a.tick(FALLBACK + 10)).toEqual([]);
    expect(a.path(B)).toBe("direct");
  });

  test("the wrong certificate on the direct channel: an identity error and the member is dropped", () => {
    const { a } = meet();
    const out = a.chan(B, false, 100);
    expect(types(out)).toEqual(["error", "gone"]);
    expect(out[0]![2]).toBe("identity");
    expect(a.peers()).toEqual([]);
  });

  test("no direct channel: relayed at exactly FALLBACK after the proof, then the offerer retries ICE every RETRY", () => {
    const { a, b } = meet();
    expect(a.tick(FALLBACK - 1)).toEqual([]);
    expect(a.tick(FALLBACK)).toEqual([[Do.PEER, B, "relayed"]]);
    expect(b.tick(FALLBACK)).toEqual([[Do.PEER, A, "relayed"]]);
    expect(a.tick(FALLBACK + RETRY - 1)).toEqual([]);
    expect(a.tick(FALLBACK + RETRY)).toEqual([[Do.OFFER, B, true]]);
    expect(b.tick(FALLBACK + RETRY)).toEqual([]); // only the offerer restarts
    // The retry gets through: direct again, a path event.
    expect(a.chan(B, true, FALLBACK + RETRY + 5)).toEqual([[Do.PATH, B, "direct"]]);
  });

  test("a direct path that goes disconnected for GRACE moves to the relay; reconnecting moves it back", () => {
    const { a } = meet();
    a.chan(B, true, 100);
    expect(a.ice(B, "disconnected", 1000)).toEqual([]);
    expect(a.tick(1000 + GRACE - 1)).toEqual([]);
    expect(a.tick(1000 + GRACE)).toEqual([
      [Do.PATH, B, "relayed"],
      [Do.OFFER, B, true],
    ]);
    expect(a.ice(B, "connected", 5000)).toEqual([[Do.PATH, B, "direct"]]);
  });

  test("relayed data while a direct path is up is refused (a key holder could forge it), unless it continues a message begun on the relay", () => {
    const { net, a, b } = meet();
    b.chan(A, true, 100);
    const out = net.deliver(A, a.data(B, Uint8Array.of(4, 1)) as Send, 200);
    expect(types(out)).toEqual(["error"]);
    expect(out[0]![2]).toBe("relay");
    b.partial(A, true); // a relayed message was in progress when the path switched
    expect(types(net.deliver(A, a.data(B, Uint8Array.of(8, 1)) as Send, 300))).toEqual(["data"]);
  });

  test("the relay saying a peer left while its direct channel is open changes nothing; the channel closing then drops it", () => {
    const { a } = meet();
    a.chan(B, true, 100);
    expect(a.left(B, LINK)).toEqual([]);
    expect(a.peers()).toEqual([B]);
    expect(a.chan(B, undefined, 300)).toEqual([[Do.GONE, B, true]]);
  });

  test("leaving: every member gone, announced ones with leave", () => {
    const { a } = meet();
    a.chan(B, true, 100);
    expect(a.leave()).toEqual([[Do.GONE, B, true]]);
    expect(a.peers()).toEqual([]);
  });
});
