// Lumamesh wire protocol v1: the frame codec shared by the browser library and the relay (protocol/).
// One binary DataChannel message is one frame; byte 0 is the frame type. Layouts and limits
// are written down in docs/protocol.md; the examples there are checked by test/protocol/frames.test.ts.
// decode() never throws on wire input: it returns null for anything malformed.

import { concat, int, uint, utf8Decode, utf8Encode } from "./bytes.ts";

export const VERSION = 1;
/** Largest frame either side sends or accepts, in bytes (the relay announces its own in WELCOME). */
export const MAX_FRAME = 16384;
export const TOPIC_LEN = 16;
export const ID_LEN = 8;

/** Frame types (an enum, so the bundler inlines the numbers). */
export const enum T {
  HELLO = 1,
  WELCOME = 2,
  PING = 3,
  PONG = 4,
  ERROR = 5,
  RECORDS = 6,
  JOIN = 16,
  LEAVE = 17,
  MEMBERS = 18,
  JOINED = 19,
  LEFT = 20,
  SEND = 21,
  BCAST = 22,
  DELIVER = 23,
}
/** Every frame type by name (for tests and tools; the bundle does not need it). */
export const TYPES = {
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
} as const satisfies Record<keyof typeof T, T>;

/** ERROR codes. 1xx: protocol, 2xx: limits, 3xx: rooms (an enum, so the bundler inlines the numbers). */
export const enum E {
  VERSION = 100,
  MALFORMED = 101,
  UNEXPECTED = 102,
  FRAME_SIZE = 200,
  RATE = 201,
  ROOMS = 202,
  MEMBERS = 203,
  SESSIONS = 204,
  NOT_JOINED = 300,
  ID_TAKEN = 301,
  NO_PEER = 302,
  ID_MISMATCH = 303,
}

export type Frame =
  | { t: 1; min: number; max: number }
  | { t: 2; version: number; maxFrame: number; rate: number; msgRate: number }
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

/**
 * Each type's fields after the type byte, in order, as name:code. Codes: 1, 2, 4 an unsigned
 * big-endian integer of that many bytes; t a topic[16]; i an id[8]; b a boolean byte (0 or 1);
 * then at most one field that takes the rest of the frame: r bytes, p bytes (at most 64), s UTF-8,
 * m UTF-8 (cut to 1024 bytes when encoding), l a list of ids[8]. Frames with no rest field have
 * exactly their fixed length.
 */
const SPEC: Record<number, string> = {
  1: "min:1 max:1",
  2: "version:1 maxFrame:2 rate:4 msgRate:2",
  3: "data:p",
  4: "data:p",
  5: "code:2 message:m",
  6: "json:s",
  16: "topic:t id:i",
  17: "topic:t",
  18: "topic:t ids:l",
  19: "topic:t id:i",
  20: "topic:t id:i",
  21: "topic:t to:i data:r",
  22: "topic:t data:r",
  23: "topic:t from:i bcast:b data:r",
};
const FIXED: Record<string, number> = { 1: 1, 2: 2, 4: 4, t: 16, i: 8, b: 1 };
// Parsed once: decode runs for every frame the relay receives.
const FIELDS: Record<number, string[][]> = {};
for (const t in SPEC) FIELDS[t] = SPEC[t].split(" ").map((f) => f.split(":"));

/** Bytes of a frame of type `t` before its variable part (type byte included): SEND 25, BCAST 17, DELIVER 26. */
export const headerBytes = (t: T): number => 1 + FIELDS[t]!.reduce((n, [, c]) => n + (FIXED[c!] ?? 0), 0);
/** How much longer the DELIVER the relay makes of a SEND or a BCAST is than the frame itself. */
export const deliverGrowth = (t: T.SEND | T.BCAST): number => headerBytes(T.DELIVER) - headerBytes(t);

export function encode(f: Frame): Uint8Array {
  const v = f as any,
    out = [Uint8Array.of(f.t)];
  for (const [k, c] of FIELDS[f.t]!) {
    const x = v[k],
      n = FIXED[c];
    out.push(
      c <= "4"
        ? int(x, n)
        : c === "b"
          ? Uint8Array.of(x ? 1 : 0)
          : c === "s" || c === "m"
            ? utf8Encode(x).subarray(0, c === "m" ? 1024 : void 0)
            : c === "l"
              ? concat(x)
              : x,
    );
  }
  return concat(out);
}

/** Decode one frame; null when the bytes are not a well-formed v1 frame. */
export function decode(b: Uint8Array): Frame | null {
  const n = b.length,
    fs = n <= MAX_FRAME && FIELDS[b[0]];
  if (!fs) return null;
  const f: any = { t: b[0] };
  let o = 1;
  for (const [k, c] of fs) {
    const m = FIXED[c] ?? n - o,
      s = b.subarray(o, (o += m));
    if (o > n || (c === "b" && s[0] > 1) || (c === "p" && m > 64) || (c === "l" && m % 8)) return null;
    f[k] =
      c <= "4"
        ? uint(s)
        : c === "b"
          ? s[0] === 1
          : c === "s" || c === "m"
            ? utf8Decode(s)
            : c === "l"
              ? Array.from({ length: m / 8 }, (_, i) => s.subarray(i * 8, i * 8 + 8))
              : s;
  }
  return o === n ? f : null;
}
