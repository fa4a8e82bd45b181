// relay/core.ts: the sans-IO core driven with synthesized ICE checks, DTLS-range bytes, channel
// events and frames, over a fake clock. No sockets. Every frame the core emits is decoded with protocol/frames.ts.
import { describe, expect, test } from "bun:test";
import { RelayCore, RECORDS_MORE_MS, addrKey, clamp, type Action, type Addr } from "../../relay/core.ts";
import { DEFAULT_LIMITS, type Limits } from "../../relay/limits.ts";
import {
  ATTR,
  CLASS,
  METHOD_BINDING,
  checkIntegrity,
  decodeXorAddress,
  encodeStun,
  getAttr,
  parseStun,
  xorAddress,
} from "../../relay/stun.ts";
import { E, T, decode, encode, type Frame } from "../../protocol/frames.ts";
import { clientHello, cookieOf as cookieIn } from "../helpers/attack.ts";

/** The cookie in a HelloVerifyRequest record (checked to be one). */
function cookieOf(hvr: Uint8Array): Uint8Array {
  expect(hvr[0]).toBe(22);
  expect(hvr[13]).toBe(3); // hello_verify_request
  return cookieIn(hvr);
}

const te = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// Deterministic randomness (xorshift32), so failures reproduce.
let seed = 0x12345678;
const rnd = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), seed >>> 0);
const ICE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** A fresh 32-ice-char ufrag (the browser uses it as ufrag and pwd). */
const ufrag = () => Array.from({ length: 32 }, () => ICE[rnd() % 64]).join("");
const bytes = (n: number) => Uint8Array.from({ length: n }, () => rnd() & 255);

/** A browser's ICE connectivity check: Binding request, USERNAME "U:U", ICE-CONTROLLING, PRIORITY, MESSAGE-INTEGRITY(U), FINGERPRINT. */
function check(u: string, key = u): { buf: Uint8Array; txid: Uint8Array } {
  const txid = bytes(12);
  const buf = encodeStun(
    {
      method: METHOD_BINDING,
      cls: CLASS.REQUEST,
      txid,
      attrs: [
        { type: ATTR.USERNAME, value: te.encode(`${u}:${u}`) },
        { type: ATTR.ICE_CONTROLLING, value: bytes(8) },
        { type: ATTR.PRIORITY, value: Uint8Array.of(0x6e, 0x7f, 0x1e, 0xff) },
      ],
    },
    { integrityKey: te.encode(key), fingerprint: true },
  );
  return { buf, txid };
}

/** A plain STUN Binding request (a browser using the relay as its stun: server). */
const plainBinding = () => {
  const txid = bytes(12);
  return { txid, buf: encodeStun({ method: METHOD_BINDING, cls: CLASS.REQUEST, txid, attrs: [] }, { fingerprint: true }) };
};

/** A success reply for `txid` whose XOR-MAPPED-ADDRESS is `from`, integrity-protected by `u` when given. */
function expectReply(data: Uint8Array, txid: Uint8Array, from: Addr, u?: string) {
  const m = parseStun(data);
  expect(m).not.toBeNull();
  expect(m!.method).toBe(METHOD_BINDING);
  expect(m!.cls).toBe(CLASS.SUCCESS);
  expect(hex(m!.txid)).toBe(hex(txid));
  const xa = decodeXorAddress(getAttr(m!, ATTR.XOR_MAPPED_ADDRESS)!, m!.txid);
  expect(xa).toEqual({ address: from.address, port: from.port, family: from.address.includes(":") ? 6 : 4 });
  if (u === undefined) expect(m!.integrityOffset).toBe(-1);
  else {
    expect(checkIntegrity(m!, te.encode(u))).toBe(true);
    expect(checkIntegrity(m!, te.encode(u.slice(1) + "x"))).toBe(false);
  }
  expect(m!.fingerprintOffset).toBeGreaterThan(0);
}

const types = (acts: Action[]) => acts.map((a) => a.type);
const closes = (acts: Action[]) => acts.flatMap((a) => (a.type === "close" ? [[a.key, a.reason]] : []));
/** Every 'frame' action as [key, decoded frame], with byte arrays shown as hex. */
const frames = (acts: Action[]) => acts.flatMap((a) => (a.type === "frame" ? [[a.key, show(decode(a.data))]] : []));
const show = (f: Frame | null) => JSON.parse(JSON.stringify(f, (_k, v) => (v instanceof Uint8Array ? hex(v) : v)));
const errFrame = (code: number, message: string) => show({ t: T.ERROR, code, message });

const A: Addr = { address: "203.0.113.7", port: 50001 };
const B: Addr = { address: "198.51.100.9", port: 40002 };
const at = (address: string, port: number): Addr => ({ address, port });

const HELLO = encode({ t: T.HELLO, min: 1, max: 1 });

const sent = (acts: Action[]) => (acts[0] as Extract<Action, { type: "send" }>).data;

/** What a browser does: a valid check (answered, no state), a first ClientHello (answered with a
 *  HelloVerifyRequest, no state), then the ClientHello with the cookie: returns the core's actions for that. */
function attempt(core: RelayCore, from: Addr, now: number, u = ufrag(), random = bytes(32)) {
  expect(types(core.handleDatagram(check(u).buf, from, now))).toEqual(["send"]);
  const hvr = core.handleDatagram(clientHello(random), from, now);
  expect(types(hvr)).toEqual(["send"]);
  return core.handleDatagram(clientHello(random, cookieOf(sent(hvr))), from, now);
}

/** Create a session from `from` the way a browser does; returns its key and ufrag. */
function create(core: RelayCore, from: Addr, now: number, u = ufrag()) {
  const acts = attempt(core, from, now, u);
  expect(types(acts)).toEqual(["open", "dtls", "event"]);
  return { key: addrKey(from), u };
}

/** Create, open the channel and say HELLO: a session that may use rooms. */
function ready(core: RelayCore, from: Addr, now: number) {
  const s = create(core, from, now);
  core.handleOpen(s.key, now);
  const acts = core.handleMessage(s.key, HELLO, now);
  expect(frames(acts)).toEqual([
    [
      s.key,
      show({
        t: T.WELCOME,
        version: 1,
        maxFrame: core.limits.maxFrame,
        rate: clamp(core.limits.relayRate, 2 ** 32 - 1),
        msgRate: clamp(core.limits.msgRate, 65535),
      }),
    ],
  ]);
  return s;
}

describe("addrKey", () => {
  test("IPv4 as a:p, IPv6 bracketed", () => {
    expect(addrKey(A)).toBe("203.0.113.7:50001");
    expect(addrKey(at("2001:db8::1", 443))).toBe("[2001:db8::1]:443");
  });
});

