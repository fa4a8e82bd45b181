// relay/core.ts with both USERNAME forms (docs/protocol.md §1): "R:<browser ufrag>" from pages that
// leave their offer untouched, "R:R" from pages of the first handshake. A session is known by R
// alone: consent checks with the same R refresh it, a new R from the same address replaces it.
import { describe, expect, test } from 'bun:test';
import { RelayCore, addrKey, type Action, type Addr } from '../../relay/core.ts';
import { ATTR, CLASS, METHOD_BINDING, checkIntegrity, encodeStun, parseStun } from '../../relay/stun.ts';

const te = new TextEncoder();
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const ICE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ice = (n: number) => Array.from(rnd(n), (b) => ICE[b & 63]).join('');

/** A browser's check against an answer whose ufrag and pwd are `r`; `own` is the browser's ufrag. */
const check = (r: string, own: string) =>
  encodeStun({
    method: METHOD_BINDING, cls: CLASS.REQUEST, txid: rnd(12),
    attrs: [
      { type: ATTR.USERNAME, value: te.encode(`${r}:${own}`) },
      { type: ATTR.ICE_CONTROLLING, value: rnd(8) },
      { type: ATTR.PRIORITY, value: Uint8Array.of(0x6e, 0x7f, 0x1e, 0xff) },
    ],
  }, { integrityKey: te.encode(r), fingerprint: true });

const types = (acts: Action[]) => acts.map((a) => a.type);
const reply = (acts: Action[]) => parseStun((acts.find((a) => a.type == 'send') as Extract<Action, { type: 'send' }>).data)!;
const A: Addr = { address: '203.0.113.7', port: 50001 };

describe('USERNAME forms at the core', () => {
  for (const [browser, own] of [['Chromium', ice(4)], ['Firefox', ice(8)]] as const) {
    test(`${browser}-style "R:${own.length} chars" opens a session; its consent checks refresh it; the reply is keyed by R`, () => {
      const core = new RelayCore();
      const r = ice(32);
      const first = core.handleDatagram(check(r, own), A, 0);
      expect(types(first)).toEqual(['open', 'send', 'event']);
      expect(checkIntegrity(reply(first), te.encode(r))).toBe(true);
      expect(core.counters['sessions.created']).toBe(1);
      const again = core.handleDatagram(check(r, own), A, 4000);
      expect(types(again)).toEqual(['send']);
      expect(checkIntegrity(reply(again), te.encode(r))).toBe(true);
      expect(core.size).toBe(1);
      expect(core.counters['sessions.created']).toBe(1);
    });
  }

  test('the session is R: another second half with the same R refreshes; a new R from the same address replaces', () => {
    const core = new RelayCore();
    const r = ice(32);
    expect(types(core.handleDatagram(check(r, 'abcd'), A, 0))).toEqual(['open', 'send', 'event']);
    expect(types(core.handleDatagram(check(r, 'wxyz1234'), A, 100))).toEqual(['send']);
    const acts = core.handleDatagram(check(ice(32), 'abcd'), A, 200);
    expect(acts[0]).toEqual({ type: 'close', key: addrKey(A), reason: 'replaced' });
    expect(types(acts)).toEqual(['close', 'event', 'open', 'send', 'event']);
    expect(core.counters['sessions.created']).toBe(2);
  });

  test('pages of the first handshake ("R:R") and of the new one are served side by side', () => {
    const core = new RelayCore();
    const old = ice(32), r = ice(32);
    const B: Addr = { address: '198.51.100.9', port: 40002 };
    expect(types(core.handleDatagram(check(old, old), A, 0))).toEqual(['open', 'send', 'event']);
    expect(types(core.handleDatagram(check(r, ice(4)), B, 0))).toEqual(['open', 'send', 'event']);
    expect(core.size).toBe(2);
    expect(types(core.handleDatagram(check(old, old), A, 3000))).toEqual(['send']);
  });

  test('a check whose key half is short or whose browser half is under 4 chars opens nothing', () => {
    const core = new RelayCore();
    const short = ice(21);
    expect(types(core.handleDatagram(check(short, 'abcd'), A, 0))).toEqual(['send']);
    expect(types(core.handleDatagram(check(ice(32), 'abc'), A, 0))).toEqual(['send']);
    expect(core.size).toBe(0);
    expect(core.counters['drop.stun.username-too-short']).toBe(2);
  });
});
