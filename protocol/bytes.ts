// Byte helpers shared by the library, the relay and the tools. Plain functions, nothing runs at import time.

export const utf8Encode = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);

// ignoreBOM keeps a leading U+FEFF in the text instead of silently stripping it.
export const utf8Decode = (b: Uint8Array): string => new TextDecoder(void 0, { ignoreBOM: true }).decode(b);

export const concat = (parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const r = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) r.set(p, o), (o += p.length);
  return r;
};

/** `x` as an unsigned big-endian integer of `n` bytes (frames' fields, u32 lengths and counters). */
export const int = (x: number, n: number): Uint8Array<ArrayBuffer> =>
  Uint8Array.from({ length: n }, (_, i) => (x / 256 ** (n - 1 - i)) & 255);
/** The unsigned big-endian integer in `b` (all of it). */
export const uint = (b: Uint8Array): number => b.reduce((a, x) => a * 256 + x, 0);

// Not constant-time: for ids and tests, never for secrets.
export const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export const hex = (b: Uint8Array): string => {
  let s = "";
  for (const x of b) s += (x < 16 ? "0" : "") + x.toString(16);
  return s;
};

// getRandomValues exists on non-secure origins too (unlike crypto.subtle).
export const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** Bytes from hex (pairs of hex digits; anything else yields garbage, never throws). */
export const fromHex = (h: string): Uint8Array<ArrayBuffer> => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