describe("demux, ICE checks and the cookie exchange", () => {
  test("a valid check is answered (integrity with the ufrag) and creates no state", () => {
    const core = new RelayCore();
    const u = ufrag();
    const { buf, txid } = check(u);
    const acts = core.handleDatagram(buf, A, 1000);
    expect(types(acts)).toEqual(["send"]);
    expect((acts[0] as Extract<Action, { type: "send" }>).to).toEqual(A);
    expectReply(sent(acts), txid, A, u);
    expect(core.size).toBe(0);
    expect(core.handshaking).toBe(0);
    expect(core.counters["stun.check"]).toBe(1);
  });

  test("checks with one key from an address that never made a session are answered for handshakeTimeoutMs, then no more (the relay restarted under a live ICE path: its ICE must notice)", () => {
    const core = new RelayCore({ handshakeTimeoutMs: 10000 });
    const u = ufrag();
    for (let t = 0; t <= 10000; t += 2500) expect(types(core.handleDatagram(check(u).buf, A, t))).toEqual(["send"]);
    expect(core.handleDatagram(check(u).buf, A, 12500)).toEqual([]);
    expect(core.counters["drop.stun.no-session"]).toBe(1);
    // Another key from that address (a new connection reusing the port) starts over, and so does
    // every other address; a browser that goes on to its handshake is served as always.
    const v = ufrag();
    expect(types(core.handleDatagram(check(v).buf, A, 12600))).toEqual(["send"]);
    expect(types(core.handleDatagram(check(u).buf, B, 12600))).toEqual(["send"]);
    const hvr = core.handleDatagram(clientHello(bytes(32)), A, 12700);
    expect(types(core.handleDatagram(clientHello(bytes(32), cookieOf(sent(hvr))), A, 12700))).toEqual(["open", "dtls", "event"]);
  });

  test("a first ClientHello gets a HelloVerifyRequest no larger than it, echoing its record sequence; no state", () => {
    const core = new RelayCore();
    const ch = clientHello(bytes(32), undefined, undefined, 7);
    const acts = core.handleDatagram(ch, A, 0);
    expect(types(acts)).toEqual(["send"]);
    const hvr = sent(acts);
    expect(hvr.length).toBeLessThanOrEqual(ch.length);
    expect(Array.from(hvr.subarray(0, 11))).toEqual([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 7]);
    expect(cookieOf(hvr).length).toBe(16);
    expect(core.size).toBe(0);
    expect(core.counters["dtls.hello-verify"]).toBe(1);
  });

  test("a ClientHello with the cookie creates the session: open, then the datagram to its adapter", () => {
    const core = new RelayCore();
    const random = bytes(32);
    const hvr = sent(core.handleDatagram(clientHello(random), A, 0));
    const ch2 = clientHello(random, cookieOf(hvr));
    const acts = core.handleDatagram(ch2, A, 10);
    expect(types(acts)).toEqual(["open", "dtls", "event"]);
    expect(acts[0]).toEqual({ type: "open", key: "203.0.113.7:50001", from: A });
    expect(acts[1]).toEqual({ type: "dtls", key: "203.0.113.7:50001", data: ch2 });
    expect(core.size).toBe(1);
    expect(core.handshaking).toBe(1);
    expect(core.counters["sessions.created"]).toBe(1);
  });

  test("only a first fragment is needed: the cookie sits early in the hello (Chromium fragments its 1.4 KB hello)", () => {
    const core = new RelayCore();
    const random = bytes(32);
    const hvr = sent(core.handleDatagram(clientHello(random, undefined, 80), A, 0));
    expect(types(core.handleDatagram(clientHello(random, cookieOf(hvr), 80), A, 0))).toEqual(["open", "dtls", "event"]);
  });

  test("a cookie made for another address or port, a stale one, or a forged one creates nothing", () => {
    const core = new RelayCore();
    const random = bytes(32);
    const cookie = cookieOf(sent(core.handleDatagram(clientHello(random), A, 0)));
    // Another port, another IP: a new HelloVerifyRequest, no session.
    for (const from of [at(A.address, A.port + 1), B])
      expect(types(core.handleDatagram(clientHello(random, cookie), from, 0))).toEqual(["send"]);
    // The same address 10 s later (two 5-second periods): stale.
    expect(types(core.handleDatagram(clientHello(random, cookie), A, 10_001))).toEqual(["send"]);
    const forged = cookie.slice();
    forged[9] ^= 1;
    expect(types(core.handleDatagram(clientHello(random, forged), A, 0))).toEqual(["send"]);
    expect(core.size).toBe(0);
    expect(core.counters["dtls.bad-cookie"]).toBe(4);
    // Within its period and the next it works.
    expect(types(core.handleDatagram(clientHello(random, cookie), A, 4_999))).toEqual(["open", "dtls", "event"]);
  });

  test("the open action carries a copy of the address, not the caller object", () => {
    const core = new RelayCore();
    const from = { ...A };
    const acts = attempt(core, from, 0);
    from.port = 1;
    expect((acts[0] as Extract<Action, { type: "open" }>).from).toEqual(A);
  });

  test("the session's own check only refreshes; a check with another ufrag is answered but never touches it", () => {
    const core = new RelayCore({ idleTimeoutMs: 30000 });
    const { key, u } = create(core, A, 0);
    core.handleOpen(key, 0);
    const { buf, txid } = check(u);
    const acts = core.handleDatagram(buf, A, 5000);
    expect(types(acts)).toEqual(["send"]);
    expectReply(sent(acts), txid, A, u);
    // A forged check from the same ip:port with the attacker's own key: answered, nothing closed.
    const evil = ufrag();
    const e = core.handleDatagram(check(evil).buf, A, 6000);
    expect(types(e)).toEqual(["send"]);
    expect(core.size).toBe(1);
    expect(core.counters["sessions.closed.replaced"]).toBeUndefined();
    // Nor does it keep the session alive: only the session's own key does.
    for (let t = 7000; t <= 36000; t += 1000) core.handleDatagram(check(evil).buf, A, t);
    expect(closes(core.tick(35001))).toEqual([[key, "idle"]]);
  });

  test("a ClientHello with a valid cookie and a new random from a session's address replaces it (the browser started over)", () => {
    const core = new RelayCore();
    const { key } = create(core, A, 0);
    core.handleOpen(key, 10);
    const acts = attempt(core, A, 7000);
    expect(types(acts)).toEqual(["close", "event", "open", "dtls", "event"]);
    expect(acts[0]).toEqual({ type: "close", key, reason: "replaced" });
    expect(core.size).toBe(1);
    expect(core.handshaking).toBe(1);
    expect(core.counters["sessions.closed.replaced"]).toBe(1);
  });

  test("a retransmitted ClientHello (same random) goes to its own session; without a cookie it only gets a HelloVerifyRequest", () => {
    const core = new RelayCore();
    const random = bytes(32);
    const cookie = cookieOf(sent(core.handleDatagram(clientHello(random), A, 0)));
    const ch2 = clientHello(random, cookie);
    core.handleDatagram(ch2, A, 0);
    expect(core.handleDatagram(ch2, A, 100)).toEqual([{ type: "dtls", key: addrKey(A), data: ch2 }]);
    expect(types(core.handleDatagram(clientHello(random), A, 200))).toEqual(["send"]);
    expect(core.size).toBe(1);
    expect(core.counters["sessions.created"]).toBe(1);
    // A handshake slowed by loss outlasts its cookie (valid 5-10 s): its retransmitted hello still
    // goes to its session, not into another cookie exchange the browser would never finish.
    expect(core.handleDatagram(ch2, A, 30_000)).toEqual([{ type: "dtls", key: addrKey(A), data: ch2 }]);
    // Another client random with that stale cookie is still refused (a HelloVerifyRequest).
    expect(types(core.handleDatagram(clientHello(bytes(32), cookie), A, 30_000))).toEqual(["send"]);
  });

  test("a check from another port of the same IP is another session", () => {
    const core = new RelayCore();
    create(core, A, 0);
    create(core, at(A.address, A.port + 1), 0);
    expect(core.size).toBe(2);
  });

  test("IPv6 sources work and are keyed with brackets", () => {
    const core = new RelayCore();
    const from = at("2001:db8::7", 9999);
    const u = ufrag();
    const { buf, txid } = check(u);
    expectReply(sent(core.handleDatagram(buf, from, 0)), txid, from, u);
    const acts = attempt(core, from, 0, u);
    expect(acts[0]).toEqual({ type: "open", key: "[2001:db8::7]:9999", from });
  });

  test("DTLS-range bytes (20..63) from an address with no session are dropped and counted", () => {
    const core = new RelayCore();
    for (let b = 20; b <= 63; b++) expect(core.handleDatagram(Uint8Array.of(b, 0xfe, 0xfd, 0, 0), A, 0)).toEqual([]);
    expect(core.counters["drop.dtls-no-session"]).toBe(44);
    expect(core.size).toBe(0);
  });

  test("a ClientHello too short to hold a HelloVerifyRequest gets none (no amplification)", () => {
    const core = new RelayCore();
    const ch = clientHello(bytes(32), undefined, 35); // version, random and an empty session id: no cookie field yet
    expect(core.handleDatagram(ch, A, 0)).toEqual([]);
    expect(core.counters["drop.dtls-no-session"]).toBe(1);
    const ch2 = clientHello(bytes(32), undefined, 36); // ends right after the cookie length: 61 bytes
    const acts = core.handleDatagram(ch2, A, 0);
    expect(types(acts)).toEqual(["send"]);
    expect(sent(acts).length).toBeLessThanOrEqual(ch2.length);
    expect(core.size).toBe(0);
  });

  test("DTLS-range bytes from a session go to its adapter unchanged", () => {
    const core = new RelayCore();
    const { key } = create(core, A, 0);
    for (const b of [20, 22, 23, 63]) {
      const d = Uint8Array.of(b, 0xfe, 0xfd, 1, 2, 3);
      const acts = core.handleDatagram(d, A, 100);
      expect(acts).toEqual([{ type: "dtls", key, data: d }]);
      expect((acts[0] as Extract<Action, { type: "dtls" }>).data).toBe(d);
    }
    // Another address gets nothing from this session.
    expect(core.handleDatagram(Uint8Array.of(22, 0xfe, 0xfd), B, 100)).toEqual([]);
    expect(core.counters["drop.dtls-no-session"]).toBe(1);
  });

  test("first bytes 4..19 and 64..255 are dropped and counted, with or without a session", () => {
    const core = new RelayCore();
    const { u } = create(core, A, 0);
    let n = 0;
    for (let b = 4; b < 256; b++) {
      if (b >= 20 && b <= 63) continue;
      expect(core.handleDatagram(Uint8Array.of(b, 1, 2, 3), A, 10)).toEqual([]);
      expect(core.handleDatagram(Uint8Array.of(b), B, 10)).toEqual([]);
      n += 2;
    }
    expect(n).toBe(2 * (16 + 192));
    expect(core.counters["drop.not-stun-or-dtls"]).toBe(n);
    // The session is untouched.
    expect(core.size).toBe(1);
    expect(types(core.handleDatagram(check(u).buf, A, 20))).toEqual(["send"]);
  });

  test("an empty datagram is dropped and counted", () => {
    const core = new RelayCore();
    expect(core.handleDatagram(new Uint8Array(0), A, 0)).toEqual([]);
    expect(core.counters["drop.empty"]).toBe(1);
  });

  test("a plain Binding request (no USERNAME) gets a reply and creates no session", () => {
    const core = new RelayCore();
    const { buf, txid } = plainBinding();
    const acts = core.handleDatagram(buf, B, 0);
    expect(types(acts)).toEqual(["send"]);
    expect((acts[0] as Extract<Action, { type: "send" }>).to).toEqual(B);
    expectReply(sent(acts), txid, B);
    expect(core.size).toBe(0);
    expect(core.counters["stun.binding"]).toBe(1);
    expect(core.counters["sessions.created"]).toBeUndefined();
  });

  test("a check with a wrong MESSAGE-INTEGRITY gets a 401 and creates no session", () => {
    const core = new RelayCore();
    const u = ufrag();
    const acts = core.handleDatagram(check(u, ufrag()).buf, A, 0);
    expect(types(acts)).toEqual(["send"]);
    const m = parseStun(sent(acts))!;
    expect(m.cls).toBe(CLASS.ERROR);
    const ec = getAttr(m, ATTR.ERROR_CODE)!;
    expect(ec[2]! * 100 + ec[3]!).toBe(401);
    expect(core.counters["drop.stun.bad-integrity"]).toBe(1);
    expect(core.size).toBe(0);
  });

  test("STUN-range junk is ignored and counted under its reason", () => {
    const core = new RelayCore();
    expect(core.handleDatagram(Uint8Array.of(0, 1, 0, 0), A, 0)).toEqual([]);
    const notCookie = check(ufrag()).buf.slice();
    notCookie[4] ^= 0xff;
    expect(core.handleDatagram(notCookie, A, 0)).toEqual([]);
    const counted = Object.entries(core.counters).filter(([k]) => k.startsWith("drop.stun."));
    expect(counted.reduce((n, [, v]) => n + v, 0)).toBe(2);
    expect(core.size).toBe(0);
  });

  test("replies to unauthenticated input are budgeted per /24: a flood from one network is cut, others are answered", () => {
    const core = new RelayCore({ unauthReplyRate: 10, unauthReplyBurst: 20 });
    let answered = 0;
    for (let i = 0; i < 100; i++) answered += core.handleDatagram(check(ufrag()).buf, at(`198.51.100.${i}`, 1000 + i), 0).length;
    expect(answered).toBe(20);
    expect(core.counters["drop.limit.unauth-replies"]).toBe(80);
    // Another /24 still gets its answers, and one second refills ten for the first.
    expect(types(core.handleDatagram(check(ufrag()).buf, at("198.51.101.1", 1), 0))).toEqual(["send"]);
    let later = 0;
    for (let i = 0; i < 30; i++) later += core.handleDatagram(clientHello(bytes(32)), at(`198.51.100.${i}`, 5), 1000).length;
    expect(later).toBe(10);
    // Plain Bindings (2× their size, like any STUN server's) and error replies draw on the same budget.
    let bindings = 0;
    for (let i = 0; i < 30; i++) bindings += core.handleDatagram(plainBinding().buf, at(`198.51.100.${i}`, 6), 2000).length;
    expect(bindings).toBe(10);
    let errors = 0;
    for (let i = 0; i < 30; i++) errors += core.handleDatagram(check(ufrag(), ufrag()).buf, at(`198.51.100.${i}`, 7), 3000).length;
    expect(errors).toBe(10);
  });
});

