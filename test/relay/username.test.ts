// relay/core.ts with both USERNAME forms (docs/protocol.md §1): "R:<browser ufrag>" from pages that
// leave their offer untouched, "R:R" from pages of the first handshake. A session is known by R
// alone: consent checks with the same R refresh it; a check with another R changes nothing (only a
// cookie-proven ClientHello replaces a session, §7).
import { describe, expect, test } from "bun:test";
import { RelayCore, addrKey, type Action, type Addr } from "../../relay/core.ts";
import { ATTR, CLASS, METHOD_BINDING, checkIntegrity, encodeStun, parseStun } from "../../relay/stun.ts";
import { clientHello, cookieOf } from "../helpers/attack.ts";
import { T, encode } from "../../protocol/frames.ts";

const te = new TextEncoder();
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const ICE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ice = (n: number) => Array.from(rnd(n), (b) => ICE[b & 63]).join("");

/** A browser's check against an answer whose ufrag and pwd are `r`; `own` is the browser's ufrag. */
const check = (r: string, own: string) =>
  encodeStun(
    {
      method: METHOD_BINDING,
      cls: CLASS.REQUEST,
      txid: rnd(12),
      attrs: [
        { type: ATTR.USERNAME, value: te.encode(`${r}:${own}`) },
        { type: ATTR.ICE_CONTROLLING, value: rnd(8) },
        { type: ATTR.PRIORITY, value: Uint8Array.of(0x6e, 0x7f, 0x1e, 0xff) },
      ],
    },
    { integrityKey: te.encode(r), fingerprint: true },
  );

const types = (acts: Action[]) => acts.map((a) => a.type);
const reply = (acts: Action[]) => parseStun((acts.find((a) => a.type === "send") as Extract<Action, { type: "send" }>).data)!;
const A: Addr = { address: "203.0.113.7", port: 50001 };

/** The DTLS cookie exchange that follows the checks (docs/protocol.md §7): creates the session; then it opens and says HELLO. */
function handshake(core: RelayCore, from: Addr, now: number): Action[] {
  const random = rnd(32);
  const hvr = core.handleDatagram(clientHello(random), from, now);
  expect(types(hvr)).toEqual(["send"]);
  const acts = core.handleDatagram(clientHello(random, cookieOf((hvr[0] as Extract<Action, { type: "send" }>).data)), from, now);
  core.handleOpen(addrKey(from), now); // DTLS and SCTP up (the adapter's report), then HELLO
  core.handleMessage(addrKey(from), encode({ t: T.HELLO, min: 1, max: 1 }), now);
  return acts;
}

describe("USERNAME forms at the core", () => {
  for (const [browser, own] of [
    ["Chromium", ice(4)],
    ["Firefox", ice(8)],
  ] as const) {
    test(`${browser}-style "R:${own.length} chars" is answered, keyed by R; the session it leads to is refreshed by it`, () => {
      const core = new RelayCore({ idleTimeoutMs: 10000 });
      const r = ice(32);
      const first = core.handleDatagram(check(r, own), A, 0);
      expect(types(first)).toEqual(["send"]);
      expect(checkIntegrity(reply(first), te.encode(r))).toBe(true);
      expect(types(handshake(core, A, 0))).toEqual(["open", "dtls", "event"]);
      expect(core.counters["sessions.created"]).toBe(1);
      // Consent checks with R keep the session alive past the idle timeout.
      for (let t = 4000; t <= 20000; t += 4000) {
        const again = core.handleDatagram(check(r, own), A, t);
        expect(types(again)).toEqual(["send"]);
        expect(checkIntegrity(reply(again), te.encode(r))).toBe(true);
        expect(core.tick(t)).toEqual([]);
      }
      expect(core.size).toBe(1);
    });
  }

  test("the session is R: another second half with the same R refreshes it; a new R from the same address neither refreshes nor replaces it", () => {
    const core = new RelayCore({ idleTimeoutMs: 10000 });
    const r = ice(32);
    core.handleDatagram(check(r, "abcd"), A, 0);
    handshake(core, A, 0);
    expect(types(core.handleDatagram(check(r, "wxyz1234"), A, 8000))).toEqual(["send"]);
    expect(core.tick(15000)).toEqual([]); // refreshed at 8 s
    for (let t = 9000; t <= 18000; t += 1000) expect(types(core.handleDatagram(check(ice(32), "abcd"), A, t))).toEqual(["send"]);
    expect(core.counters["sessions.closed.replaced"]).toBeUndefined();
    expect(core.tick(18001)[0]).toEqual({ type: "close", key: addrKey(A), reason: "idle" });
  });

  test('pages of the first handshake ("R:R") and of the new one are served side by side', () => {
    const core = new RelayCore();
    const old = ice(32),
      r = ice(32);
    const B: Addr = { address: "198.51.100.9", port: 40002 };
    expect(types(core.handleDatagram(check(old, old), A, 0))).toEqual(["send"]);
    expect(types(core.handleDatagram(check(r, ice(4)), B, 0))).toEqual(["send"]);
    expect(types(handshake(core, A, 0))).toEqual(["open", "dtls", "event"]);
    expect(types(handshake(core, B, 0))).toEqual(["open", "dtls", "event"]);
    expect(core.size).toBe(2);
    expect(types(core.handleDatagram(check(old, old), A, 3000))).toEqual(["send"]);
  });

  test("a check whose key half is short or whose browser half is under 4 chars is refused", () => {
    const core = new RelayCore();
    const short = ice(21);
    expect(types(core.handleDatagram(check(short, "abcd"), A, 0))).toEqual(["send"]);
    expect(types(core.handleDatagram(check(ice(32), "abc"), A, 0))).toEqual(["send"]);
    expect(core.size).toBe(0);
    expect(core.counters["drop.stun.username-too-short"]).toBe(2);
  });
});
