// chunk.ts: frame layout, round trips up to 5 MB, interleaving, limits, fuzzing, backpressure.
import { describe, expect, test } from "bun:test";
import { createReassembler, encodeData, DATA_FRAME_MAX as MAX_FRAME } from "../../protocol/chunk.ts";
import { sendFrames, type FrameChannel } from "../../src/send.ts";
import { equal, random } from "../../protocol/bytes.ts";

const feed = (r: ReturnType<typeof createReassembler>, frames: Uint8Array[]) => {
  const out = frames.map(r);
  for (const x of out.slice(0, -1)) expect(x).toBeNull();
  return out.at(-1);
};
const roundTrip = (v: unknown) => feed(createReassembler(), encodeData(v));
const big = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) b.set(random(Math.min(65536, n - i)), i);
  return b;
};

describe("encodeData / createReassembler", () => {
  test("JSON values round trip", () => {
    for (const v of [null, 0, -1.5, true, false, "x", [], {}, { a: [1, { b: "ü🚀" }], c: null }, [1, "two", { three: 3 }]]) {
      const json = typeof v === "string" ? v : JSON.parse(JSON.stringify(v));
      expect(roundTrip(v)).toEqual({ data: json });
    }
    expect(roundTrip({ d: new Date(0) })).toEqual({ data: { d: "1970-01-01T00:00:00.000Z" } });
    expect(roundTrip(NaN)).toEqual({ data: null });
  });

  test('strings stay strings (not JSON), including a leading BOM, "" and text that looks like JSON', () => {
    for (const s of ["", "hello", "\uFEFFbom", '{"a":1}', "42", "null", "ünïcødé 🚀 日本語", "\0"])
      expect(roundTrip(s)).toEqual({ data: s });
    expect(encodeData("hi")[0]![0]).toBe(1);
    expect(encodeData({})[0]![0]).toBe(0);
  });

  test("binary: ArrayBuffer and every view arrive as a Uint8Array owning exactly the bytes", () => {
    const src = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]);
    const cases: [unknown, number[]][] = [
      [src.buffer, [9, 8, 7, 6, 5, 4, 3, 2]],
      [src, [9, 8, 7, 6, 5, 4, 3, 2]],
      [src.subarray(2, 5), [7, 6, 5]],
      [new DataView(src.buffer, 1, 2), [8, 7]],
      [new Uint16Array([0x0102]), Array.from(new Uint8Array(new Uint16Array([0x0102]).buffer))],
      [new Uint8Array(0), []],
    ];
    for (const [v, bytes] of cases) {
      const r = roundTrip(v) as { data: Uint8Array };
      expect(r.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(r.data)).toEqual(bytes);
      expect(r.data.byteOffset).toBe(0);
      expect(r.data.buffer.byteLength).toBe(bytes.length);
    }
  });

  test("frame layout: single frame below MAX_FRAME, chunked frames never exceed MAX_FRAME", () => {
    expect(encodeData(new Uint8Array(MAX_FRAME - 1))).toHaveLength(1);
    expect(encodeData(new Uint8Array(MAX_FRAME - 1))[0]!.length).toBe(MAX_FRAME);
    const f = encodeData(new Uint8Array(MAX_FRAME));
    expect(f).toHaveLength(2);
    expect(f[0]![0]).toBe(2 | 4);
    expect(f[1]![0]).toBe(2 | 8);
    const v = new DataView(f[0]!.buffer);
    expect(v.getUint32(1)).toBe(new DataView(f[1]!.buffer).getUint32(1));
    expect(v.getUint32(5)).toBe(MAX_FRAME);
    expect(f[0]!.length).toBe(MAX_FRAME);
    expect(f[1]!.length).toBe(5 + MAX_FRAME - (MAX_FRAME - 9));
    for (const x of encodeData(big(200_000))) expect(x.length).toBeLessThanOrEqual(MAX_FRAME);
  });

  test("1 MB and 5 MB binary, a 1 MB string and a 2 MB JSON value round trip", () => {
    for (const n of [1_000_000, 5 * 1024 * 1024 + 3]) {
      const b = big(n),
        frames = encodeData(b);
      expect(frames.length).toBe(Math.ceil((n - (MAX_FRAME - 9)) / (MAX_FRAME - 5)) + 1);
      const r = feed(createReassembler(), frames) as { data: Uint8Array };
      expect(r.data.length).toBe(n);
      expect(equal(r.data, b)).toBe(true);
    }
    const s = "ü🚀x".repeat(150_000);
    expect(roundTrip(s)).toEqual({ data: s });
    const j = Array.from({ length: 50_000 }, (_, i) => ({ i, s: "row " + i }));
    expect(roundTrip(j)).toEqual({ data: j });
  });

  test("two chunked messages interleaved frame by frame both arrive", () => {
    const a = big(100_000),
      b = "x".repeat(70_000);
    const fa = encodeData(a),
      fb = encodeData(b),
      r = createReassembler(),
      got: unknown[] = [];
    for (let i = 0; i < Math.max(fa.length, fb.length); i++)
      for (const f of [fa[i], fb[i]])
        if (f) {
          const x = r(f);
          if (x) got.push(x);
        }
    expect(got).toHaveLength(2);
    expect(got).toContainEqual({ data: b });
    expect(got.some((x) => (x as { data: unknown }).data instanceof Uint8Array && equal((x as { data: Uint8Array }).data, a))).toBe(true);
  });

  test('unsendable values throw TypeError("lumamesh: cannot send …")', () => {
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    for (const v of [undefined, () => 1, Symbol("s"), 10n, cyc, { n: 1n }, { toJSON: () => undefined }])
      expect(() => encodeData(v)).toThrow(/^lumamesh: cannot send/);
    expect(() => encodeData(undefined)).toThrow(TypeError);
    expect(() => encodeData(10n)).toThrow(TypeError);
    expect(() => encodeData(cyc)).toThrow(TypeError);
  });
});