describe("limits", () => {
  /** The sessions still answer and carry traffic exactly as before. */
  function undisturbed(core: RelayCore, list: { key: string; u: string; from: Addr }[], now: number) {
    for (const s of list) {
      expect(types(core.handleDatagram(check(s.u).buf, s.from, now))).toEqual(["send"]);
      const d = Uint8Array.of(23, 0xfe, 0xfd);
      expect(core.handleDatagram(d, s.from, now)).toEqual([{ type: "dtls", key: s.key, data: d }]);
    }
  }
  const mk = (core: RelayCore, from: Addr, now: number) => ({ ...create(core, from, now), from });
  /** A browser's attempt that the limits refuse: the cookie exchange completes, no session is made. */
  const refused = (core: RelayCore, from: Addr, now: number) => expect(attempt(core, from, now)).toEqual([]);

  test("sessionsPerIp", () => {
    const core = new RelayCore({ sessionsPerIp: 2 });
    const list = [mk(core, at("10.0.0.1", 1), 0), mk(core, at("10.0.0.1", 2), 0)];
    refused(core, at("10.0.0.1", 3), 0);
    refused(core, at("10.0.0.1", 4), 0);
    expect(core.counters["drop.limit.sessions-per-ip"]).toBe(2);
    expect(core.size).toBe(2);
    undisturbed(core, list, 100);
    // Another IP is not affected.
    mk(core, at("10.0.0.2", 1), 0);
    expect(core.size).toBe(3);
  });

  test("sessionsPerIp counts an IPv6 /64 as one address", () => {
    const core = new RelayCore({ sessionsPerIp: 2 });
    mk(core, at("2001:db8:1:2::1", 1), 0);
    mk(core, at("2001:db8:1:2:ffff::9", 1), 0);
    refused(core, at("2001:db8:1:2:abcd:1:2:3", 1), 0);
    expect(core.counters["drop.limit.sessions-per-ip"]).toBe(1);
    mk(core, at("2001:db8:1:3::1", 1), 0); // the next /64
  });

  test("halfOpen: handshaking sessions are capped; an opened channel frees a slot", () => {
    const core = new RelayCore({ halfOpen: 2 });
    const list = [mk(core, at("10.0.0.1", 1), 0), mk(core, at("10.0.1.2", 1), 0)];
    refused(core, at("10.0.2.3", 1), 0);
    expect(core.counters["drop.limit.half-open"]).toBe(1);
    expect(core.handshaking).toBe(2);
    undisturbed(core, list, 100);
    core.handleOpen(list[0]!.key, 200);
    expect(core.handshaking).toBe(1);
    mk(core, at("10.0.2.3", 1), 300);
    expect(core.handshaking).toBe(2);
    expect(core.size).toBe(3);
  });

  test("halfOpenPerNet: one /24 (or /64) cannot take the whole half-open pool", () => {
    const core = new RelayCore({ halfOpenPerNet: 3, halfOpen: 100 });
    for (let i = 1; i <= 3; i++) mk(core, at(`192.0.2.${i}`, 1), 0);
    refused(core, at("192.0.2.77", 1), 0);
    expect(core.counters["drop.limit.half-open-per-net"]).toBe(1);
    mk(core, at("192.0.3.1", 1), 0); // the next /24 is served
    for (let i = 1; i <= 3; i++) mk(core, at(`2001:db8::${i}`, 1), 0);
    refused(core, at("2001:db8::ff", 1), 0);
    expect(core.counters["drop.limit.half-open-per-net"]).toBe(2);
  });

  test("createRate/createBurst: a token bucket over the fake clock that refills up to the burst", () => {
    const core = new RelayCore({ createRate: 4, createBurst: 3 }, 0);
    let ip = 0;
    const next = () => at(`10.1.${++ip}.1`, 1000);
    const list = [mk(core, next(), 0), mk(core, next(), 0), mk(core, next(), 0)];
    refused(core, next(), 0);
    expect(core.counters["drop.limit.create-rate"]).toBe(1);
    refused(core, next(), 200); // 0.8 tokens
    expect(core.counters["drop.limit.create-rate"]).toBe(2);
    undisturbed(core, list, 200);
    mk(core, next(), 260); // 1.04 tokens
    refused(core, next(), 260);
    expect(core.counters["drop.limit.create-rate"]).toBe(3);
    // A long pause refills only up to the burst: exactly 3 more, then refused.
    for (let i = 0; i < 3; i++) mk(core, next(), 60_000);
    refused(core, next(), 60_000);
    expect(core.counters["drop.limit.create-rate"]).toBe(4);
    expect(core.counters["sessions.created"]).toBe(7);
  });

  test("an attempt refused by another limit does not spend a creation token", () => {
    const c2 = new RelayCore({ createRate: 0, createBurst: 2, sessionsPerIp: 1 }, 0);
    mk(c2, at("10.0.0.1", 1), 0);
    for (let i = 0; i < 5; i++) refused(c2, at("10.0.0.1", 2 + i), 0);
    expect(c2.counters["drop.limit.sessions-per-ip"]).toBe(5);
    mk(c2, at("10.0.0.2", 1), 0); // the second token is still there
    refused(c2, at("10.0.0.3", 1), 0);
    expect(c2.counters["drop.limit.create-rate"]).toBe(1);
  });

  test("maxSessions: a hard ceiling, counting open sessions too", () => {
    const core = new RelayCore({ maxSessions: 2 });
    const list = [mk(core, at("10.0.0.1", 1), 0), mk(core, at("10.0.0.2", 1), 0)];
    core.handleOpen(list[0]!.key, 10);
    core.handleOpen(list[1]!.key, 10);
    expect(core.handshaking).toBe(0);
    refused(core, at("10.0.0.3", 1), 20);
    expect(core.counters["drop.limit.sessions"]).toBe(1);
    expect(core.size).toBe(2);
    undisturbed(core, list, 30);
  });

  test("at maxSessions, a restart from the same address still replaces its own session", () => {
    const core = new RelayCore({ maxSessions: 1 });
    const { key } = create(core, A, 0);
    const acts = attempt(core, A, 10);
    expect(closes(acts)).toEqual([[key, "replaced"]]);
    expect(types(acts)).toEqual(["close", "event", "open", "dtls", "event"]);
    expect(core.size).toBe(1);
    expect(core.counters["drop.limit.sessions"]).toBeUndefined();
  });
});

