// Parsers with the error texts of the Rust types ord deserializes (integers, inscription ids,
// sats, outpoints), and the sat arithmetic of the ordinals crate (sat.rs, epoch.rs, rarity.rs).
// Pure functions; they never throw on input, they return { ok: false, message }.

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

// ordinals crate sat.rs: Sat::SUPPLY; Sat::LAST = SUPPLY - 1.
export const SAT_LAST = 2099999997690000n - 1n;

/** Rust's `u{bits}::from_str` / `i{bits}::from_str` (leading '+' allowed, '-' for signed). */
export function parseRustInt(s: string, bits: number, signed: boolean): Parsed<bigint> {
  if (s === "") return { ok: false, message: "cannot parse integer from empty string" };
  let i = 0;
  let negative = false;
  if (s[0] === "+" || (signed && s[0] === "-")) {
    negative = s[0] === "-";
    i = 1;
    if (s.length === 1) return { ok: false, message: "invalid digit found in string" };
  }
  const digits = s.slice(i);
  if (!/^[0-9]+$/.test(digits)) return { ok: false, message: "invalid digit found in string" };
  const v = negative ? -BigInt(digits) : BigInt(digits);
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  if (v > max) return { ok: false, message: "number too large to fit in target type" };
  if (v < min) return { ok: false, message: "number too small to fit in target type" };
  return { ok: true, value: v };
}

/** ord src/inscriptions/inscription_id.rs `FromStr for InscriptionId`; returns the canonical form. */
export function parseInscriptionId(s: string): Parsed<string> {
  const nonAscii = [...s].find((c) => c.charCodeAt(0) > 127);
  if (nonAscii !== undefined) return { ok: false, message: `invalid character: '${nonAscii}'` };
  if (s.length < 66) return { ok: false, message: `invalid length: ${s.length}` };
  const sep = s[64]!;
  if (sep !== "i") return { ok: false, message: `invalid separator: \`${sep}\`` };
  const txid = parseTxid(s.slice(0, 64));
  if (!txid.ok) return { ok: false, message: `invalid txid: ${txid.message}` };
  const index = parseRustInt(s.slice(65), 32, false);
  if (!index.ok) return { ok: false, message: `invalid index: ${index.message}` };
  return { ok: true, value: `${txid.value}i${index.value}` };
}

/** bitcoin's `FromStr for Txid`: either case accepted, lowercase out. The error text approximates
 *  hex-conservative's InvalidCharError. */
export function parseTxid(s: string): Parsed<string> {
  if (s.length !== 64) return { ok: false, message: `odd length / expected 64 hex characters, got ${s.length}` };
  const bad = s.search(/[^0-9a-fA-F]/);
  if (bad >= 0) return { ok: false, message: `invalid hex char ${s[bad]} at pos ${bad}` };
  return { ok: true, value: s.toLowerCase() };
}

/** ordinals crate sat.rs `FromStr for Sat`: integers and names (degree/decimal/percentile are not supported here). */
export function parseSat(s: string): Parsed<bigint> {
  const fail = (kind: string): Parsed<bigint> => ({ ok: false, message: `failed to parse sat \`${s}\`: ${kind}` });
  if (/[a-z]/.test(s)) {
    let x = 0n;
    for (const c of s) {
      if (c < "a" || c > "z") return fail("invalid character in name");
      x = x * 26n + BigInt(c.charCodeAt(0) - 96);
      if (x > SAT_LAST + 1n) return fail("invalid name range");
    }
    return { ok: true, value: SAT_LAST + 1n - x };
  }
  if (s.includes("°") || s.includes("%") || s.includes(".")) {
    return fail("degree, percentile and decimal notation are not supported by the dev server");
  }
  const n = parseRustInt(s, 64, false);
  if (!n.ok) return fail(`invalid integer: ${n.message}`);
  if (n.value > SAT_LAST) return fail("invalid integer range");
  return { ok: true, value: n.value };
}

/** bitcoin's `FromStr for OutPoint` (ParseOutPointError texts). */
export function parseOutPoint(s: string): Parsed<string> {
  if (s.length > 75) return { ok: false, message: "OutPoint too long" };
  const colon = s.indexOf(":");
  if (colon < 0 || s.indexOf(":", colon + 1) >= 0) return { ok: false, message: "OutPoint not in <txid>:<vout> format" };
  const txid = parseTxid(s.slice(0, colon));
  if (!txid.ok) return { ok: false, message: "error parsing TXID" };
  const vout = s.slice(colon + 1);
  if (vout.length > 10) return { ok: false, message: "vout should be at most 10 digits" };
  if ((vout.length > 1 && vout[0] === "0") || vout[0] === "+") {
    return { ok: false, message: "no leading zeroes or + allowed in vout part" };
  }
  const v = parseRustInt(vout, 32, false);
  if (!v.ok) return { ok: false, message: "error parsing vout" };
  return { ok: true, value: `${txid.value}:${v.value}` };
}

export interface SatInfo {
  height: bigint;
  epoch: bigint;
  offset: bigint;
  cycle: bigint;
  period: bigint;
  decimal: string;
  degree: string;
  name: string;
  percentile: string;
  rarity: string;
  charms: string[];
}

/**
 * ordinals crate sat.rs: where sat `n` was mined and what that makes it. Charms are only the
 * rarity ones (charm.rs also has coin, nineball, palindrome, vintage, …, not computed here).
 */
export function satInfo(n: bigint): SatInfo {
  // epoch.rs: subsidy halves every 210,000 blocks from 50 BTC.
  let epoch = 0n;
  let start = 0n;
  for (;;) {
    const subsidy = (50n * 100_000_000n) >> epoch;
    const size = subsidy * 210_000n;
    if (subsidy === 0n || n < start + size) break;
    start += size;
    epoch++;
  }
  const subsidy = (50n * 100_000_000n) >> epoch;
  const height = epoch * 210_000n + (subsidy === 0n ? 0n : (n - start) / subsidy);
  const offset = subsidy === 0n ? 0n : (n - start) % subsidy;
  const cycle = epoch / 6n;
  let x = SAT_LAST + 1n - n;
  let name = "";
  while (x > 0n) {
    name = String.fromCharCode(97 + Number((x - 1n) % 26n)) + name;
    x = (x - 1n) / 26n;
  }
  // rarity.rs
  const rarity =
    n === 0n
      ? "mythic"
      : offset !== 0n
        ? "common"
        : height % (210_000n * 6n) === 0n
          ? "legendary"
          : height % 210_000n === 0n
            ? "epic"
            : height % 2016n === 0n
              ? "rare"
              : "uncommon";
  return {
    height,
    epoch,
    offset,
    cycle,
    period: height / 2016n,
    decimal: `${height}.${offset}`,
    degree: `${cycle}°${height % 210_000n}′${height % 2016n}″${offset}‴`,
    name,
    percentile: `${(Number(n) / Number(SAT_LAST)) * 100}%`,
    rarity,
    charms: rarity === "common" ? [] : [rarity],
  };
}
