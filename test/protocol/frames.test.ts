// protocol/frames.ts: round trips for every frame type, byte-exact examples (quoted by docs/protocol.md),
// per-type length rules, and a fuzz loop: decode never throws and what it accepts re-encodes to the same bytes.
import { describe, expect, test } from "bun:test";
import { E, ID_LEN, MAX_FRAME, T, TYPES, TOPIC_LEN, VERSION, decode, encode, headerBytes, type Frame } from "../../protocol/frames.ts";
import { NONCE_BYTES, RELAYED_OVERHEAD, SEAL_OVERHEAD, SEQ_BYTES, SESSION_BYTES, TAG_BYTES } from "../../protocol/sealed.ts";

const H = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));
const hex = (b: Uint8Array) =>
  Buffer.from(b)
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ");
const fill = (n: number, start: number) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 255);

const topic = fill(TOPIC_LEN, 0xa0); // a0 a1 … af
const id1 = fill(ID_LEN, 0x10); // 10 11 … 17
const id2 = fill(ID_LEN, 0x20); // 20 21 … 27
const TOPIC_HEX = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
const ID1_HEX = "1011121314151617";
const ID2_HEX = "2021222324252627";

// Plain objects for comparison (decode returns subarray views; toEqual compares contents).
const plain = (f: Frame | null) => JSON.parse(JSON.stringify(f, (_k, v) => (v instanceof Uint8Array ? hex(v) : v)));

describe("constants", () => {
  test("version, sizes, type and error numbers are the documented ones", () => {
    expect(VERSION).toBe(1);
    expect(MAX_FRAME).toBe(16384);
    expect(TOPIC_LEN).toBe(16);
    expect(ID_LEN).toBe(8);
    expect(TYPES).toEqual({
      HELLO: 1,
      WELCOME: 2,
      PING: 3,
      PONG: 4,
      ERROR: 5,
      RECORDS: 6,
      JOIN: 16,
      LEAVE: 17,
      MEMBERS: 18,
      JOINED: 19,
      LEFT: 20,
      SEND: 21,
      BCAST: 22,
      DELIVER: 23,
    });
    expect([
      E.VERSION,
      E.MALFORMED,
      E.UNEXPECTED,
      E.FRAME_SIZE,
      E.RATE,
      E.ROOMS,
      E.MEMBERS,
      E.SESSIONS,
      E.NOT_JOINED,
      E.ID_TAKEN,
      E.NO_PEER,
      E.ID_MISMATCH,
    ]).toEqual([100, 101, 102, 200, 201, 202, 203, 204, 300, 301, 302, 303]);
  });

  test("a relayed data frame's overhead (a literal in protocol/sealed.ts) is the DELIVER header and the sealing", () => {
    expect(headerBytes(T.DELIVER)).toBe(26);
    expect(SEAL_OVERHEAD).toBe(1 + NONCE_BYTES + SEQ_BYTES + SESSION_BYTES + TAG_BYTES);
    expect(SEAL_OVERHEAD).toBe(41);
    expect(RELAYED_OVERHEAD).toBe(headerBytes(T.DELIVER) + SEAL_OVERHEAD);
  });
});