describe("malformed and oversized input", () => {
  const frame = (h: number, ...u32: number[]) => {
    const f = new Uint8Array(1 + 4 * u32.length + 3);
    f[0] = h;
    u32.forEach((x, i) => new DataView(f.buffer).setUint32(1 + 4 * i, x));
    return f;
  };
  const isErr = (x: unknown) => expect((x as { error: string }).error).toMatch(/^lumamesh: /);

  test("bad headers, bad JSON, truncated chunk headers", () => {
    const r = createReassembler();
    for (const f of [
      new Uint8Array(0),
      Uint8Array.of(3),
      Uint8Array.of(0x10),
      Uint8Array.of(4 | 8, 0, 0, 0, 0),
      Uint8Array.of(4, 0, 0, 0, 1, 0, 0),
      Uint8Array.of(8, 0, 0),
    ])
      isErr(r(f));
    isErr(r(Uint8Array.of(0, 0x7b)));
    isErr(r(Uint8Array.of(0)));
    isErr(r(frame(8 | 1, 77))); // continuation of an unknown message
  });

  test("oversized single and chunked messages are dropped; the limit is inclusive", () => {
    const r = createReassembler({ maxMessage: 100 });
    expect(r(encodeData(new Uint8Array(100))[0]!)).not.toHaveProperty("error");
    isErr(r(encodeData(new Uint8Array(101))[0]!));
    isErr(r(frame(4 | 2, 1, 101)));
    const big = createReassembler();
    isErr(big(frame(4 | 2, 1, 0xffffffff)));
    // and the rest of a dropped message errors without throwing, and nothing is kept
    const fs = encodeData(new Uint8Array(50_000)),
      small = createReassembler({ maxMessage: 40_000 });
    for (const f of fs) isErr(small(f));
  });

  test("a chunk that overruns its declared total, or changes kind, drops the message", () => {
    const r = createReassembler(),
      fs = encodeData(new Uint8Array(20_000));
    const first = fs[0]!.slice();
    new DataView(first.buffer).setUint32(5, 17_000); // 16375 bytes here, 3625 next: overruns
    expect(r(first)).toBeNull();
    const short = fs[0]!.slice();
    new DataView(short.buffer).setUint32(5, 100); // total below this frame's own payload
    isErr(createReassembler()(short));
    isErr(r(fs[1]!));
    const r2 = createReassembler(),
      gs = encodeData(new Uint8Array(20_000));
    expect(r2(gs[0]!)).toBeNull();
    const g1 = gs[1]!.slice();
    g1[0] = 8 | 1;
    isErr(r2(g1));
    isErr(r2(gs[1]!)); // already dropped
    // a duplicate first frame drops the message too
    const r3 = createReassembler();
    expect(r3(gs[0]!)).toBeNull();
    isErr(r3(gs[0]!));
  });

  test("maxPending bounds concurrent partial messages; finishing one frees a slot", () => {
    const r = createReassembler({ maxPending: 2 });
    const msgs = [1, 2, 3].map(() => encodeData(new Uint8Array(20_000)));
    expect(r(msgs[0]![0]!)).toBeNull();
    expect(r(msgs[1]![0]!)).toBeNull();
    isErr(r(msgs[2]![0]!));
    expect((r(msgs[0]![1]!) as { data: Uint8Array }).data.length).toBe(20_000);
    expect(r(msgs[2]![0]!)).toBeNull();
    expect((r(msgs[2]![1]!) as { data: Uint8Array }).data.length).toBe(20_000);
  });

  test("a message in progress with no frame for longer than the timeout is dropped: its claim freed, one error", () => {
    const r = createReassembler({ timeout: 60_000, maxBytes: 50_000 });
    const [head, tail] = encodeData(new Uint8Array(30_000));
    expect(r(head!, 0)).toBeNull();
    // A second message of 30,000 would go over the 50,000-byte budget while the first is held…
    const second = encodeData(new Uint8Array(30_000));
    expect((r(second[0]!, 60_000) as { fatal?: boolean }).fatal).toBe(true);
    expect(r.pending).toBe(1);
    // …and once the first has been silent for more than 60 s it is forgotten: the next frame says so once.
    const third = encodeData(new Uint8Array(30_000));
    expect(r(third[0]!, 60_001)).toEqual({ error: "lumamesh: message timed out", fatal: undefined });
    expect(r.pending).toBe(1); // the third's first frame was taken
    expect(r(tail!, 60_002)).toEqual({ error: "lumamesh: bad frame", fatal: undefined }); // the first's tail: gone
    expect((r(third[1]!, 60_003) as { data: Uint8Array }).data.length).toBe(30_000);
    expect(r.pending).toBe(0);
  });

  test("a whole message that arrives as another times out is delivered, not dropped with the timeout", () => {
    const r = createReassembler({ timeout: 60_000 });
    const [head] = encodeData(new Uint8Array(30_000));
    expect(r(head!, 0)).toBeNull();
    expect(r.pending).toBe(1);
    const [whole] = encodeData("still here");
    expect(r(whole!, 60_001)).toEqual({ data: "still here" });
    expect(r.pending).toBe(0); // the stale one is gone all the same
  });

  test("fuzz: 10,000 random and mutated frames never throw; the reassembler still works afterwards", () => {
    const r = createReassembler({ maxMessage: 1 << 20, maxPending: 4 });
    const valid = [...encodeData(big(40_000)), ...encodeData({ a: 1 }), ...encodeData("text")];
    let errors = 0,
      data = 0;
    for (let i = 0; i < 10_000; i++) {
      let f: Uint8Array;
      const mode = i % 4;
      if (mode === 0) f = random((random(1)[0]! * 3) % 200);
      else if (mode === 1) {
        // plausible chunk header with random id / total
        f = random(5 + (random(1)[0]! % 40));
        f[0] = [4, 8, 5, 9, 6, 10][random(1)[0]! % 6]!;
        f[1] = f[2] = f[3] = 0;
      } else {
        f = valid[random(1)[0]! % valid.length]!.slice();
        const k = random(1)[0]! % 4;
        for (let j = 0; j < k; j++) f[random(2).reduce((a, b) => a * 256 + b) % f.length]! ^= random(1)[0]! | 1;
        if (mode === 3) f = f.subarray(0, random(2).reduce((a, b) => a * 256 + b) % (f.length + 1));
      }
      let x: ReturnType<typeof r>;
      expect(() => (x = r(f))).not.toThrow();
      if (x! && "error" in x) errors++, expect(x.error).toMatch(/^lumamesh: /);
      else if (x!) data++;
    }
    expect(errors).toBeGreaterThan(1000);
    // Pending slots may all be taken by junk; a fresh reassembler is what a channel gets, but this one
    // must still decode a single-frame message.
    expect(r(encodeData({ ok: true })[0]!)).toEqual({ data: { ok: true } });
    console.log(`fuzz: ${errors} errors, ${data} decoded, ${10_000 - errors - data} pending`);
  });
});