describe("lifecycle and the Layer-1 protocol", () => {
  test("frames before the channel opens, or for unknown keys, are dropped and counted", () => {
    const core = new RelayCore();
    const { key } = create(core, A, 0);
    expect(core.handleMessage(key, HELLO, 10)).toEqual([]);
    expect(core.handleMessage("nobody:1", HELLO, 10)).toEqual([]);
    expect(core.counters["drop.msg-no-session"]).toBe(2);
  });

  test("handleOpen: one info event with the handshake time; a second call or unknown key is a no-op", () => {
    const core = new RelayCore();
    const { key } = create(core, A, 1000);
    expect(core.handleOpen(key, 1042)).toEqual([{ type: "event", level: "debug", name: "session.open", fields: { key, ms: 42 } }]);
    expect(core.handshaking).toBe(0);
    expect(core.handleOpen(key, 1050)).toEqual([]);
    expect(core.handleOpen("nobody:1", 1050)).toEqual([]);
    expect(core.handshaking).toBe(0);
    expect(core.counters["sessions.opened"]).toBe(1);
  });

  test("frames before HELLO get ERROR 102", () => {
    const core = new RelayCore();
    const { key } = create(core, A, 0);
    core.handleOpen(key, 0);
    for (const f of [
      encode({ t: T.PING, data: Uint8Array.of(1) }),
      encode({ t: T.JOIN, topic: new Uint8Array(16), id: new Uint8Array(8) }),
    ]) {
      const acts = core.handleMessage(key, f, 10);
      expect(frames(acts)).toEqual([[key, errFrame(E.UNEXPECTED, "say HELLO first")]]);
      expect(hex((acts[0] as Extract<Action, { type: "frame" }>).data)).toBe("050066" + hex(te.encode("say HELLO first")));
    }
    expect(core.counters["drop.before-hello"]).toBe(2);
    expect(core.size).toBe(1);
  });

  test("HELLO with a version range excluding 1 → ERROR 100 and close(version)", () => {
    for (const [min, max] of [
      [2, 3],
      [0, 0],
      [2, 1],
    ] as const) {
      const core = new RelayCore();
      const { key } = create(core, A, 0);
      core.handleOpen(key, 0);
      const acts = core.handleMessage(key, encode({ t: T.HELLO, min, max }), 10);
      expect(types(acts)).toEqual(["frame", "close", "event"]);
      expect(frames(acts)).toEqual([[key, errFrame(E.VERSION, "relay speaks version 1 only")]]);
      expect(closes(acts)).toEqual([[key, "version"]]);
      expect(core.size).toBe(0);
      expect(core.counters["drop.version"]).toBe(1);
      expect(core.counters["sessions.closed.version"]).toBe(1);
    }
  });

  test("HELLO ok → WELCOME with version 1 and the relay maxFrame, byte for byte", () => {
    const core = new RelayCore({ maxFrame: 1200 });
    const { key } = create(core, A, 0);
    core.handleOpen(key, 0);
    const acts = core.handleMessage(key, encode({ t: T.HELLO, min: 0, max: 7 }), 10);
    expect(acts).toHaveLength(1);
    expect(acts[0]!.type).toBe("frame");
    expect(hex((acts[0] as Extract<Action, { type: "frame" }>).data)).toBe("020104b0000100000064");
    expect(frames(acts)).toEqual([[key, show({ t: T.WELCOME, version: 1, maxFrame: 1200, rate: 65536, msgRate: 100 })]]);
    // A second HELLO is not expected any more.
    expect(frames(core.handleMessage(key, HELLO, 20))).toEqual([[key, errFrame(E.UNEXPECTED, "frame type 1 is not for the relay")]]);
    expect(core.counters["drop.unexpected"]).toBe(1);
  });

  test("PING → PONG echoing the data; PONG → nothing; WELCOME/ERROR/MEMBERS from a browser → ERROR 102", () => {
    const core = new RelayCore();
    const { key } = ready(core, A, 0);
    const data = bytes(64);
    const acts = core.handleMessage(key, encode({ t: T.PING, data }), 10);
    expect(acts).toHaveLength(1);
    expect(hex((acts[0] as Extract<Action, { type: "frame" }>).data)).toBe("04" + hex(data));
    expect(frames(core.handleMessage(key, encode({ t: T.PING, data: new Uint8Array(0) }), 11))).toEqual([
      [key, show({ t: T.PONG, data: new Uint8Array(0) })],
    ]);
    expect(core.handleMessage(key, encode({ t: T.PONG, data }), 12)).toEqual([]);
    for (const f of [
      encode({ t: T.WELCOME, version: 1, maxFrame: 1, rate: 1, msgRate: 1 }),
      encode({ t: T.ERROR, code: 1, message: "" }),
      encode({ t: T.MEMBERS, topic: new Uint8Array(16), ids: [] }),
    ])
      expect(frames(core.handleMessage(key, f, 13))).toEqual([[key, errFrame(E.UNEXPECTED, `frame type ${f[0]} is not for the relay`)]]);
  });

  test("an oversized frame → ERROR 200; the limit itself is accepted; a SEND/BCAST must leave room for its DELIVER", () => {
    const core = new RelayCore({ maxFrame: 100 });
    const { key } = ready(core, A, 0);
    const big = new Uint8Array(101);
    big[0] = T.SEND;
    expect(frames(core.handleMessage(key, big, 10))).toEqual([[key, errFrame(E.FRAME_SIZE, "frame of 101 bytes exceeds 100")]]);
    expect(core.counters["drop.frame-size"]).toBe(1);
    // A 100-byte SEND fits, but its DELIVER (one byte longer) would not; 99 bytes reaches the router (not joined).
    expect(frames(core.handleMessage(key, big.subarray(0, 100), 10))).toEqual([
      [key, errFrame(E.FRAME_SIZE, "delivering this would exceed 100 bytes")],
    ]);
    expect(frames(core.handleMessage(key, big.subarray(0, 99), 10))).toEqual([[key, errFrame(E.NOT_JOINED, "not in this room")]]);
    // A BCAST's DELIVER is 9 bytes longer (from[8], bcast u8).
    big[0] = T.BCAST;
    expect(frames(core.handleMessage(key, big.subarray(0, 92), 10))).toEqual([
      [key, errFrame(E.FRAME_SIZE, "delivering this would exceed 100 bytes")],
    ]);
    expect(frames(core.handleMessage(key, big.subarray(0, 91), 10))).toEqual([[key, errFrame(E.NOT_JOINED, "not in this room")]]);
    expect(core.counters["drop.frame-size"]).toBe(3);
    expect(core.size).toBe(1);
  });

  test("a malformed frame → ERROR 101, before or after HELLO", () => {
    const core = new RelayCore();
    const { key } = create(core, A, 0);
    core.handleOpen(key, 0);
    for (const bad of [Uint8Array.of(1, 1), Uint8Array.of(0), Uint8Array.of(99, 1, 2), new Uint8Array(0)])
      expect(frames(core.handleMessage(key, bad, 5))).toEqual([[key, errFrame(E.MALFORMED, "malformed frame")]]);
    core.handleMessage(key, HELLO, 6);
    expect(frames(core.handleMessage(key, Uint8Array.of(16, 1, 2), 7))).toEqual([[key, errFrame(E.MALFORMED, "malformed frame")]]);
    expect(core.counters["drop.malformed"]).toBe(5);
  });

  test("a flood beyond msgBurst: frames dropped and counted, exactly one ERROR 201 per second of fake time", () => {
    // msgRate so small that nothing refills in 3 s: the burst is all the flood gets.
    const core = new RelayCore({ msgRate: 0.001, msgBurst: 3 });
    const { key } = ready(core, A, 0); // HELLO took one token: 2 left
    const ping = encode({ t: T.PING, data: Uint8Array.of(7) });
    const errs: number[] = [];
    let pongs = 0,
      sent = 0;
    for (let t = 0; t < 3000; t += 10) {
      for (const a of core.handleMessage(key, ping, t)) {
        const f = decode((a as Extract<Action, { type: "frame" }>).data)!;
        if (f.t === T.PONG) pongs++;
        else {
          expect(show(f)).toEqual(errFrame(E.RATE, "more than 0.001 frames per second"));
          errs.push(t);
        }
      }
      sent++;
    }
    expect(sent).toBe(300);
    expect(pongs).toBe(2);
    expect(errs).toEqual([20, 1020, 2020]);
    expect(core.counters["drop.rate"]).toBe(298);
    expect(core.size).toBe(1);
  });

  test("the frame bucket refills at msgRate up to msgBurst", () => {
    const core = new RelayCore({ msgRate: 10, msgBurst: 5 });
    const { key } = ready(core, A, 0);
    const ping = encode({ t: T.PING, data: new Uint8Array(0) });
    const burst = (t: number, n: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) for (const a of core.handleMessage(key, ping, t)) if (a.type === "frame" && a.data[0] === T.PONG) ok++;
      return ok;
    };
    expect(burst(0, 10)).toBe(4); // 5 - HELLO
    expect(burst(500, 10)).toBe(5); // 5 tokens refilled
    expect(burst(10_000, 10)).toBe(5); // capped at the burst
    expect(core.counters["drop.rate"]).toBe(16); // 6 + 5 + 5
  });

  test("an oversized frame does not spend a rate token", () => {
    const core = new RelayCore({ msgRate: 0, msgBurst: 2, maxFrame: 10 });
    const { key } = ready(core, A, 0); // 1 token left
    for (let i = 0; i < 5; i++) core.handleMessage(key, new Uint8Array(11).fill(3), 1);
    expect(frames(core.handleMessage(key, encode({ t: T.PING, data: Uint8Array.of(1) }), 2))).toEqual([
      [key, show({ t: T.PONG, data: Uint8Array.of(1) })],
    ]);
  });
});

