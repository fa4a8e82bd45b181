// relay/router.ts: room membership and frame routing, driven directly with decoded frames.
import { describe, expect, test } from "bun:test";
import { Router, type RouteOut } from "../../relay/router.ts";
import { E, T, decode, encode, type Frame } from "../../protocol/frames.ts";

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const topicA = fill(16, 0xaa),
  topicB = fill(16, 0xbb);
const idOf = (n: number) => fill(8, n);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const join = (topic: Uint8Array, id: Uint8Array): Frame => ({ t: T.JOIN, topic, id });
const leave = (topic: Uint8Array): Frame => ({ t: T.LEAVE, topic });
const send = (topic: Uint8Array, to: Uint8Array, data: Uint8Array): Frame => ({ t: T.SEND, topic, to, data });
const bcast = (topic: Uint8Array, data: Uint8Array): Frame => ({ t: T.BCAST, topic, data });

/** Each output as [session key, hex of the encoded frame], so whole results compare exactly. */
const flat = (out: RouteOut[]) => out.map((o) => [o.key, hex(o.data)]);
const enc = (f: Frame) => hex(encode(f));

const mk = (roomsPerSession = 16, membersPerRoom = 64) => new Router({ roomsPerSession, membersPerRoom });

describe("JOIN", () => {
  test("first member gets an empty MEMBERS and nobody else hears anything", () => {
    const r = mk();
    const res = r.handle("a", join(topicA, idOf(1)));
    expect(res.error).toBeUndefined();
    expect(flat(res.out)).toEqual([["a", enc({ t: T.MEMBERS, topic: topicA, ids: [] })]]);
    expect(res.out[0]!.data.length).toBe(17);
    expect(r.stats()).toEqual({ rooms: 1, memberships: 1 });
  });

  test("later members get MEMBERS with the others; the others get JOINED", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    const res2 = r.handle("b", join(topicA, idOf(2)));
    expect(flat(res2.out)).toEqual([
      ["a", enc({ t: T.JOINED, topic: topicA, id: idOf(2) })],
      ["b", enc({ t: T.MEMBERS, topic: topicA, ids: [idOf(1)] })],
    ]);
    const res3 = r.handle("c", join(topicA, idOf(3)));
    expect(flat(res3.out)).toEqual([
      ["a", enc({ t: T.JOINED, topic: topicA, id: idOf(3) })],
      ["b", enc({ t: T.JOINED, topic: topicA, id: idOf(3) })],
      ["c", enc({ t: T.MEMBERS, topic: topicA, ids: [idOf(1), idOf(2)] })],
    ]);
    // Byte for byte: 0x12, topic, then the ids in join order.
    expect(hex(res3.out[2]!.data)).toBe("12" + "aa".repeat(16) + "01".repeat(8) + "02".repeat(8));
    expect(r.stats()).toEqual({ rooms: 1, memberships: 3 });
  });

  test("re-joining with the same id is idempotent: MEMBERS again, no JOINED to others", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    r.handle("b", join(topicA, idOf(2)));
    const res = r.handle("b", join(topicA, idOf(2)));
    expect(res.error).toBeUndefined();
    expect(flat(res.out)).toEqual([["b", enc({ t: T.MEMBERS, topic: topicA, ids: [idOf(1)] })]]);
    expect(r.stats()).toEqual({ rooms: 1, memberships: 2 });
  });

  test("re-joining the same room under another id → ID_TAKEN, membership unchanged", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    const res = r.handle("a", join(topicA, idOf(9)));
    expect(res.out).toEqual([]);
    expect(res.error?.code).toBe(E.ID_TAKEN);
    expect(res.error?.message).toBe("already in this room under another id");
    expect(r.stats()).toEqual({ rooms: 1, memberships: 1 });
    // The original id still routes.
    r.handle("b", join(topicA, idOf(2)));
    expect(flat(r.handle("b", send(topicA, idOf(1), fill(1, 7))).out)).toEqual([
      ["a", enc({ t: T.DELIVER, topic: topicA, from: idOf(2), bcast: false, data: fill(1, 7) })],
    ]);
  });

  test("another session using a taken id → ID_TAKEN, the first keeps it", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    const res = r.handle("b", join(topicA, idOf(1)));
    expect(res.out).toEqual([]);
    expect(res.error).toEqual({ code: E.ID_TAKEN, message: "peer id already in this room" });
    expect(r.stats()).toEqual({ rooms: 1, memberships: 1 });
    // The same id in another room is fine.
    expect(r.handle("b", join(topicB, idOf(1))).error).toBeUndefined();
    expect(r.stats()).toEqual({ rooms: 2, memberships: 2 });
  });

  test("a session that owns the id (its certificate names it) takes it over: LEFT then JOINED to the rest, the old session is out", () => {
    const r = new Router({ roomsPerSession: 16, membersPerRoom: 2, membersPerIp: 1 });
    r.handle("old", join(topicA, idOf(1)), "h1");
    r.handle("c", join(topicA, idOf(3)), "h3");
    // The room is full (2) and h1 may hold one member: the takeover fits anyway, it replaces.
    const res = r.handle("new", join(topicA, idOf(1)), "h1", true);
    expect(res.error).toBeUndefined();
    expect(res.replaced).toBe("old");
    expect(flat(res.out)).toEqual([
      ["c", enc({ t: T.LEFT, topic: topicA, id: idOf(1) })],
      ["c", enc({ t: T.JOINED, topic: topicA, id: idOf(1) })],
      ["new", enc({ t: T.MEMBERS, topic: topicA, ids: [idOf(3)] })],
    ]);
    expect(r.stats()).toEqual({ rooms: 1, memberships: 2 });
    // Traffic to the id reaches the new session; the old one is no longer in the room.
    expect(flat(r.handle("c", send(topicA, idOf(1), fill(1, 7))).out).map(([k]) => k)).toEqual(["new"]);
    expect(r.handle("old", bcast(topicA, fill(1, 7))).error?.code).toBe(E.NOT_JOINED);
    // The old session going away later takes nothing with it.
    expect(r.drop("old")).toEqual([]);
    expect(r.stats()).toEqual({ rooms: 1, memberships: 2 });
    // From another address at its cap, a takeover is refused and the holder stays.
    r.handle("d", join(topicB, idOf(4)), "h4");
    r.handle("e", join(topicB, idOf(5)), "h1");
    expect(r.handle("f", join(topicB, idOf(4)), "h1", true).error?.code).toBe(E.MEMBERS);
    expect(flat(r.handle("e", send(topicB, idOf(4), fill(1, 7))).out).map(([k]) => k)).toEqual(["d"]);
  });

  test("roomsPerSession → ROOMS; rejoining a room already in does not count against it", () => {
    const r = mk(2, 64);
    const t = (n: number) => fill(16, n);
    expect(r.handle("a", join(t(1), idOf(1))).error).toBeUndefined();
    expect(r.handle("a", join(t(2), idOf(1))).error).toBeUndefined();
    const res = r.handle("a", join(t(3), idOf(1)));
    expect(res.out).toEqual([]);
    expect(res.error).toEqual({ code: E.ROOMS, message: "at most 2 rooms per session" });
    expect(r.handle("a", join(t(2), idOf(1))).error).toBeUndefined();
    expect(r.stats()).toEqual({ rooms: 2, memberships: 2 });
    // Leaving frees a slot.
    r.handle("a", leave(t(1)));
    expect(r.handle("a", join(t(3), idOf(1))).error).toBeUndefined();
    expect(r.stats()).toEqual({ rooms: 2, memberships: 2 });
  });

  test("membersPerRoom → MEMBERS; nobody in the room hears about the refused joiner", () => {
    const r = mk(16, 3);
    for (let i = 1; i <= 3; i++) expect(r.handle("s" + i, join(topicA, idOf(i))).error).toBeUndefined();
    const res = r.handle("s4", join(topicA, idOf(4)));
    expect(res.out).toEqual([]);
    expect(res.error).toEqual({ code: E.MEMBERS, message: "room is full (3 members)" });
    expect(r.stats()).toEqual({ rooms: 1, memberships: 3 });
    r.handle("s2", leave(topicA));
    expect(r.handle("s4", join(topicA, idOf(4))).error).toBeUndefined();
  });

  test("the router keeps its own copy of topic and id (caller buffers may be reused)", () => {
    const r = mk();
    const buf = encode(join(topicA, idOf(1)));
    r.handle("a", decode(buf)!);
    buf.fill(0xee); // decode() returned views into buf
    const res = r.handle("b", join(topicA, idOf(2)));
    expect(flat(res.out)).toEqual([
      ["a", enc({ t: T.JOINED, topic: topicA, id: idOf(2) })],
      ["b", enc({ t: T.MEMBERS, topic: topicA, ids: [idOf(1)] })],
    ]);
    // DELIVER and LEFT are built from what the router stored for 'a'.
    expect(flat(r.handle("a", bcast(topicA, fill(1, 5))).out)).toEqual([
      ["b", enc({ t: T.DELIVER, topic: topicA, from: idOf(1), bcast: true, data: fill(1, 5) })],
    ]);
    expect(flat(r.drop("a"))).toEqual([["b", enc({ t: T.LEFT, topic: topicA, id: idOf(1) })]]);
  });
});

