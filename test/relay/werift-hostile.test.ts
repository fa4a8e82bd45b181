// relay/werift.ts against hostile peers: packets crafted inside a real DTLS session (both roles:
// the relay serving a page, and the relay dialing another relay it heard of by gossip), handshake
// fragments that claim too much, messages that never end, peers that never acknowledge.
import { describe, expect, test } from "bun:test";
import { _internal, createServerSession } from "../../relay/werift.ts";
import { MAX_HELD_CHUNKS } from "../../relay/sctp-harden.ts";
import { crc32c } from "../helpers/sctp-gen.ts";
import { certs, countingServer, openPair, until } from "../helpers/pipe.ts";

const u16 = (v: number) => [(v >>> 8) & 255, v & 255];
const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
function packet(tag: number, chunks: number[]): Uint8Array {
  const p = Uint8Array.from([...u16(5000), ...u16(5000), ...u32(tag), 0, 0, 0, 0, ...chunks]);
  const c = crc32c(p);
  p.set([c & 255, (c >>> 8) & 255, (c >>> 16) & 255, c >>> 24], 8);
  return p;
}
/** A DATA chunk (RFC 9260 §3.3.1) on stream 0, PPID 53, flags B=2 E=1 U=4. */
const data = (tsn: number, ssn: number, flags: number, payload: number[]) => {
  const len = 16 + payload.length;
  return [0, flags, ...u16(len), ...u32(tsn), 0, 0, ...u16(ssn), 0, 0, 0, 53, ...payload, ...Array((4 - (len % 4)) % 4).fill(0)];
};

describe("one packet inside a session", () => {
  test("the relay dialing a hostile relay: zero-length chunks from the server are dropped, the link keeps working", async () => {
    const { s, c } = await openPair();
    const tag = _internal.association(c.session)!.localVerificationTag as number;
    _internal.sendRawSctp(s.session, packet(tag, [11, 0, 0, 0])); // COOKIE ACK, length 0
    _internal.sendRawSctp(s.session, packet(tag, [4, 0, 0, 8, 0, 1, 0, 0])); // HEARTBEAT, parameter length 0
    await until(
      () => (c.drops["sctp.chunk-length-under-4"] ?? 0) === 1 && (c.drops["sctp.param-length-under-4"] ?? 0) === 1,
      5000,
      "both drops",
    );
    s.session.send(Uint8Array.of(7, 7));
    c.session.send(Uint8Array.of(8));
    await until(() => c.messages.length === 1 && s.messages.length === 1, 5000, "messages after the attack");
    expect([...c.messages[0]!]).toEqual([7, 7]);
    expect(c.closes).toEqual([]);
    s.session.close();
  });

  test("the relay serving a hostile page: the same packets from the client are dropped, the session keeps working", async () => {
    const { s, c } = await openPair();
    const tag = _internal.association(s.session)!.localVerificationTag as number;
    _internal.sendRawSctp(c.session, packet(tag, [11, 0, 0, 0]));
    _internal.sendRawSctp(c.session, packet(tag, [4, 0, 0, 8, 0, 1, 0, 0]));
    await until(
      () => (s.drops["sctp.chunk-length-under-4"] ?? 0) === 1 && (s.drops["sctp.param-length-under-4"] ?? 0) === 1,
      5000,
      "both drops",
    );
    c.session.send(Uint8Array.of(1));
    await until(() => s.messages.length === 1, 5000, "a message after the attack");
    expect(s.closes).toEqual([]);
    c.session.close();
  });
});