describe("WELCOME announces the limits a browser paces relayed data under", () => {
  test("relayRate and msgRate as whole numbers from 1 up to their field sizes", () => {
    expect([clamp(0.2, 65535), clamp(99.9, 65535), clamp(1e6, 65535), clamp(65536, 2 ** 32 - 1), clamp(2 ** 40, 2 ** 32 - 1)]).toEqual([
      1,
      99,
      65535,
      65536,
      2 ** 32 - 1,
    ]);
    const core = new RelayCore({ relayRate: 3000.5, msgRate: 0.5 });
    const { key } = create(core, A, 0);
    core.handleOpen(key, 0);
    expect(frames(core.handleMessage(key, HELLO, 0))).toEqual([
      [key, show({ t: T.WELCOME, version: 1, maxFrame: 16384, rate: 3000, msgRate: 1 })],
    ]);
  });
});

describe("tick: timeouts", () => {
  test("idle timeout closes a ready session (reason idle), not a moment earlier", () => {
    const core = new RelayCore({ idleTimeoutMs: 30000 });
    const { key } = ready(core, A, 0);
    expect(core.tick(30000)).toEqual([]);
    const acts = core.tick(30001);
    expect(closes(acts)).toEqual([[key, "idle"]]);
    expect(types(acts)).toEqual(["close", "event"]);
    expect(core.size).toBe(0);
    expect(core.counters["sessions.closed.idle"]).toBe(1);
  });

  test("a stalled handshake closes (handshake-timeout) even while checks keep arriving", () => {
    const core = new RelayCore({ handshakeTimeoutMs: 10000 });
    const { key, u } = create(core, A, 0);
    for (let t = 1000; t <= 10000; t += 1000) {
      core.handleDatagram(check(u).buf, A, t);
      expect(core.tick(t)).toEqual([]);
    }
    expect(closes(core.tick(10001))).toEqual([[key, "handshake-timeout"]]);
    expect(core.handshaking).toBe(0);
    expect(core.size).toBe(0);
  });

  test("an open channel that never says HELLO closes (hello-timeout)", () => {
    const core = new RelayCore({ helloTimeoutMs: 10000 });
    const { key } = create(core, A, 0);
    core.handleOpen(key, 1000);
    expect(core.tick(11000)).toEqual([]);
    expect(closes(core.tick(11001))).toEqual([[key, "hello-timeout"]]);
    expect(core.counters["sessions.closed.hello-timeout"]).toBe(1);
  });

  test("a session kept alive by checks every 5 s survives 60 s of ticks (idleTimeoutMs 30000), then idles out", () => {
    const core = new RelayCore({ idleTimeoutMs: 30000 });
    const { key, u } = ready(core, A, 0);
    for (let t = 0; t <= 60000; t += 1000) {
      if (t % 5000 === 0) expect(types(core.handleDatagram(check(u).buf, A, t))).toEqual(["send"]);
      expect(core.tick(t)).toEqual([]);
    }
    expect(core.size).toBe(1);
    expect(core.tick(90000)).toEqual([]);
    expect(closes(core.tick(90001))).toEqual([[key, "idle"]]);
  });

  test("authenticated records (handleAlive) and frames count as activity; raw DTLS-range datagrams do not", () => {
    const core = new RelayCore({ idleTimeoutMs: 30000 });
    const { key } = ready(core, A, 0);
    // Anyone can send bytes from any address: these keep nothing alive.
    for (let t = 1000; t < 30000; t += 1000) core.handleDatagram(Uint8Array.of(23, 0xfe, 0xfd, 0, 1), A, t);
    core.handleAlive(key, 20000);
    expect(core.tick(40000)).toEqual([]);
    core.handleMessage(key, encode({ t: T.PING, data: new Uint8Array(0) }), 45000);
    expect(core.tick(75000)).toEqual([]);
    expect(closes(core.tick(75001))).toEqual([[key, "idle"]]);
    // handleAlive for an unknown key is a no-op.
    expect(() => core.handleAlive("nobody:1", 1)).not.toThrow();
  });

  test("nextDeadline: the shell sleeps until the earliest timeout instead of polling (issue 14)", () => {
    const core = new RelayCore({ idleTimeoutMs: 30000, handshakeTimeoutMs: 10000, helloTimeoutMs: 5000 });
    expect(core.nextDeadline()).toBe(Infinity);
    const { key } = create(core, A, 1000);
    expect(core.nextDeadline()).toBe(11000); // handshake timeout
    core.handleOpen(key, 2000);
    expect(core.nextDeadline()).toBe(7000); // hello timeout (the stale handshake entry comes later)
    core.handleMessage(key, HELLO, 3000);
    expect(core.tick(7001)).toEqual([]); // said HELLO: alive, rescheduled at its idle deadline
    expect(core.nextDeadline()).toBe(33000);
    core.handleMessage(key, encode({ t: T.PING, data: new Uint8Array(0) }), 20000);
    expect(core.tick(33001)).toEqual([]); // seen at 20 s: looked at, not closed
    expect(core.nextDeadline()).toBe(50000);
    expect(closes(core.tick(50001))).toEqual([[key, "idle"]]);
    expect(core.nextDeadline()).toBe(Infinity);
  });

  test("one tick closes every expired session and keeps the rest", () => {
    const core = new RelayCore();
    const a = ready(core, at("10.0.0.1", 1), 0);
    const b = ready(core, at("10.0.0.2", 1), 20000);
    expect(closes(core.tick(30001))).toEqual([[a.key, "idle"]]);
    expect(core.size).toBe(1);
    expect(closes(core.tick(50001))).toEqual([[b.key, "idle"]]);
  });
});

