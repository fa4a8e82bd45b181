// Lumamesh wire protocol v1: the frame codec shared by the browser library and the relay.
// One binary DataChannel message is one frame; byte 0 is the frame type. Layouts and limits
// are written down in docs/protocol.md; the examples there are checked by test/src/wire.test.ts.
// decode() never throws on wire input: it returns null for anything malformed.

import { utf8Decode, utf8Encode } from "./bytes.ts";

export const VERSION = 1;
/** Largest frame either side sends or accepts, in bytes (the relay announces its own in WELCOME). */
export const MAX_FRAME = 16384;
export const TOPIC_LEN = 16;
export const ID_LEN = 8;

/** Frame types (an enum, so the bundler inlines the numbers). */
export const enum T {
  HELLO = 1, WELCOME = 2, PING = 3, PONG = 4, ERROR = 5, RECORDS = 6,
  JOIN = 16, LEAVE = 17, MEMBERS = 18, JOINED = 19, LEFT = 20, SEND = 21, BCAST = 22, DELIVER = 23,
}
/** Every frame type by name (for tests and tools; the bundle does not need it). */
export const TYPES = {
  HELLO: 1, WELCOME: 2, PING: 3, PONG: 4, ERROR: 5, RECORDS: 6,
  JOIN: 16, LEAVE: 17, MEMBERS: 18, JOINED: 19, LEFT: 20, SEND: 21, BCAST: 22, DELIVER: 23,
} as const satisfies Record<keyof typeof T, T>;

/** ERROR codes. 1xx: protocol, 2xx: limits, 3xx: rooms. */
export const E = {
  VERSION: 100, MALFORMED: 101, UNEXPECTED: 102,
  FRAME_SIZE: 200, RATE: 201, ROOMS: 202, MEMBERS: 203, SESSIONS: 204,
  NOT_JOINED: 300, ID_TAKEN: 301, NO_PEER: 302, ID_MISMATCH: 303,
} as const;

export type Frame =
  | { t: 1; min: number; max: number }
  | { t: 2; version: number; maxFrame: number; rate: number }
  | { t: 3 | 4; data: Uint8Array }
  | { t: 5; code: number; message: string }
  | { t: 6; json: string }
  | { t: 16; topic: Uint8Array; id: Uint8Array }
  | { t: 17; topic: Uint8Array }
  | { t: 18; topic: Uint8Array; ids: Uint8Array[] }
  | { t: 19 | 20; topic: Uint8Array; id: Uint8Array }
  | { t: 21; topic: Uint8Array; to: Uint8Array; data: Uint8Array }
  | { t: 22; topic: Uint8Array; data: Uint8Array }
  | { t: 23; topic: Uint8Array; from: Uint8Array; bcast: boolean; data: Uint8Array };


const cat = (t: number, ...parts: Uint8Array[]): Uint8Array => {
  let n = 1;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  out[0] = t;
  let o = 1;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
};
const u8 = (...b: number[]) => Uint8Array.from(b);

export function encode(f: Frame): Uint8Array {
  switch (f.t) {
    case 1: return u8(1, f.min, f.max);
    case 2: return u8(2, f.version, f.maxFrame >> 8, f.maxFrame & 255, f.rate >>> 24, (f.rate >> 16) & 255, (f.rate >> 8) & 255, f.rate & 255);
    case 3: case 4: return cat(f.t, f.data);
    case 5: return cat(5, u8(f.code >> 8, f.code & 255), utf8Encode(f.message).subarray(0, 1024));
    case 6: return cat(6, utf8Encode(f.json));
    case 16: return cat(16, f.topic, f.id);
    case 17: return cat(17, f.topic);
    case 18: return cat(18, f.topic, ...f.ids);
    case 19: case 20: return cat(f.t, f.topic, f.id);
    case 21: return cat(21, f.topic, f.to, f.data);
    case 22: return cat(22, f.topic, f.data);
    case 23: return cat(23, f.topic, f.from, u8(f.bcast ? 1 : 0), f.data);
  }
}

/** Decode one frame; null when the bytes are not a well-formed v1 frame. */
export function decode(b: Uint8Array): Frame | null {
  const n = b.length;
  if (n < 1 || n > MAX_FRAME) return null;
  const t = b[0];
  const s = (a: number, z?: number) => b.subarray(a, z);
  const topic = s(1, 17);
  switch (t) {
    case 1: return n == 3 ? { t, min: b[1], max: b[2] } : null;
    case 2: return n == 8 ? { t, version: b[1], maxFrame: (b[2] << 8) | b[3], rate: ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0 } : null;
    case 3: case 4: return n <= 65 ? { t, data: s(1) } : null;
    case 5: return n >= 3 ? { t, code: (b[1] << 8) | b[2], message: utf8Decode(s(3)) } : null;
    case 6: return { t, json: utf8Decode(s(1)) };
    case 16: return n == 25 ? { t, topic, id: s(17) } : null;
    case 17: return n == 17 ? { t, topic } : null;
    case 18: {
      if (n < 17 || (n - 17) % 8) return null;
      const ids: Uint8Array[] = [];
      for (let o = 17; o < n; o += 8) ids.push(s(o, o + 8));
      return { t, topic, ids };
    }
    case 19: case 20: return n == 25 ? { t, topic, id: s(17) } : null;
    case 21: return n >= 25 ? { t, topic, to: s(17, 25), data: s(25) } : null;
    case 22: return n >= 17 ? { t, topic, data: s(17) } : null;
    case 23: return n >= 26 && b[25] < 2 ? { t, topic, from: s(17, 25), bcast: b[25] == 1, data: s(26) } : null;
  }
  return null;
}