describe("examples (docs/protocol.md quotes these)", () => {
  const ex = (name: string, f: Frame, bytes: string) =>
    test(`example: ${name} = ${bytes}`, () => {
      const b = encode(f);
      expect(hex(b)).toBe(bytes);
      expect(plain(decode(H(bytes)))).toEqual(plain(f));
    });
  ex("HELLO v1", { t: 1, min: 1, max: 1 }, "01 01 01");
  ex("HELLO v1..3", { t: 1, min: 1, max: 3 }, "01 01 03");
  ex(
    "WELCOME v1 maxFrame 16384 relayRate 65536 msgRate 100",
    { t: 2, version: 1, maxFrame: 16384, rate: 65536, msgRate: 100 },
    "02 01 40 00 00 01 00 00 00 64",
  );
  ex('PING "hi"', { t: 3, data: H("6869") }, "03 68 69");
  ex("PONG empty", { t: 4, data: new Uint8Array(0) }, "04");
  ex('ERROR 201 "slow"', { t: 5, code: 201, message: "slow" }, "05 00 c9 73 6c 6f 77");
  ex("RECORDS []", { t: 6, json: "[]" }, "06 5b 5d");
  ex("ERROR 300 no message", { t: 5, code: 300, message: "" }, "05 01 2c");
  ex("JOIN", { t: 16, topic, id: id1 }, hex(H("10" + TOPIC_HEX + ID1_HEX)));
  ex("LEAVE", { t: 17, topic }, hex(H("11" + TOPIC_HEX)));
  ex("MEMBERS two ids", { t: 18, topic, ids: [id1, id2] }, hex(H("12" + TOPIC_HEX + ID1_HEX + ID2_HEX)));
  ex("MEMBERS empty", { t: 18, topic, ids: [] }, hex(H("12" + TOPIC_HEX)));
  ex("JOINED", { t: 19, topic, id: id2 }, hex(H("13" + TOPIC_HEX + ID2_HEX)));
  ex("LEFT", { t: 20, topic, id: id2 }, hex(H("14" + TOPIC_HEX + ID2_HEX)));
  ex('SEND "x"', { t: 21, topic, to: id2, data: H("78") }, hex(H("15" + TOPIC_HEX + ID2_HEX + "78")));
  ex('BCAST "x"', { t: 22, topic, data: H("78") }, hex(H("16" + TOPIC_HEX + "78")));
  ex('DELIVER direct "x"', { t: 23, topic, from: id1, bcast: false, data: H("78") }, hex(H("17" + TOPIC_HEX + ID1_HEX + "00" + "78")));
  ex('DELIVER bcast "x"', { t: 23, topic, from: id1, bcast: true, data: H("78") }, hex(H("17" + TOPIC_HEX + ID1_HEX + "01" + "78")));
});

describe("round trip", () => {
  const all: Frame[] = [
    { t: 1, min: 0, max: 255 },
    { t: 2, version: 1, maxFrame: 65535, rate: 0xffffffff, msgRate: 65535 },
    { t: 2, version: 255, maxFrame: 0, rate: 0, msgRate: 0 },
    { t: 3, data: fill(64, 0) },
    { t: 4, data: fill(7, 200) },
    { t: 5, code: 65535, message: "ünïcødé ✓" },
    { t: 5, code: 0, message: "x".repeat(1024) },
    { t: 6, json: '[{"lumamesh":1,"addr":"127.0.0.1:4884"}]' },
    { t: 6, json: "" },
    { t: 16, topic, id: id1 },
    { t: 17, topic },
    { t: 18, topic, ids: [] },
    { t: 18, topic, ids: Array.from({ length: 64 }, (_, i) => fill(8, i * 8)) },
    { t: 19, topic, id: id1 },
    { t: 20, topic, id: id2 },
    { t: 21, topic, to: id2, data: new Uint8Array(0) },
    { t: 21, topic, to: id2, data: fill(MAX_FRAME - 25, 3) },
    { t: 22, topic, data: new Uint8Array(0) },
    { t: 22, topic, data: fill(MAX_FRAME - 17, 9) },
    { t: 23, topic, from: id1, bcast: false, data: new Uint8Array(0) },
    { t: 23, topic, from: id1, bcast: true, data: fill(MAX_FRAME - 26, 1) },
  ];
  for (const [i, f] of all.entries()) {
    test(`#${i} type ${f.t}, ${encode(f).length} bytes`, () => {
      const b = encode(f);
      const d = decode(b);
      expect(d).not.toBeNull();
      expect(plain(d)).toEqual(plain(f));
      expect(hex(encode(d!))).toBe(hex(b));
    });
  }
  test("every frame type is covered", () => {
    expect([...new Set(all.map((f) => f.t))].sort((a, b) => a - b)).toEqual(Object.values(TYPES).sort((a, b) => a - b));
  });
  test("ERROR messages are cut to 1024 bytes on encode", () => {
    const b = encode({ t: 5, code: 101, message: "y".repeat(2000) });
    expect(b.length).toBe(3 + 1024);
    expect((decode(b) as { message: string }).message).toBe("y".repeat(1024));
  });
  test("decode returns views: the topic of a JOIN is bytes 1..17 of the input", () => {
    const b = encode({ t: 16, topic, id: id1 });
    const d = decode(b) as { topic: Uint8Array; id: Uint8Array };
    expect(d.topic.length).toBe(16);
    expect(d.id.length).toBe(8);
    b[1] = 0xff;
    expect(d.topic[0]).toBe(0xff);
  });
});