describe("handleClosed and closeAll", () => {
  test("handleClosed removes the session without a close action and frees per-IP and half-open counts", () => {
    const core = new RelayCore({ sessionsPerIp: 2, halfOpen: 2 });
    const s1 = create(core, at("10.0.0.1", 1), 0);
    const s2 = create(core, at("10.0.0.1", 2), 0);
    expect(attempt(core, at("10.0.0.1", 3), 0)).toEqual([]);
    expect(attempt(core, at("10.0.0.9", 3), 0)).toEqual([]);
    expect(core.counters["drop.limit.sessions-per-ip"]).toBe(1);
    expect(core.counters["drop.limit.half-open"]).toBe(1);
    const acts = core.handleClosed(s1.key, "dtls:handshake failed", 500);
    expect(acts).toEqual([
      { type: "event", level: "debug", name: "session.close", fields: { key: s1.key, reason: "dtls:handshake failed", age_ms: 500 } },
    ]);
    expect(core.counters["sessions.closed.dtls"]).toBe(1);
    expect(core.size).toBe(1);
    expect(core.handshaking).toBe(1);
    // Up to the limits again.
    create(core, at("10.0.0.1", 3), 600);
    expect(attempt(core, at("10.0.0.1", 4), 600)).toEqual([]);
    expect(core.counters["drop.limit.sessions-per-ip"]).toBe(2);
    // Closing an open session frees per-IP but not half-open (it was not half-open).
    core.handleOpen(s2.key, 700);
    expect(core.handshaking).toBe(1);
    core.handleClosed(s2.key, "sctp", 800);
    expect(core.handshaking).toBe(1);
    create(core, at("10.0.0.1", 5), 900);
    expect(core.handshaking).toBe(2);
    expect(core.size).toBe(2);
    // Unknown or already closed keys are ignored.
    expect(core.handleClosed(s1.key, "again", 1000)).toEqual([]);
    expect(core.handleClosed("nobody:1", "x", 1000)).toEqual([]);
  });

  test("frames and DTLS for a closed session are dropped", () => {
    const core = new RelayCore();
    const { key } = ready(core, A, 0);
    core.handleClosed(key, "dtls", 10);
    expect(core.handleMessage(key, HELLO, 20)).toEqual([]);
    expect(core.handleDatagram(Uint8Array.of(23), A, 20)).toEqual([]);
    expect(core.counters["drop.msg-no-session"]).toBe(1);
    expect(core.counters["drop.dtls-no-session"]).toBe(1);
  });

  test("closeAll closes every session (shutdown) and leaves no counts behind", () => {
    const core = new RelayCore({ sessionsPerIp: 2 });
    const a = create(core, at("10.0.0.1", 1), 0);
    const b = ready(core, at("10.0.0.1", 2), 0);
    const c = ready(core, at("10.0.0.2", 1), 0);
    const acts = core.closeAll(100);
    expect(closes(acts).sort()).toEqual(
      [
        [a.key, "shutdown"],
        [b.key, "shutdown"],
        [c.key, "shutdown"],
      ].sort(),
    );
    expect(core.size).toBe(0);
    expect(core.handshaking).toBe(0);
    expect(core.counters["sessions.closed.shutdown"]).toBe(3);
    expect(core.closeAll(200)).toEqual([]);
    create(core, at("10.0.0.1", 1), 300);
    create(core, at("10.0.0.1", 2), 300);
    expect(core.size).toBe(2);
  });
});