describe("sendFrames", () => {
  const fake = () => {
    const l: Record<string, Set<() => void>> = { bufferedamountlow: new Set(), close: new Set() };
    const ch = {
      sent: [] as Uint8Array[],
      bufferedAmount: 0,
      bufferedAmountLowThreshold: 0,
      readyState: "open",
      send(d: Uint8Array) {
        if (this.readyState !== "open") throw new Error("InvalidStateError");
        this.sent.push(d);
        this.bufferedAmount += d.length;
      },
      addEventListener: (t: string, f: () => void) => void l[t]!.add(f),
      removeEventListener: (t: string, f: () => void) => void l[t]!.delete(f),
      listeners: () => l.bufferedamountlow!.size + l.close!.size,
      drain(to: number) {
        const was = this.bufferedAmount;
        this.bufferedAmount = to;
        // like the browser: fires when the amount falls to or below the threshold; listeners stay registered
        if (was > this.bufferedAmountLowThreshold && to <= this.bufferedAmountLowThreshold) for (const f of [...l.bufferedamountlow!]) f();
      },
      close() {
        this.readyState = "closed";
        for (const f of [...l.close!]) f();
      },
    };
    return ch satisfies FrameChannel;
  };
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const frames = (n: number, size = 1000) => Array.from({ length: n }, () => new Uint8Array(size));

  test("sends everything at once when under the high-water mark", async () => {
    const ch = fake();
    await sendFrames(ch, frames(10), 1 << 20);
    expect(ch.sent).toHaveLength(10);
  });

  test("stops above highWater, resumes on bufferedamountlow, keeps order, cleans up listeners", async () => {
    const ch = fake(),
      fs = frames(10);
    let done = false;
    const p = sendFrames(ch, fs, 2500).then(() => (done = true));
    await tick();
    expect(ch.sent).toHaveLength(3); // 3000 > 2500 after the third
    expect(ch.bufferedAmountLowThreshold).toBe(1250);
    expect(ch.listeners()).toBe(2);
    ch.drain(2000); // above the threshold: no event, no progress
    await tick();
    expect(ch.sent).toHaveLength(3);
    ch.drain(0);
    await tick();
    expect(ch.sent).toHaveLength(6);
    ch.drain(1000);
    await tick();
    expect(ch.sent).toHaveLength(8);
    ch.drain(0);
    await p;
    expect(done).toBe(true);
    expect(ch.sent).toEqual(fs);
    expect(ch.listeners()).toBe(0);
  });

  test("a later call never overtakes one that is waiting, even once the queue is below highWater", async () => {
    const ch = fake(),
      first = frames(4),
      later = new Uint8Array(7);
    const a = sendFrames(ch, first, 2500);
    await tick();
    expect(ch.sent).toHaveLength(3);
    ch.drain(2000); // below highWater, above the threshold: no event yet
    const b = sendFrames(ch, [later], 2500);
    await tick();
    expect(ch.sent).toHaveLength(3); // `later` waits behind the fourth frame
    ch.drain(0);
    await Promise.all([a, b]);
    expect(ch.sent).toEqual([...first, later]);
    expect(ch.listeners()).toBe(0);
  });

  test("many callers waiting share one wait, and a wake-up sends only until highWater again", async () => {
    const ch = fake();
    const all = Array.from({ length: 100 }, (_, i) => new Uint8Array(1000).fill(i));
    const ps = all.map((f) => sendFrames(ch, [f], 2500));
    await tick();
    expect(ch.sent).toHaveLength(3);
    expect(ch.listeners()).toBe(2); // one bufferedamountlow and one close listener, not two per caller
    ch.drain(0);
    await tick();
    expect(ch.sent).toHaveLength(6); // not all 97 at once (Chromium closes a channel past 16 MiB queued)
    while (ch.sent.length < 100) ch.drain(0), await tick();
    await Promise.all(ps);
    expect(ch.sent).toEqual(all); // first come, first sent
    expect(ch.listeners()).toBe(0);
  });

  test("rejects when the channel does not drain for `stall` ms (a peer that stopped reading), listeners removed", async () => {
    const ch = fake();
    const err = await sendFrames(ch, frames(10), 2500, 50).catch((e: Error) => e);
    expect(String(err)).toContain("stalled (peer not reading for 50 ms)");
    expect(ch.sent).toHaveLength(3);
    expect(ch.listeners()).toBe(0);
  });

  test("rejects when the channel closes while waiting, and when it is not open", async () => {
    const ch = fake();
    const p = sendFrames(ch, frames(10), 1500);
    await tick();
    expect(ch.sent).toHaveLength(2);
    ch.close();
    await expect(p).rejects.toThrow("lumamesh: channel closed");
    expect(ch.listeners()).toBe(0);
    await expect(sendFrames(ch, frames(1))).rejects.toThrow("lumamesh: channel closed");
  });
});

// Compile-time check (npm run typecheck): a real RTCDataChannel satisfies FrameChannel.
export const _rtcDataChannelIsAFrameChannel = (dc: RTCDataChannel): FrameChannel => dc;