describe("decode rejects", () => {
  const z = (n: number, t: number) => {
    const b = new Uint8Array(n);
    b[0] = t;
    return b;
  };
  test("empty input", () => expect(decode(new Uint8Array(0))).toBeNull());
  const wrong: [string, number, number[]][] = [
    ["HELLO", 1, [1, 2, 4, 5]],
    ["WELCOME", 2, [1, 2, 3, 4, 5, 8, 9, 11]],
    ["PING", 3, [66, 100]],
    ["PONG", 4, [66, 1000]],
    ["ERROR", 5, [1, 2]],
    ["JOIN", 16, [1, 17, 24, 26, 33]],
    ["LEAVE", 17, [1, 16, 18, 25]],
    ["MEMBERS", 18, [1, 16, 18, 21, 24, 26, 29, 32]],
    ["JOINED", 19, [1, 17, 24, 26]],
    ["LEFT", 20, [1, 17, 24, 26]],
    ["SEND", 21, [1, 17, 24]],
    ["BCAST", 22, [1, 16]],
    ["DELIVER", 23, [1, 17, 25]],
  ];
  for (const [name, t, lens] of wrong)
    test(`${name} with lengths ${lens.join(", ")}`, () => {
      for (const n of lens) expect(decode(z(n, t))).toBeNull();
    });
  test("right lengths for the same types are accepted (the rejections above are about length)", () => {
    const ok: [number, number][] = [
      [1, 3],
      [2, 10],
      [3, 1],
      [3, 65],
      [4, 65],
      [5, 3],
      [16, 25],
      [17, 17],
      [18, 17],
      [18, 25],
      [18, 33],
      [19, 25],
      [20, 25],
      [21, 25],
      [22, 17],
      [23, 26],
    ];
    for (const [t, n] of ok) expect(decode(z(n, t))?.t as number | undefined).toBe(t);
  });
  test("DELIVER with a bcast byte other than 0 or 1", () => {
    for (const v of [2, 0x80, 0xff]) {
      const b = z(30, 23);
      b[25] = v;
      expect(decode(b)).toBeNull();
    }
  });
  test("unknown types", () => {
    for (let t = 0; t < 256; t++) {
      if ((Object.values(TYPES) as number[]).includes(t)) continue;
      for (const n of [1, 3, 4, 17, 25, 26, 100]) expect(decode(z(n, t))).toBeNull();
    }
  });
  test(`frames longer than MAX_FRAME (${MAX_FRAME})`, () => {
    expect(decode(z(MAX_FRAME, 22))?.t).toBe(22);
    expect(decode(z(MAX_FRAME + 1, 22))).toBeNull();
    expect(decode(z(MAX_FRAME + 1, 21))).toBeNull();
    expect(decode(z(MAX_FRAME + 1, 23))).toBeNull();
    expect(decode(z(MAX_FRAME + 1, 5))).toBeNull();
    expect(decode(z(1 << 20, 22))).toBeNull();
  });
});

describe("fuzz", () => {
  test("20000 random buffers: decode never throws; accepted non-ERROR frames re-encode byte for byte", () => {
    // Deterministic xorshift so a failure can be reproduced.
    let x = 0x9e3779b9;
    const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
    const known = Object.values(TYPES) as number[];
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      const r = rnd() % 100;
      const n = r < 2 ? 0 : r < 5 ? MAX_FRAME + (rnd() % 3) - 1 : rnd() % 80;
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) b[j] = rnd() & 255;
      if (n && rnd() % 4) b[0] = known[rnd() % known.length]!;
      if (n > 25 && b[0] === 23 && rnd() % 2) b[25] &= 1;
      const f = decode(b);
      if (!f) continue;
      accepted++;
      expect(b.length).toBeGreaterThan(0);
      expect(b.length).toBeLessThanOrEqual(MAX_FRAME);
      expect(f.t).toBe(b[0] as Frame["t"]);
      if (f.t === 5) expect(f.code).toBe((b[1]! << 8) | b[2]!);
      else if (f.t === 6)
        expect(typeof f.json).toBe("string"); // UTF-8 text: invalid bytes become U+FFFD
      else expect(hex(encode(f))).toBe(hex(b));
    }
    // The generator is biased toward known types, so a real share is accepted (not a hollow loop).
    expect(accepted).toBeGreaterThan(2000);
  });
});