describe("rooms through the core", () => {
  const topic = Uint8Array.from({ length: 16 }, (_, i) => 0xc0 + i);
  const idA = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    idB = Uint8Array.of(9, 9, 9, 9, 8, 8, 8, 8);
  const TOPIC = hex(topic);

  /** Decode each frame action and give [key, hex] too, for byte-for-byte checks. */
  const raw = (acts: Action[]) => acts.flatMap((a) => (a.type === "frame" ? [[a.key, hex(a.data)]] : []));

  function two() {
    const core = new RelayCore();
    const a = ready(core, A, 0),
      b = ready(core, B, 0);
    return { core, a: a.key, b: b.key };
  }

  test("one address (an IPv4 host, an IPv6 /64) may hold at most membersPerIp members of one room", () => {
    const core = new RelayCore({ membersPerIp: 3, membersPerRoom: 64, sessionsPerIp: 64 });
    const id = (i: number) => Uint8Array.of(7, 7, 7, 7, 7, 7, 7, i);
    const keys = Array.from({ length: 5 }, (_, i) => ready(core, at("192.0.2.10", 1000 + i), 0).key);
    for (const [i, k] of keys.entries()) {
      const acts = core.handleMessage(k, encode({ t: T.JOIN, topic, id: id(i) }), 10);
      if (i < 3) expect(frames(acts).at(-1)![1].t).toBe(T.MEMBERS);
      else expect(frames(acts)).toEqual([[k, errFrame(E.MEMBERS, "at most 3 members of one room from one address")]]);
    }
    // Another room, or another address, is not affected; leaving frees a place.
    expect(frames(core.handleMessage(keys[3]!, encode({ t: T.JOIN, topic: topic.map((b) => b ^ 1), id: id(3) }), 20)).at(-1)![1].t).toBe(
      T.MEMBERS,
    );
    const other = ready(core, at("192.0.2.11", 1), 0).key;
    expect(frames(core.handleMessage(other, encode({ t: T.JOIN, topic, id: id(9) }), 20)).at(-1)![1].t).toBe(T.MEMBERS);
    core.handleMessage(keys[0]!, encode({ t: T.LEAVE, topic }), 30);
    expect(frames(core.handleMessage(keys[4]!, encode({ t: T.JOIN, topic, id: id(4) }), 40)).at(-1)![1].t).toBe(T.MEMBERS);
  });

  test("JOIN and LEAVE pay for the JOINED/LEFT they cause: churn in a full room is cut, one ERROR 201 a second", () => {
    const core = new RelayCore({ msgRate: 100, msgBurst: 100000, membersPerIp: 64 });
    const members = Array.from({ length: 40 }, (_, i) => ready(core, at("198.51.100.1", 2000 + i), 0).key);
    for (const [i, k] of members.entries())
      core.handleMessage(k, encode({ t: T.JOIN, topic, id: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, i) }), 0);
    const churner = ready(core, at("198.51.100.2", 1), 0).key;
    let told = 0,
      errors = 0;
    for (let i = 0; i < 200; i++) {
      const acts = core.handleMessage(churner, encode({ t: i % 2 ? T.LEAVE : T.JOIN, topic, id: idA }), 100);
      told += frames(acts).filter(([k]) => k !== churner).length;
      errors += frames(acts).filter(([k, f]) => k === churner && f.t === T.ERROR).length;
    }
    // The burst (1,024 notifications) is all a churner gets at once; the 40 members are not flooded with 8,000.
    expect(told).toBeLessThanOrEqual(1024);
    expect(told).toBeGreaterThan(900);
    expect(errors).toBe(1);
    expect(core.counters["drop.churn"]).toBeGreaterThan(150);
  });

  test("a BCAST that could never fit the relay burst (payload × recipients) is refused with a clear error, not a rate error", () => {
    const core = new RelayCore({ relayBurst: 10000, relayRate: 10000, msgBurst: 1000, membersPerIp: 64 });
    const keys = Array.from({ length: 5 }, (_, i) => ready(core, at("203.0.113.50", 3000 + i), 0).key);
    for (const [i, k] of keys.entries()) core.handleMessage(k, encode({ t: T.JOIN, topic, id: Uint8Array.of(2, 2, 2, 2, 2, 2, 2, i) }), 0);
    const acts = core.handleMessage(keys[0]!, encode({ t: T.BCAST, topic, data: new Uint8Array(3000) }), 10);
    expect(frames(acts)).toEqual([
      [
        keys[0],
        errFrame(
          E.FRAME_SIZE,
          "broadcasting 3000 bytes to 4 peers is 12000 bytes, more than the relay's burst of 10000: send to fewer peers or in smaller pieces",
        ),
      ],
    ]);
    expect(core.counters["drop.bcast-size"]).toBe(1);
    // One that fits is delivered to the four others.
    expect(frames(core.handleMessage(keys[0]!, encode({ t: T.BCAST, topic, data: new Uint8Array(2000) }), 20)).length).toBe(4);
  });

  test("JOIN, MEMBERS, JOINED, SEND, BCAST, DELIVER, LEAVE, LEFT", () => {
    const { core, a, b } = two();
    let acts = core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 10);
    expect(raw(acts)).toEqual([[a, "12" + TOPIC]]);
    expect(frames(acts)).toEqual([[a, show({ t: T.MEMBERS, topic, ids: [] })]]);

    acts = core.handleMessage(b, encode({ t: T.JOIN, topic, id: idB }), 20);
    expect(raw(acts)).toEqual([
      [a, "13" + TOPIC + hex(idB)],
      [b, "12" + TOPIC + hex(idA)],
    ]);
    expect(frames(acts)).toEqual([
      [a, show({ t: T.JOINED, topic, id: idB })],
      [b, show({ t: T.MEMBERS, topic, ids: [idA] })],
    ]);

    acts = core.handleMessage(a, encode({ t: T.SEND, topic, to: idB, data: te.encode("offer") }), 30);
    expect(raw(acts)).toEqual([[b, "17" + TOPIC + hex(idA) + "00" + hex(te.encode("offer"))]]);
    expect(frames(acts)).toEqual([[b, show({ t: T.DELIVER, topic, from: idA, bcast: false, data: te.encode("offer") })]]);

    acts = core.handleMessage(b, encode({ t: T.BCAST, topic, data: Uint8Array.of(0xff, 0) }), 40);
    expect(raw(acts)).toEqual([[a, "17" + TOPIC + hex(idB) + "01" + "ff00"]]);

    acts = core.handleMessage(a, encode({ t: T.LEAVE, topic }), 50);
    expect(raw(acts)).toEqual([[b, "14" + TOPIC + hex(idA)]]);
    expect(frames(acts)).toEqual([[b, show({ t: T.LEFT, topic, id: idA })]]);
    expect(core.router.stats()).toEqual({ rooms: 1, memberships: 1 });

    expect(core.counters["room.join"]).toBe(2);
    expect(core.counters["room.send"]).toBe(1);
    expect(core.counters["room.bcast"]).toBe(1);
    expect(core.counters["room.leave"]).toBe(1);
  });

  test("relayed bytes: SEND payload is limited per session (relayRate/relayBurst), a BCAST counts once per recipient", () => {
    const core = new RelayCore({ relayRate: 1000, relayBurst: 3000, msgRate: 1e6, msgBurst: 1e6 });
    const a = ready(core, A, 0).key,
      b = ready(core, B, 0).key,
      c = ready(core, at("192.0.2.3", 1), 0).key;
    core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 0);
    core.handleMessage(b, encode({ t: T.JOIN, topic, id: idB }), 0);
    const send = (n: number, t: number) => core.handleMessage(a, encode({ t: T.SEND, topic, to: idB, data: new Uint8Array(n) }), t);
    // The burst: 3000 bytes go through as three 1000-byte SENDs; the fourth is dropped with one ERROR 201.
    for (let i = 0; i < 3; i++) expect(frames(send(1000, 1)).map(([k]) => k)).toEqual([b]);
    expect(frames(send(1000, 1))).toEqual([[a, errFrame(E.RATE, "more than 1000 relayed bytes per second")]]);
    expect(send(1000, 2)).toEqual([]); // at most one ERROR per second
    expect(core.counters["drop.relay-rate"]).toBe(2);
    // Refilled at 1000 bytes per second.
    expect(frames(send(1000, 1002)).map(([k]) => k)).toEqual([b]);
    expect(frames(send(2, 1002))).toEqual([[a, errFrame(E.RATE, "more than 1000 relayed bytes per second")]]);
    // A BCAST to two others costs twice its payload.
    core.handleMessage(c, encode({ t: T.JOIN, topic, id: Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7) }), 5000);
    expect(
      frames(core.handleMessage(a, encode({ t: T.BCAST, topic, data: new Uint8Array(1500) }), 5000))
        .map(([k]) => k)
        .sort(),
    ).toEqual([b, c].sort());
    expect(frames(core.handleMessage(a, encode({ t: T.BCAST, topic, data: new Uint8Array(1) }), 5000))).toEqual([
      [a, errFrame(E.RATE, "more than 1000 relayed bytes per second")],
    ]);
    // Bytes relayed are counted for the operator, room traffic (sealed type 4) apart from signaling.
    expect(core.counters["relayed.signal-bytes"]).toBe(3000 + 1000 + 3000);
    expect(core.handleMessage(a, encode({ t: T.SEND, topic, to: idB, data: Uint8Array.of(4, 0, 0) }), 9000)).toHaveLength(1);
    expect(core.counters["relayed.data-bytes"]).toBe(3);
    // Other sessions have their own budget; the WELCOME told every session the rate.
    expect(frames(core.handleMessage(b, encode({ t: T.SEND, topic, to: idA, data: new Uint8Array(3000) }), 5000)).map(([k]) => k)).toEqual([
      a,
    ]);
  });

  test("room errors come back as ERROR frames and are counted by code", () => {
    const { core, a, b } = two();
    core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 10);
    expect(frames(core.handleMessage(a, encode({ t: T.SEND, topic, to: idB, data: new Uint8Array(0) }), 20))).toEqual([
      [a, errFrame(E.NO_PEER, "no such peer in this room")],
    ]);
    expect(frames(core.handleMessage(b, encode({ t: T.BCAST, topic, data: new Uint8Array(0) }), 20))).toEqual([
      [b, errFrame(E.NOT_JOINED, "not in this room")],
    ]);
    expect(frames(core.handleMessage(b, encode({ t: T.JOIN, topic, id: idA }), 20))).toEqual([
      [b, errFrame(E.ID_TAKEN, "peer id already in this room")],
    ]);
    expect(core.counters["room.302"]).toBe(1);
    expect(core.counters["room.300"]).toBe(1);
    expect(core.counters["room.301"]).toBe(1);
  });

  test("the id is the certificate's: another id is refused (303); the same certificate in a new session takes its id over", () => {
    const core = new RelayCore();
    const fpA = "AA:BB:CC:DD:EE:FF:00:11:" + Array(24).fill("22").join(":");
    const idOfA = Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11);
    const open = (from: Addr, fp: string) => {
      const s = create(core, from, 0);
      core.handleOpen(s.key, 0, fp);
      core.handleMessage(s.key, HELLO, 0);
      return s.key;
    };
    const old = open(A, fpA),
      c = ready(core, B, 0).key;
    expect(frames(core.handleMessage(old, encode({ t: T.JOIN, topic, id: idB }), 10))).toEqual([
      [old, errFrame(E.ID_MISMATCH, "peer id must be the first 8 bytes of your certificate's SHA-256 fingerprint")],
    ]);
    expect(core.counters["room.303"]).toBe(1);
    core.handleMessage(old, encode({ t: T.JOIN, topic, id: idOfA }), 10);
    core.handleMessage(c, encode({ t: T.JOIN, topic, id: idB }), 10);
    // The page crashed and came back (another port, the kept certificate): no 301 until the old session times out.
    const again = open({ address: A.address, port: A.port + 1 }, fpA);
    expect(raw(core.handleMessage(again, encode({ t: T.JOIN, topic, id: idOfA }), 20))).toEqual([
      [c, "14" + TOPIC + hex(idOfA)],
      [c, "13" + TOPIC + hex(idOfA)],
      [again, "12" + TOPIC + hex(idB)],
    ]);
    expect(core.counters["room.replaced"]).toBe(1);
    expect(core.counters["room.301"]).toBeUndefined();
  });

  test("a session that closes (adapter, idle, replaced, shutdown) leaves its rooms: the others get LEFT", () => {
    const leftFor = (id: Uint8Array) => "14" + TOPIC + hex(id);
    // Adapter reports the close.
    {
      const { core, a, b } = two();
      core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 10);
      core.handleMessage(b, encode({ t: T.JOIN, topic, id: idB }), 10);
      const acts = core.handleClosed(b, "dtls", 20);
      expect(types(acts)).toEqual(["frame", "event"]);
      expect(raw(acts)).toEqual([[a, leftFor(idB)]]);
      expect(core.router.stats()).toEqual({ rooms: 1, memberships: 1 });
    }
    // Idle timeout: LEFT before the close action.
    {
      const { core, a, b } = two();
      core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 10);
      core.handleMessage(b, encode({ t: T.JOIN, topic, id: idB }), 10);
      core.handleMessage(a, encode({ t: T.PING, data: new Uint8Array(0) }), 25000);
      const acts = core.tick(30011);
      expect(types(acts)).toEqual(["frame", "close", "event"]);
      expect(raw(acts)).toEqual([[a, leftFor(idB)]]);
      expect(closes(acts)).toEqual([[b, "idle"]]);
    }
    // Replaced by a restart from the same address.
    {
      const { core, a, b } = two();
      core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 10);
      core.handleMessage(b, encode({ t: T.JOIN, topic, id: idB }), 10);
      const acts = attempt(core, B, 20);
      expect(types(acts)).toEqual(["frame", "close", "event", "open", "dtls", "event"]);
      expect(raw(acts)).toEqual([[a, leftFor(idB)]]);
      expect(core.router.stats()).toEqual({ rooms: 1, memberships: 1 });
    }
    // Shutdown.
    {
      const { core, a, b } = two();
      core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 10);
      core.handleMessage(b, encode({ t: T.JOIN, topic, id: idB }), 10);
      const acts = core.closeAll(20);
      expect(raw(acts)).toEqual([[b, leftFor(idA)]]);
      expect(core.router.stats()).toEqual({ rooms: 0, memberships: 0 });
    }
  });

  test("the limits given to the core reach the router", () => {
    const core = new RelayCore({ roomsPerSession: 1, membersPerRoom: 1 });
    const a = ready(core, A, 0).key,
      b = ready(core, B, 0).key;
    core.handleMessage(a, encode({ t: T.JOIN, topic, id: idA }), 1);
    expect(frames(core.handleMessage(a, encode({ t: T.JOIN, topic: new Uint8Array(16), id: idA }), 2))).toEqual([
      [a, errFrame(E.ROOMS, "at most 1 rooms per session")],
    ]);
    expect(frames(core.handleMessage(b, encode({ t: T.JOIN, topic, id: idB }), 2))).toEqual([
      [b, errFrame(E.MEMBERS, "room is full (1 members)")],
    ]);
  });
});