describe("bounded receive path", () => {
  test("a message growing past maxMessageSize ends the session (sctp-message-too-long), whatever its sender", async () => {
    const { s, c } = await openPair({ server: { maxMessageSize: 2000 } });
    c.session.send(new Uint8Array(1500)); // under the cap: delivered
    await until(() => s.messages.length === 1, 5000, "the small message");
    c.session.send(new Uint8Array(5000)); // fragmented by SCTP, cut at the cap before it completes
    await until(() => s.closes.length === 1, 5000, "the close");
    expect(s.closes).toEqual(["sctp-message-too-long"]);
    expect(s.messages.length).toBe(1);
  });

  test("a message that never ends (B, then middle fragments forever) is cut at the cap", async () => {
    const { s, c } = await openPair({ server: { maxMessageSize: 4096 } });
    const a = _internal.association(s.session)!;
    const tag = a.localVerificationTag as number;
    let tsn = ((a.lastReceivedTsn as number) + 1) >>> 0;
    const ssn = 0;
    _internal.sendRawSctp(c.session, packet(tag, data(tsn++, ssn, 2, Array(1000).fill(1))));
    for (let i = 0; i < 10 && !s.closes.length; i++) {
      _internal.sendRawSctp(c.session, packet(tag, data(tsn++, ssn, 0, Array(1000).fill(2))));
      await Bun.sleep(5);
    }
    await until(() => s.closes.length === 1, 5000, "the close");
    expect(s.closes).toEqual(["sctp-message-too-long"]);
  });

  test("the receive window is enforced in bytes and in chunks; what is held stays bounded", async () => {
    const h = _internal.sctpHarness({ maxMessage: 10_000_000 });
    const tag = h.tag;
    const first = (h.tsn + 1) >>> 0;
    // Hold back the first chunk of a message: nothing can be delivered, everything is held.
    // 300 chunks of 1,000 bytes: the window (256 KiB) takes 262 of them.
    for (let i = 1; i <= 300; i++) await h.feed(packet(tag, data((first + i) >>> 0, 0, i === 300 ? 1 : 0, Array(1000).fill(i & 255))));
    expect(h.drops["sctp.window"]).toBe(300 - 262);
    expect(h.window).toBeGreaterThanOrEqual(0);
    // 1-byte chunks far ahead: held by count, not only by bytes.
    const h2 = _internal.sctpHarness({ maxMessage: 10_000_000 });
    const f2 = (h2.tsn + 1) >>> 0;
    for (let i = 1; i <= MAX_HELD_CHUNKS + 50; i++) await h2.feed(packet(h2.tag, data((f2 + i) >>> 0, 0, 0, [i & 255])));
    expect(h2.drops["sctp.window"]).toBe(50);
    // TSNs beyond what any window could reach are dropped outright.
    await h2.feed(packet(h2.tag, data((f2 + 100_000) >>> 0, 0, 3, [1])));
    expect(h2.drops["sctp.tsn-too-far"]).toBe(1);
    h.close();
    h2.close();
  });

  test("a message of 1,000 small chunks, in order, is reassembled intact; one whose head arrives last completes then", async () => {
    const h = _internal.sctpHarness({ maxMessage: 65536 });
    let first = (h.tsn + 1) >>> 0;
    const n = 1000;
    for (let i = 0; i < n; i += 20) {
      // 20 chunks of 60 bytes a packet, as a sender bundles them
      const chunks: number[] = [];
      for (let j = i; j < i + 20; j++)
        chunks.push(...data((first + j) >>> 0, 0, (j === 0 ? 2 : 0) | (j === n - 1 ? 1 : 0), Array(60).fill(j & 255)));
      await h.feed(packet(h.tag, chunks));
    }
    expect(h.received.length).toBe(1);
    expect(h.received[0]!.length).toBe(n * 60);
    expect(h.received[0]!.every((b, i) => b === (Math.floor(i / 60) & 255))).toBe(true);
    // The next message (SSN 1): its tail first, its head last.
    first = (h.tsn + 1) >>> 0;
    for (let j = 1; j < 10; j++) await h.feed(packet(h.tag, data((first + j) >>> 0, 1, j === 9 ? 1 : 0, [j])));
    expect(h.received.length).toBe(1);
    await h.feed(packet(h.tag, data(first, 1, 2, [0])));
    expect(h.received.length).toBe(2);
    expect([...h.received[1]!]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(h.violation).toBeUndefined();
    h.close();
  });

  test("DATA for another stream or unordered is acknowledged and discarded, never held", async () => {
    const h = _internal.sctpHarness();
    const first = (h.tsn + 1) >>> 0;
    const other = [0, 3, 0, 17, ...u32(first), 0, 9, 0, 0, 0, 0, 0, 53, 1, 0, 0, 0]; // stream 9
    const unordered = data((first + 1) >>> 0, 0, 7, [2]);
    await h.feed(packet(h.tag, [...other, ...unordered]));
    expect(h.drops["sctp.other-stream"]).toBe(2);
    expect(h.tsn).toBe((first + 1) >>> 0); // acknowledged: the sender does not retransmit them
    expect(h.received).toEqual([]);
    h.close();
  });
});

describe("bounded sending", () => {
  test("a peer that stops acknowledging: the queue towards it is capped and the session ends (send-queue-full)", async () => {
    let deaf = false;
    const { s } = await openPair({ server: { maxQueued: 64 * 1024 }, drop: (fromServer) => deaf && fromServer });
    deaf = true; // the client never hears anything again, so it acknowledges nothing
    let sent = 0;
    while (!s.closes.length && sent < 1000) {
      s.session.send(new Uint8Array(4096));
      sent++;
    }
    expect(s.closes).toEqual(["send-queue-full"]);
    expect(sent * 4096).toBeLessThanOrEqual(64 * 1024 + 4096);
    expect(s.session.send(new Uint8Array(1))).toBe(false);
  });

  test("retransmissions without progress are given up (retransmit-limit)", async () => {
    let deaf = false;
    const { s } = await openPair({ server: { maxRetransmits: 2 }, drop: (fromServer) => deaf && fromServer });
    deaf = true;
    s.session.send(Uint8Array.of(1, 2, 3));
    await until(() => s.closes.length === 1, 30_000, "retransmit-limit");
    expect(s.closes).toEqual(["retransmit-limit"]);
  }, 40_000);
});

describe("bounded handshake", () => {
  const rec = (seq: number, hs: number[]) => Uint8Array.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, seq, ...u16(hs.length), ...hs]);
  /** A handshake fragment header (RFC 6347 §4.2.2) and its bytes. */
  const frag = (type: number, length: number, msgSeq: number, offset: number, bytes: number[]) => [
    type,
    length >>> 16,
    (length >>> 8) & 255,
    length & 255,
    ...u16(msgSeq),
    offset >>> 16,
    (offset >>> 8) & 255,
    offset & 255,
    0,
    ...u16(bytes.length),
    ...bytes,
  ];

  test("a fragment claiming 16 MiB allocates nothing and is dropped; at most a few messages are reassembled at once", async () => {
    const { serverCert } = await certs();
    const { session: s, drops } = countingServer(serverCert);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) s.receive(rec(i & 255, frag(11, 16 * 1024 * 1024 - 1, 2, 0, [1, 2, 3])));
    expect(drops["dtls.fragment-too-large"]).toBe(1000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024); // 1000 × 16 MiB had it been allocated
    // Partial messages under the cap, each with its own message_seq: four are kept, the rest refused.
    for (let m = 2; m < 12; m++) s.receive(rec(m, frag(11, 4000, m, 0, Array(100).fill(0))));
    expect(drops["dtls.fragment-too-many"]).toBe(6);
    s.close();
  });

  test("flight 4 is numbered above the client's hello: a client that resent its first hello (two HelloVerifyRequests, record numbers echoed) does not drop the ServerHello as a replay", async () => {
    const { c } = await openPair();
    const ch2 = c.sent.filter((d) => d[0] === 22 && d[13] === 1)[1]!.slice();
    c.session.close();
    // As Chromium sends it after resending its first hello: records 0-1 and 2-3 were first hellos
    // (answered by HelloVerifyRequests numbered 0 and 2), the hello with the cookie is record 4.
    ch2[10] = 4;
    const { serverCert } = await certs();
    const sent: Uint8Array[] = [];
    const s = createServerSession(serverCert, { transmit: (d) => void sent.push(d.slice()), onOpen() {}, onMessage() {}, onClose() {} });
    s.receive(ch2);
    await until(() => sent.some((d) => d[0] === 22 && d[13] === 2), 5000, "ServerHello");
    const seqs = sent.map((d) => d[10]! + 256 * d[9]!);
    expect(Math.min(...seqs)).toBeGreaterThan(4);
    s.close();
  });

  test("the server never sends a HelloVerifyRequest (the core does) and refuses hellos without a cookie or from another client", async () => {
    const { s, c } = await openPair();
    expect(s.sent.some((d) => d[0] === 22 && d[13] === 3)).toBe(false);
    expect(c.opened).toBe(1);
    c.session.close();
    // The client's two hellos as it sent them: without the cookie, then with it.
    const hellos = c.sent.filter((d) => d[0] === 22 && d[13] === 1);
    expect(hellos.length).toBe(2);
    const [ch1, ch2] = hellos as [Uint8Array, Uint8Array];
    const { serverCert } = await certs();
    const sent: Uint8Array[] = [];
    const { session: fresh, drops } = countingServer(serverCert, (d) => void sent.push(d.slice()));
    fresh.receive(ch2); // the core let it through (its cookie checked out): flight 4 follows
    await until(() => sent.some((d) => d[0] === 22 && d[13] === 2), 5000, "ServerHello");
    fresh.receive(ch1); // a hello without a cookie is not answered here (the core answers those)
    const other = ch2.slice();
    other[13 + 12 + 2] ^= 0xff; // another client random
    fresh.receive(other);
    expect(drops).toEqual({ "dtls.hello-without-cookie": 1, "dtls.hello-other-client": 1 });
    expect(sent.some((d) => d[0] === 22 && d[13] === 3)).toBe(false);
    fresh.close();
  });
});