describe("SEND and BCAST", () => {
  const three = () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    r.handle("b", join(topicA, idOf(2)));
    r.handle("c", join(topicA, idOf(3)));
    return r;
  };

  test("SEND goes to the one addressed peer as a direct DELIVER from the sender id", () => {
    const r = three();
    const data = Uint8Array.from([1, 2, 3]);
    const res = r.handle("a", send(topicA, idOf(3), data));
    expect(res.error).toBeUndefined();
    expect(flat(res.out)).toEqual([["c", enc({ t: T.DELIVER, topic: topicA, from: idOf(1), bcast: false, data })]]);
    expect(hex(res.out[0]!.data)).toBe("17" + "aa".repeat(16) + "01".repeat(8) + "00" + "010203");
  });

  test("BCAST goes to every other member, not back to the sender", () => {
    const r = three();
    const data = Uint8Array.from([9]);
    const res = r.handle("b", bcast(topicA, data));
    const d = enc({ t: T.DELIVER, topic: topicA, from: idOf(2), bcast: true, data });
    expect(flat(res.out)).toEqual([
      ["a", d],
      ["c", d],
    ]);
    expect(d).toBe("17" + "aa".repeat(16) + "02".repeat(8) + "01" + "09");
  });

  test("SEND to an id not in the room → NO_PEER", () => {
    const r = three();
    const res = r.handle("a", send(topicA, idOf(7), fill(2, 0)));
    expect(res.out).toEqual([]);
    expect(res.error).toEqual({ code: E.NO_PEER, message: "no such peer in this room" });
  });

  test("SEND or BCAST without joining → NOT_JOINED", () => {
    const r = three();
    const cases: [string, Frame][] = [
      ["z", send(topicA, idOf(1), fill(1, 0))], // z never joined anything
      ["z", bcast(topicA, fill(1, 0))],
      ["a", send(topicB, idOf(1), fill(1, 0))], // a is in topicA, not topicB
      ["a", bcast(topicB, fill(1, 0))],
    ];
    for (const [key, f] of cases) expect(r.handle(key, f)).toEqual({ out: [], error: { code: E.NOT_JOINED, message: "not in this room" } });
  });

  test("a member alone in a room BCASTs to nobody, without error", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    expect(r.handle("a", bcast(topicA, fill(3, 3)))).toEqual({ out: [] });
  });
});

