// Structure-aware fuzzing of the relay's SCTP input path: well-formed packets with one field
// mutated and the checksum fixed go through the shape check (relay/sctp-check.ts) into werift's
// real parser and association (relay/werift.ts sctpHarness). A packet that made werift loop would
// make this test time out, i.e. fail. bench/fuzz.ts runs the same for millions of cases.
import { describe, expect, test } from "bun:test";
import { checkSctpPacket } from "../../relay/sctp-check.ts";
import { _internal } from "../../relay/werift.ts";
import { crc32c, generate, rng, weriftWouldLoop } from "../helpers/sctp-gen.ts";
import { join } from "node:path";

const u16 = (v: number) => [(v >>> 8) & 255, v & 255];
const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
function packet(tag: number, chunks: number[]): Uint8Array {
  const p = Uint8Array.from([...u16(5000), ...u16(5000), ...u32(tag), 0, 0, 0, 0, ...chunks]);
  const c = crc32c(p);
  p.set([c & 255, (c >>> 8) & 255, (c >>> 16) & 255, c >>> 24], 8);
  return p;
}

describe("the one-packet hang (werift's zero-length loops)", () => {
  test("a COOKIE ACK of length 0 and a HEARTBEAT with a parameter of length 0 are refused before werift; the association still works", async () => {
    const h = _internal.sctpHarness();
    const cookieAck = packet(h.tag, [11, 0, 0, 0]);
    const heartbeat = packet(h.tag, [4, 0, 0, 8, 0, 1, 0, 0]);
    for (const p of [cookieAck, heartbeat]) {
      expect(weriftWouldLoop(p)).toBe(true);
      expect(checkSctpPacket(p)).toBeDefined(); // before werift: a regression fails here instead of hanging
      await h.feed(p);
    }
    expect(h.drops["sctp.chunk-length-under-4"]).toBe(1);
    expect(h.drops["sctp.param-length-under-4"]).toBe(1);
    // A DATA chunk after that is still delivered.
    const tsn = (h.tsn + 1) >>> 0;
    await h.feed(packet(h.tag, [0, 3, 0, 17, ...u32(tsn), 0, 0, 0, 0, 0, 0, 0, 53, 42, 0, 0, 0]));
    expect(h.received.map((m) => [...m])).toEqual([[42]]);
    h.close();
  });
});

describe("fuzz: well-formed SCTP packets with one field mutated", () => {
  test("20,000 cases in process: every packet werift would loop on is refused, every unmutated one passes, none throws", async () => {
    const r = rng(0x5eed1234);
    const h = _internal.sctpHarness();
    let loops = 0,
      refused = 0,
      clean = 0;
    for (let i = 0; i < 20000; i++) {
      const c = generate(r, h.tag, h.tsn, i % 10 === 0);
      const why = checkSctpPacket(c.packet);
      if (!c.mutated) {
        clean++;
        expect(why).toBeUndefined(); // the check never refuses a well-formed packet
      }
      if (weriftWouldLoop(c.packet)) {
        loops++;
        expect(why).toBeDefined(); // checked before werift sees it: a miss fails here instead of hanging
      }
      if (why) refused++;
      await h.feed(c.packet); // werift's real parser, behind the check
    }
    // The generator does reach the bug class, and the rest is a mix of refusals and accepted packets.
    expect(loops).toBeGreaterThan(100);
    expect(clean).toBe(2000);
    expect(refused).toBeGreaterThan(loops);
    expect(refused).toBeLessThan(20000);
    h.close();
  });

  test("the fuzz command (npm run fuzz) runs to the end on another seed: no loop case passes, no clean case is refused", async () => {
    const seed = 0xc0ffee;
    const p = Bun.spawn(
      [process.execPath, join(import.meta.dir, "../../bench/fuzz.ts"), "--cases", "50000", "--seed", String(seed), "--json"],
      { stdout: "pipe", stderr: "pipe" },
    );
    // A hang (a packet werift loops on) never exits: a generous deadline turns it into a failure.
    const killer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    const code = await p.exited;
    clearTimeout(killer);
    const out = await new Response(p.stdout).text();
    expect(code).toBe(0);
    const res = JSON.parse(out.trim().split("\n").pop()!);
    expect(res.cases).toBe(50000);
    expect(res.seed).toBe(seed);
    expect(res.weriftLoops).toBeGreaterThan(0);
    expect(res.loopsPassed).toBe(0);
    expect(res.cleanRefused).toBe(0);
  }, 150_000);
});