describe("defaults", () => {
  test("a core without options uses DEFAULT_LIMITS; partial limits override only what they name", () => {
    expect(new RelayCore().limits).toEqual(DEFAULT_LIMITS);
    const l: Limits = new RelayCore({ halfOpen: 3 }).limits;
    expect(l).toEqual({ ...DEFAULT_LIMITS, halfOpen: 3 });
    expect(DEFAULT_LIMITS.idleTimeoutMs).toBe(30000);
  });
});

describe("the relay list sessions get (gossip, relay/peering.ts sets it)", () => {
  const FP = (b: string) => Array(32).fill(b).join(":");
  const rec = (n: number) => encode({ t: T.RECORDS, json: `[${n}]` });
  /** A session whose DTLS certificate has fingerprint `fp`, up to HELLO; the frames HELLO got. */
  function hello(core: RelayCore, from: Addr, now: number, fp: string) {
    const s = create(core, from, now);
    core.handleOpen(s.key, now, fp);
    return { key: s.key, got: frames(core.handleMessage(s.key, HELLO, now)).map(([, f]) => f.t) };
  }

  test("a page gets the first RECORDS frame before WELCOME and the rest once, RECORDS_MORE_MS later if it stays", () => {
    const core = new RelayCore({}, 0);
    core.records = rec(1);
    core.recordsMore = [rec(2), rec(3)];
    const s = hello(core, A, 0, FP("AB"));
    expect(s.got).toEqual([T.RECORDS, T.WELCOME]);
    // tick() acts once the clock is past a deadline (the shell's timer fires 1 ms after it).
    expect(frames(core.tick(RECORDS_MORE_MS))).toEqual([]);
    expect(frames(core.tick(RECORDS_MORE_MS + 1))).toEqual([
      [s.key, show(decode(rec(2)))],
      [s.key, show(decode(rec(3)))],
    ]);
    expect(frames(core.tick(RECORDS_MORE_MS * 5))).toEqual([]);
  });

  test("a probe that closes at once after WELCOME is sent nothing more", () => {
    const core = new RelayCore({}, 0);
    core.records = rec(1);
    core.recordsMore = [rec(2)];
    const s = hello(core, A, 0, FP("AB"));
    core.handleClosed(s.key, "closed", 100);
    expect(frames(core.tick(RECORDS_MORE_MS + 1))).toEqual([]);
  });

  test("a relay (a certificate the gossip core has a record of) gets nothing before WELCOME, the whole list later", () => {
    const core = new RelayCore({}, 0);
    core.records = rec(1);
    core.recordsMore = [rec(2)];
    core.isRelay = (fp) => fp === FP("CD");
    const s = hello(core, A, 0, FP("CD"));
    expect(s.got).toEqual([T.WELCOME]);
    expect(frames(core.tick(RECORDS_MORE_MS + 1)).map(([, f]) => f.json)).toEqual(["[1]", "[2]"]);
    // frameTo: the relay's own frames (gossip pushes) reach a session that said HELLO, nothing else.
    expect(frames(core.frameTo(s.key, rec(9)))).toEqual([[s.key, show(decode(rec(9)))]]);
    expect(core.frameTo("192.0.2.1:9", rec(9))).toEqual([]);
  });

  test("bindingRequest: the answer from the address asked, with the txid sent, becomes a 'mapped' action; any other is dropped", () => {
    const core = new RelayCore({}, 0);
    const [req] = core.bindingRequest(B, 0) as Extract<Action, { type: "send" }>[];
    expect(req!.to).toEqual(B);
    const m = parseStun(req!.data)!;
    expect([m.method, m.cls, m.attrs.length]).toEqual([METHOD_BINDING, CLASS.REQUEST, 0]);
    // The other relay's answer, as relay/stun.ts makes it: what it saw, XOR'd.
    const answer = (txid: Uint8Array, addr: Addr) =>
      encodeStun(
        {
          method: METHOD_BINDING,
          cls: CLASS.SUCCESS,
          txid,
          attrs: [{ type: ATTR.XOR_MAPPED_ADDRESS, value: xorAddress(addr.address, addr.port, txid) }],
        },
        { fingerprint: true },
      );
    const seen = at("203.0.113.50", 4884);
    expect(core.handleDatagram(answer(bytes(12), seen), B, 10)).toEqual([]); // unknown txid
    expect(core.handleDatagram(answer(m.txid, seen), A, 10)).toEqual([]); // not from the address asked
    expect(core.handleDatagram(answer(m.txid, seen), B, 10)).toEqual([{ type: "mapped", from: B, mapped: "203.0.113.50:4884" }]);
    expect(core.handleDatagram(answer(m.txid, seen), B, 20)).toEqual([]); // once
    // Too late: forgotten after 10 s.
    const [late] = core.bindingRequest(B, 0) as Extract<Action, { type: "send" }>[];
    core.tick(10_001);
    expect(core.handleDatagram(answer(parseStun(late!.data)!.txid, seen), B, 10_002)).toEqual([]);
    // Dropped and counted (as an unexpected answer while Bindings are out, else as any response).
    expect((core.counters["drop.stun.unexpected-answer"] ?? 0) + (core.counters["drop.stun.response"] ?? 0)).toBe(4);
    expect(core.counters["stun.binding-answered"]).toBe(1);
  });
});