describe("LEAVE and drop", () => {
  test("LEAVE tells the rest LEFT and removes an emptied room", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    r.handle("b", join(topicA, idOf(2)));
    const res = r.handle("a", leave(topicA));
    expect(res.error).toBeUndefined();
    expect(flat(res.out)).toEqual([["b", enc({ t: T.LEFT, topic: topicA, id: idOf(1) })]]);
    expect(hex(res.out[0]!.data)).toBe("14" + "aa".repeat(16) + "01".repeat(8));
    expect(r.stats()).toEqual({ rooms: 1, memberships: 1 });
    expect(r.handle("b", leave(topicA))).toEqual({ out: [] });
    expect(r.stats()).toEqual({ rooms: 0, memberships: 0 });
    // After leaving, sending is NOT_JOINED.
    expect(r.handle("a", bcast(topicA, fill(1, 1))).error?.code).toBe(E.NOT_JOINED);
  });

  test("LEAVE of a room never joined is a silent no-op", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    expect(r.handle("b", leave(topicA))).toEqual({ out: [] });
    expect(r.handle("a", leave(topicB))).toEqual({ out: [] });
    expect(r.stats()).toEqual({ rooms: 1, memberships: 1 });
  });

  test("drop() leaves every room and tells each room LEFT", () => {
    const r = mk();
    r.handle("a", join(topicA, idOf(1)));
    r.handle("a", join(topicB, idOf(5)));
    r.handle("b", join(topicA, idOf(2)));
    r.handle("c", join(topicB, idOf(3)));
    r.handle("d", join(topicB, idOf(4)));
    expect(r.stats()).toEqual({ rooms: 2, memberships: 5 });
    const out = r.drop("a");
    expect(flat(out)).toEqual([
      ["b", enc({ t: T.LEFT, topic: topicA, id: idOf(1) })],
      ["c", enc({ t: T.LEFT, topic: topicB, id: idOf(5) })],
      ["d", enc({ t: T.LEFT, topic: topicB, id: idOf(5) })],
    ]);
    expect(r.stats()).toEqual({ rooms: 2, memberships: 3 });
    expect(r.drop("a")).toEqual([]);
    expect(r.drop("nobody")).toEqual([]);
    // The dropped session's id is free again.
    expect(r.handle("e", join(topicA, idOf(1))).error).toBeUndefined();
  });

  test("a non-room frame → UNEXPECTED", () => {
    const r = mk();
    expect(r.handle("a", { t: T.PING, data: new Uint8Array(0) })).toEqual({
      out: [],
      error: { code: E.UNEXPECTED, message: "not a room frame" },
    });
  });
});
