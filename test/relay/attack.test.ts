// The relay process under hostile traffic on loopback: spoofed sources on 127/8 (every 127.x.y.z is
// a local address, so a socket bound to one sends from it), forged checks from a live session's own
// address, junk that tries to keep dead sessions alive, handshake floods, a peer that never
// acknowledges. Each test checks the relay stayed up, its memory stayed bounded and legitimate
// clients (the relay's own Layer-1 client) kept connecting. Every wait is on a condition.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { openRelayLink, type RelayLink } from "../../relay/client.ts";
import { _internal, generateCertificate, type Certificate } from "../../relay/werift.ts";
import { crc32c } from "../helpers/sctp-gen.ts";
import { T } from "../../protocol/frames.ts";
import { startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { clientHello, flood, fragmentClaim, iceCheck, iceString, spoofedSockets } from "../helpers/attack.ts";

let cert: Certificate;
beforeAll(async () => {
  cert = await generateCertificate();
});

const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
/** The relay's counters from a relay.stats line logged after this call. */
async function counters(r: RelayProc, pred: (c: Record<string, number>) => boolean = () => true): Promise<Record<string, number>> {
  const l = await r.waitFor("relay.stats", (l) => pred(l.counters), 30_000, r.lines.length);
  return l.counters;
}
/** An SCTP packet (RFC 9260 §3) with the given verification tag and chunk bytes, ports 5000, CRC32c. */
function sctpPacket(tag: number, chunks: number[]): Uint8Array {
  const p = Uint8Array.from([0x13, 0x88, 0x13, 0x88, tag >>> 24, (tag >>> 16) & 255, (tag >>> 8) & 255, tag & 255, 0, 0, 0, 0, ...chunks]);
  const c = crc32c(p);
  p.set([c & 255, (c >>> 8) & 255, (c >>> 16) & 255, c >>> 24], 8);
  return p;
}
/** A legitimate client connects and gets a PONG back. */
async function legit(r: RelayProc, o: Parameters<typeof openRelayLink>[2] = {}): Promise<RelayLink> {
  const link = await openRelayLink(r.record, cert, { timeout: 20_000, ...o });
  const pong = new Promise<void>((res) => (link.onframe = (f) => f.t === T.PONG && res()));
  link.send({ t: T.PING, data: Uint8Array.of(1) });
  await pong;
  return link;
}

describe("relay under hostile traffic (a real relay process, spoofed sources on 127/8)", () => {
  let relay: RelayProc;
  beforeAll(async () => {
    relay = await startRelayProc({ args: ["--stats-interval", "0.3", "--idle-timeout", "3"] });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test("valid ICE checks from 512 spoofed sources at ~5k pps create no session; legitimate clients keep connecting", async () => {
    const socks = await spoofedSockets(512, 1);
    const f = flood(socks, relay.record.port, () => iceCheck(), 5000);
    const links: RelayLink[] = [];
    try {
      while (f.sent < 5000) await Bun.sleep(20);
      for (let i = 0; i < 5; i++) links.push(await legit(relay));
    } finally {
      f.stop();
      for (const s of socks) s.close();
    }
    const c = await counters(relay, (c) => (c["stun.check"] ?? 0) + (c["drop.limit.unauth-replies"] ?? 0) >= 4000);
    expect(c["sessions.created"]).toBe(5); // only the legitimate ones
    expect(links.length).toBe(5);
    for (const l of links) l.close();
  }, 90_000);

  test("a forged check (another ufrag) and forged hellos from a live session's own ip:port close nothing", async () => {
    const victim = await legit(relay, { bind: { address: "127.0.0.1", reuseAddr: true } });
    const before = await counters(relay);
    // The attacker binds the victim's own address and port (SO_REUSEADDR) and sends from it.
    const evil = createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((r) => evil.bind(victim.port, "127.0.0.1", () => r()));
    for (let i = 0; i < 100; i++) evil.send(iceCheck(iceString(32)), relay.record.port, "127.0.0.1");
    evil.send(clientHello(randomBytes(32)), relay.record.port, "127.0.0.1"); // no cookie
    evil.send(clientHello(randomBytes(32), randomBytes(16)), relay.record.port, "127.0.0.1"); // a made-up cookie
    const after = await counters(
      relay,
      (c) => (c["stun.check"] ?? 0) >= (before["stun.check"] ?? 0) + 100 && (c["dtls.bad-cookie"] ?? 0) > (before["dtls.bad-cookie"] ?? 0),
    );
    evil.close();
    expect(after["sessions.closed.replaced"] ?? 0).toBe(before["sessions.closed.replaced"] ?? 0);
    // The victim's session is the same one, and it still answers.
    const pong = new Promise<void>((res) => (victim.onframe = (f) => f.t === T.PONG && res()));
    victim.send({ t: T.PING, data: Uint8Array.of(2) });
    await pong;
    victim.close();
  }, 60_000);

  test("junk from a dead session's address does not keep it alive: it idles out", async () => {
    const dead = await legit(relay, { bind: { address: "127.0.0.1", reuseAddr: true } });
    const port = dead.port;
    const mark = relay.lines.length;
    dead.detach(); // gone without a word, like a killed browser
    const junk = createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((r) => junk.bind(port, "127.0.0.1", () => r()));
    // DTLS-range (first byte 23) and STUN-range junk every 200 ms, forever from the relay's view.
    const t = setInterval(() => {
      junk.send(Uint8Array.from([23, 0xfe, 0xfd, ...randomBytes(13)]), relay.record.port, "127.0.0.1");
      junk.send(iceCheck(), relay.record.port, "127.0.0.1");
    }, 200);
    try {
      const close = await relay.waitFor("session.close", (l) => l.reason === "idle", 30_000, mark);
      expect(close.reason).toBe("idle");
    } finally {
      clearInterval(t);
      junk.close();
    }
  }, 60_000);

  test("hellos without a cookie and fragments claiming 16 MiB from spoofed sources: no session, bounded memory, clients connect", async () => {
    const socks = await spoofedSockets(256, 2);
    const rss0 = rss(relay.proc.pid);
    const before = await counters(relay);
    const f = flood(socks, relay.record.port, (i) => (i % 2 ? fragmentClaim(i) : clientHello(randomBytes(32))), 4000);
    try {
      while (f.sent < 20_000) await Bun.sleep(20);
      const l = await legit(relay);
      l.close();
    } finally {
      f.stop();
      for (const s of socks) s.close();
    }
    const c = await counters(
      relay,
      (c) =>
        (c["dtls.hello-verify"] ?? 0) +
          (c["drop.limit.unauth-replies"] ?? 0) -
          (before["dtls.hello-verify"] ?? 0) -
          (before["drop.limit.unauth-replies"] ?? 0) >=
        5000,
    );
    expect(c["sessions.created"] - before["sessions.created"]).toBe(1); // the legitimate client only
    expect(c["drop.dtls-no-session"] - (before["drop.dtls-no-session"] ?? 0)).toBeGreaterThan(5000); // fragments: no session, nothing parsed
    expect(rss(relay.proc.pid) - rss0).toBeLessThan(100 * 1024 * 1024); // 10,000 × 16 MiB, had the claims been believed
  }, 90_000);

  test("a peer that stops acknowledging while others send to it is closed (send-queue-full), memory bounded", async () => {
    const topic = randomBytes(16);
    const idOf = (c: Certificate) => Uint8Array.from(c.fingerprint.split(":").slice(0, 8), (h) => parseInt(h, 16));
    const sinkCert = await generateCertificate();
    const sink = await openRelayLink(relay.record, sinkCert, { timeout: 20_000 });
    const joined = new Promise<void>((res) => (sink.onframe = (f) => f.t === T.MEMBERS && res()));
    sink.send({ t: T.JOIN, topic, id: idOf(sinkCert) });
    await joined;
    const senders: RelayLink[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await generateCertificate();
      const l = await openRelayLink(relay.record, c, { timeout: 20_000 });
      const m = new Promise<void>((res) => (l.onframe = (f) => f.t === T.MEMBERS && res()));
      l.send({ t: T.JOIN, topic, id: idOf(c) });
      await m;
      senders.push(l);
    }
    const rss0 = rss(relay.proc.pid);
    const mark = relay.lines.length;
    sink.detach(); // stops reading: nothing it is sent is ever acknowledged again
    const to = idOf(sinkCert);
    const t = setInterval(() => {
      for (const l of senders) for (let k = 0; k < 4; k++) l.send({ t: T.SEND, topic, to, data: randomBytes(8000) });
    }, 50);
    try {
      const close = await relay.waitFor(
        "session.close",
        (l) => l.reason === "send-queue-full" || l.reason === "retransmit-limit",
        60_000,
        mark,
      );
      expect(["send-queue-full", "retransmit-limit"]).toContain(close.reason);
    } finally {
      clearInterval(t);
    }
    expect(rss(relay.proc.pid) - rss0).toBeLessThan(100 * 1024 * 1024);
    const l = await legit(relay);
    l.close();
    for (const s of senders) s.close();
  }, 90_000);

  test("one 24-byte SCTP packet (COOKIE ACK of length 0, HEARTBEAT with a parameter of length 0) inside a session: dropped and counted, the relay keeps serving", async () => {
    const link = await legit(relay);
    const s = link.session!;
    // The relay's verification tag: what the client's association puts on every packet it sends.
    const tag = _internal.association(s)!.remoteVerificationTag as number;
    _internal.sendRawSctp(s, sctpPacket(tag, [11, 0, 0, 0]));
    _internal.sendRawSctp(s, sctpPacket(tag, [4, 0, 0, 8, 0, 1, 0, 0]));
    const c = await counters(
      relay,
      (c) => (c["drop.sctp.chunk-length-under-4"] ?? 0) >= 1 && (c["drop.sctp.param-length-under-4"] ?? 0) >= 1,
    );
    expect(c["drop.sctp.chunk-length-under-4"]).toBeGreaterThanOrEqual(1);
    // The same session still answers, and a new client still connects.
    const pong = new Promise<void>((res) => (link.onframe = (f) => f.t === T.PONG && res()));
    link.send({ t: T.PING, data: Uint8Array.of(2) });
    await pong;
    (await legit(relay)).close();
    expect(relay.proc.exitCode).toBeNull();
    link.close();
  });
});
