// relay/udp.ts: datagrams sent in one turn leave together (and in order), and wake coalescing
// sleeps only above its rate, on a thread that is not busy, when the caller allows it.
import { describe, expect, test } from "bun:test";
import { COALESCE, Coalescer, openUdp, type Udp } from "../../relay/udp.ts";
import { until } from "../helpers/pipe.ts";

describe("Coalescer (sans-IO)", () => {
  /** `n` datagrams arrive, the last at `at` (CPU time so far: `cpu` ms). */
  const feed = (c: Coalescer, n: number, at: number, cpu: number) => {
    for (let i = 0; i < n; i++) c.arrived(i === n - 1 ? at : at - 1, () => cpu);
  };

  test("below its rate it never sleeps; above, it sleeps until ms after the turn began", () => {
    const c = new Coalescer({ ms: 4, rate: 1000 }, 0, 0);
    feed(c, 100, 250, 10); // 100 in 250 ms: 400/s
    expect(c.rate).toBe(400);
    expect(c.active).toBe(false);
    expect(c.pause(249.5, 250, true)).toBe(0);
    feed(c, 500, 500, 20); // 500 in the next 250 ms: 2000/s
    expect(c.rate).toBe(2000);
    expect(c.active).toBe(true);
    expect(c.pause(499.5, 500, true)).toBe(4); // 3.5 ms left, in whole ms
    expect(c.sleeps).toBe(1);
    // A turn that took 1.5 ms: sleeps what is left of the 4.
    expect(c.pause(600, 601.5, true)).toBe(3);
  });

  test("a busy thread (half a core or more) or a long turn never sleeps, nor when the caller says no", () => {
    const c = new Coalescer({ ms: 4, rate: 1000 }, 0, 0);
    feed(c, 500, 250, 150); // 150 ms CPU in 250 ms: 0.6 of a core
    expect(c.load).toBeCloseTo(0.6);
    expect(c.pause(250, 250.1, true)).toBe(0);
    feed(c, 500, 500, 160); // 10 ms in 250: idle enough
    expect(c.pause(500, 500.1, true)).toBe(4);
    expect(c.pause(600, 602, true)).toBe(0); // the turn took half of ms: no
    expect(c.pause(700, 700.1, false)).toBe(0); // a handshake in flight
    expect(c.sleeps).toBe(1);
  });

  test("ms 0 turns it off; bad options throw", () => {
    const c = new Coalescer({ ms: 0, rate: 1 }, 0, 0);
    feed(c, 10000, 250, 0);
    expect(c.active).toBe(false);
    expect(c.pause(250, 250.1, true)).toBe(0);
    expect(() => new Coalescer({ ms: 1.5, rate: 1 }, 0, 0)).toThrow(RangeError);
    expect(() => new Coalescer({ ms: 2, rate: 0 }, 0, 0)).toThrow(RangeError);
    expect(COALESCE.ms).toBeGreaterThan(0);
  });
});

describe("openUdp", () => {
  const open = async (o: Partial<Parameters<typeof openUdp>[0]> = {}) => {
    const got: Uint8Array[] = [];
    const u = await openUdp({ host: "127.0.0.1", port: 0, onDatagram: (d) => void got.push(d.slice()), onError: () => {}, ...o });
    return { u, got };
  };
  const send = (u: Udp, to: number, n: number, tag: number) => {
    for (let i = 0; i < n; i++) u.send(Uint8Array.of(tag, i), to, "127.0.0.1");
  };

  test("every datagram sent arrives, in order, and close() sends what is still queued", async () => {
    const a = await open({ coalesce: { ms: 2, rate: 1 } }),
      b = await open();
    try {
      send(a.u, b.u.port, 50, 1);
      expect(b.got.length).toBe(0); // not yet: at the end of this turn
      await until(() => b.got.length === 50, 3000, "50 datagrams");
      expect(b.got.map((d) => d[1])).toEqual([...Array(50).keys()]);
      // One alone too, and close() sends what is still queued.
      send(a.u, b.u.port, 1, 2);
      await until(() => b.got.length === 51, 3000, "the 51st");
      send(a.u, b.u.port, 3, 3);
      await a.u.close();
      await until(() => b.got.length === 54, 3000, "what close() flushed");
      expect(b.got.slice(51).map((d) => d[0])).toEqual([3, 3, 3]);
    } finally {
      await b.u.close();
    }
  });

  test("above its rate the receiver sleeps between turns, loses nothing, and not when told no", async () => {
    for (const allow of [true, false]) {
      let sleeps = 0;
      const r = await open({ coalesce: { ms: 2, rate: 100 }, mayCoalesce: () => allow, onCoalesce: () => void sleeps++ }),
        s = await open();
      try {
        // ~2,000 datagrams a second for 600 ms, a few per millisecond.
        for (let t = 0; t < 300; t++) {
          send(s.u, r.u.port, 4, t & 255);
          await Bun.sleep(2);
        }
        await until(() => r.got.length === 1200, 5000, "every datagram");
        if (allow) expect(sleeps).toBeGreaterThan(0);
        else expect(sleeps).toBe(0);
        expect(r.u.coalescer.sleeps).toBe(sleeps);
      } finally {
        await r.u.close();
        await s.u.close();
      }
    }
  });
});
