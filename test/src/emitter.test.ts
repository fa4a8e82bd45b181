// emitter.ts and bytes.ts: small helpers, small tests.
import { afterEach, describe, expect, test } from "bun:test";
import { createEmitter } from "../../src/emitter.ts";
import { concat, equal, hex, random, utf8Decode, utf8Encode } from "../../protocol/bytes.ts";

type Events = { peer: [id: string, n: number]; msg: [data: unknown]; none: [] };

describe("createEmitter", () => {
  const realQM = globalThis.queueMicrotask;
  afterEach(() => void (globalThis.queueMicrotask = realQM));

  test("on / emit pass arguments in registration order; off removes; events are separate", () => {
    const e = createEmitter<Events>(),
      got: string[] = [];
    const a = (id: string, n: number) => got.push(`a:${id}:${n}`),
      b = (id: string) => got.push(`b:${id}`);
    e.on("peer", a);
    e.on("peer", b);
    e.on("none", () => got.push("none"));
    e.emit("peer", "x", 1);
    e.off("peer", a);
    e.emit("peer", "y", 2);
    e.emit("msg", 1); // no listeners: nothing happens
    e.emit("none");
    e.off("msg", () => {}); // unknown: no-op
    expect(got).toEqual(["a:x:1", "b:x", "b:y", "none"]);
  });

  test("the same function registered twice is called once (like addEventListener)", () => {
    const e = createEmitter<Events>();
    let n = 0;
    const f = () => n++;
    e.on("none", f);
    e.on("none", f);
    e.emit("none");
    expect(n).toBe(1);
  });

  test("a throwing listener does not stop the others; its error is rethrown in a microtask", () => {
    const e = createEmitter<Events>(),
      got: unknown[] = [],
      rethrown: unknown[] = [];
    globalThis.queueMicrotask = (f) => {
      try {
        f();
      } catch (x) {
        rethrown.push(x);
      }
    };
    const boom = new Error("boom");
    e.on("msg", () => {
      throw boom;
    });
    e.on("msg", (d) => got.push(d));
    expect(() => e.emit("msg", 42)).not.toThrow();
    expect(got).toEqual([42]);
    expect(rethrown).toEqual([boom]);
  });

  test("listeners added or removed during an emit take effect from the next emit", () => {
    const e = createEmitter<Events>(),
      got: string[] = [];
    const late = () => got.push("late");
    const second = () => got.push("second");
    e.on("none", () => {
      got.push("first");
      e.on("none", late);
      e.off("none", second);
    });
    e.on("none", second);
    e.emit("none");
    expect(got).toEqual(["first", "second"]);
    e.emit("none");
    expect(got).toEqual(["first", "second", "first", "late"]);
  });
});

describe("bytes", () => {
  test("utf8 round trip keeps a BOM and astral characters", () => {
    for (const s of ["", "abc", "\uFEFFx", "ü🚀日本"]) expect(utf8Decode(utf8Encode(s))).toBe(s);
    expect(hex(utf8Encode("é"))).toBe("c3a9");
  });
  test("concat, equal, hex, random", () => {
    expect(hex(concat([Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(0xab, 0xff)]))).toBe("01abff");
    expect(concat([]).length).toBe(0);
    expect(equal(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(equal(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(equal(Uint8Array.of(1), Uint8Array.of(1, 0))).toBe(false);
    expect(hex(Uint8Array.of(0, 15, 16, 255))).toBe("000f10ff");
    expect(random(32).length).toBe(32);
    expect(equal(random(16), random(16))).toBe(false);
  });
});
