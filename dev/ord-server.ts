// A local, ord-compatible HTTP server: the development tool for anyone writing inscriptions
// with Lumamesh, and the fixture the browser tests load inscriptions from.
//
// It serves an in-memory store of inscriptions with the same routes, status codes, header
// names/values and JSON shapes as `ord server` (ordinals/ord, read at commit 5241ef3):
//   src/subcommand/server.rs        routes, layers (CSP default, HSTS, CORS), fallback, /preview
//   src/subcommand/server/r.rs      recursive endpoints and content_response()
//   src/subcommand/server/error.rs  400 / 404 (Cache-Control: no-store) / 406 bodies
//   src/subcommand/server/accept_encoding.rs   Accept-Encoding matching
//   src/subcommand/server/server_config.rs     preview CSPs and --csp-origin
//   src/api.rs                      JSON key order and shapes
//   src/templates/iframe.rs, templates/preview-*.html, templates/inscription.html
// Path-parameter errors reproduce axum 0.8's `Path` rejection texts ("Invalid URL: ...").
//
// With `chain` (an OrdChainView, e.g. inscribe/testing's MemoryChain) it also indexes that
// chain as ord does: outputs and sat ranges for /r/utxo, /output and /sat, and every envelope
// revealed in a mined transaction becomes an inscription (index/updater/inscription_updater.rs,
// src/inscriptions/envelope.rs). Like ord, it sees blocks only, not the mempool: mine first.
//
// The server runs on node:http rather than Bun.serve: Bun.serve folds two headers of the same
// name into one comma-joined line, and ord sends its two Content-Security-Policy headers as two
// separate lines (r.rs content_response). node:http (Bun's implementation) keeps them apart.

import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { brotliDecompressSync } from "node:zlib";

/** What a caller gives `add()`; everything but the body is optional and filled deterministically. */
export interface InscriptionInput {
  id?: string;
  number?: number;
  sat?: number | null;
  height?: number;
  timestamp?: number;
  content_type?: string;
  content_encoding?: string;
  body?: Uint8Array | string | null;
  parents?: string[];
  delegate?: string;
  metadata?: Uint8Array;
  fee?: number;
  value?: number;
  address?: string | null;
  /** `<txid>:<vout>:<offset>`; defaults to `<txid>:0:0`. `output` is its first two parts. */
  satpoint?: string;
  charms?: string[];
}

/** One inscription as the store holds it. */
export interface Inscription {
  id: string;
  sequence: number;
  number: number;
  sat: number | null;
  height: number;
  timestamp: number;
  content_type: string | null;
  content_encoding: string | null;
  body: Uint8Array | null;
  parents: string[];
  delegate: string | null;
  metadata: Uint8Array | null;
  fee: number;
  value: number;
  address: string | null;
  satpoint: string;
  charms: string[];
}

/** An output as a chain view reports it; `height` null = in the mempool. */
export interface OrdChainOutput {
  value: number;
  script_pubkey: string;
  address: string | null;
  /** Ordinal sat ranges [start, end) in order. */
  sat_ranges: [number, number][];
  height: number | null;
  /** The spending transaction, or null while unspent. */
  spent: { txid: string; height: number | null } | null;
}

/** A transaction as a chain view reports it, in acceptance order; `height` null = mempool. */
export interface OrdChainTx {
  txid: string;
  hex: string;
  height: number | null;
  inputs: { outpoint: string; witness: Uint8Array[] }[];
  outputs: { value: number }[];
}

/**
 * What the server needs from a chain to index it like ord. Kept this small so dev/ depends on
 * no chain implementation; inscribe/testing/chain.ts's MemoryChain implements it.
 */
export interface OrdChainView {
  readonly height: number;
  output(outpoint: string): OrdChainOutput | null;
  outputs(): Iterable<[string, OrdChainOutput]>;
  transactions(): Iterable<OrdChainTx>;
}

export interface OrdServerOptions {
  host?: string;
  /** 0 (default) picks an ephemeral port. */
  port?: number;
  /** Folder holding a manifest.json (see docs/ord-server.md). */
  dir?: string;
  /** In-memory alternative (or addition) to `dir`, added after the folder's entries. */
  inscriptions?: InscriptionInput[];
  /** false = ord without --index-sats: every /r/sat* route answers 404. Default true. */
  satIndex?: boolean;
  /** ord's --csp-origin. */
  cspOrigin?: string;
  /** ord's --decompress: serve br content decompressed to clients that do not accept br. */
  decompress?: boolean;
  /** Starting chain height (a block is "mined" per inscription added without a height). */
  height?: number;
  /** Index this chain too (outputs, sat ranges, reveals in mined transactions). */
  chain?: OrdChainView;
  /** ord's --index-runes: `runes` is `{}` (no rune is ever etched here) instead of null. */
  runeIndex?: boolean;
}

export interface OrdServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  add(inscription: InscriptionInput): Inscription;
  store: Store;
  /** Paths requested, in order (query strings included). */
  log: string[];
}

// server.rs: const PAGE_SIZE: usize = 100; r.rs pages children/parents/sats by 100.
export const PAGE_SIZE = 100;
// ordinals crate sat.rs: Sat::SUPPLY; Sat::LAST = SUPPLY - 1.
const SAT_LAST = 2099999997690000n - 1n;
const GENESIS_TIME = 1231006505;
const POSTAGE = 10000; // ord's TARGET_POSTAGE, the default value of an inscription's output

// --- parsing, with the error texts of the Rust types ord deserializes ---

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

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

// bitcoin hex parsing accepts either case; Display prints lowercase. The error text approximates
// hex-conservative's InvalidCharError.
function parseTxid(s: string): Parsed<string> {
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

/**
 * ordinals crate sat.rs: where sat `n` was mined and what that makes it. Charms are only the
 * rarity ones (charm.rs also has coin, nineball, palindrome, vintage, …, not computed here).
 */
export function satInfo(n: bigint): {
  height: bigint; epoch: bigint; offset: bigint; cycle: bigint; period: bigint;
  decimal: string; degree: string; name: string; percentile: string; rarity: string; charms: string[];
} {
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
    n === 0n ? "mythic"
    : offset !== 0n ? "common"
    : height % (210_000n * 6n) === 0n ? "legendary"
    : height % 210_000n === 0n ? "epic"
    : height % 2016n === 0n ? "rare"
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

// --- the store ---

const sha256 = (data: Uint8Array | string): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** `<sha256(body)>i<n>`, n the first index not yet `taken`: the default id, stable across runs. */
export function sha256Id(body: Uint8Array, taken: (id: string) => boolean): string {
  const txid = hex(sha256(body));
  let index = 0;
  while (taken(`${txid}i${index}`)) index++;
  return `${txid}i${index}`;
}

/** Deterministic stand-in for a block hash at `height` (the dev chain has no real blocks). */
export function blockHash(height: number): string {
  return hex(sha256(`lumamesh dev ord block ${height}`));
}

// --- envelopes in witnesses (ord src/inscriptions/envelope.rs, inscription.rs, tag.rs) ---

/** One envelope's fields as ord reads them; byte values are raw. */
export interface Envelope {
  content_type: string | null;
  content_encoding: string | null;
  body: Uint8Array | null;
  metadata: Uint8Array | null;
  parents: string[];
  delegate: string | null;
  pointer: bigint | null;
}

type Instruction = { push: Uint8Array } | { op: number };

/** Script instructions; null when a push runs past the end (rust-bitcoin stops there too). */
function instructions(script: Uint8Array): Instruction[] | null {
  const out: Instruction[] = [];
  let i = 0;
  while (i < script.length) {
    const op = script[i++]!;
    let n = -1;
    if (op <= 0x4b) n = op;
    else if (op === 0x4c || op === 0x4d || op === 0x4e) {
      const w = op === 0x4c ? 1 : op === 0x4d ? 2 : 4;
      if (i + w > script.length) return null;
      n = 0;
      for (let k = w - 1; k >= 0; k--) n = n * 256 + script[i + k]!;
      i += w;
    }
    if (n < 0) out.push({ op });
    else {
      if (i + n > script.length) return null;
      out.push({ push: script.subarray(i, i + n) });
      i += n;
    }
  }
  return out;
}

/** bitcoin Witness::tapscript: the second-to-last element (third with an annex), script path only. */
function tapscript(witness: Uint8Array[]): Uint8Array | null {
  const annex = witness.length >= 2 && witness[witness.length - 1]![0] === 0x50 ? 1 : 0;
  return witness.length >= 2 + annex ? witness[witness.length - 2 - annex]! : null;
}

const ORD = new TextEncoder().encode("ord");
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, k) => x === b[k]);

/** InscriptionId::from_value: 32-byte txid (internal order) + LE index, trailing zeros stripped unless 4 bytes. */
function idFromValue(v: Uint8Array): string | null {
  if (v.length < 32 || v.length > 36) return null;
  const index = v.subarray(32);
  if (index.length !== 4 && index.length > 0 && index[index.length - 1] === 0) return null;
  let n = 0;
  for (let k = index.length - 1; k >= 0; k--) n = n * 256 + index[k]!;
  return `${hex(v.subarray(0, 32).slice().reverse())}i${n}`;
}

/** Every envelope in a witness, in order (RawEnvelope::from_tapscript + ParsedEnvelope::from). */
export function envelopesIn(witness: Uint8Array[]): Envelope[] {
  const script = tapscript(witness);
  const ins = script && instructions(script);
  if (!ins) return [];
  const found: Envelope[] = [];
  const isPush = (x: Instruction | undefined): x is { push: Uint8Array } => x !== undefined && "push" in x;
  for (let k = 0; k + 2 < ins.length; k++) {
    const a = ins[k]!;
    const b = ins[k + 1]!;
    const c = ins[k + 2];
    // OP_FALSE (an empty push) OP_IF push("ord")
    if (!(isPush(a) && a.push.length === 0 && "op" in b && b.op === 0x63 && isPush(c) && sameBytes(c.push, ORD))) continue;
    const payload: Uint8Array[] = [];
    let j = k + 3;
    let ended = false;
    for (; j < ins.length; j++) {
      const x = ins[j]!;
      if ("push" in x) payload.push(x.push);
      else if (x.op === 0x68) {
        ended = true;
        break;
      } else if (x.op === 0x4f) payload.push(new Uint8Array([0x81])); // OP_1NEGATE (pushnum)
      else if (x.op >= 0x51 && x.op <= 0x60) payload.push(new Uint8Array([x.op - 0x50])); // OP_1..OP_16 (pushnum)
      else break; // any other opcode ends the envelope unterminated
    }
    if (!ended) continue;
    k = j;
    // The body tag is the first empty push in a tag position; fields are the pairs before it.
    const bodyAt = payload.findIndex((p, i) => i % 2 === 0 && p.length === 0);
    const fields = new Map<number, Uint8Array[]>();
    const head = bodyAt < 0 ? payload : payload.slice(0, bodyAt);
    for (let i = 0; i + 1 < head.length; i += 2) {
      const tag = head[i]!;
      if (tag.length !== 1) continue; // multi-byte tags: unrecognized, odd or even alike here
      fields.set(tag[0]!, [...(fields.get(tag[0]!) ?? []), head[i + 1]!]);
    }
    const first = (t: number) => fields.get(t)?.[0] ?? null;
    const joined = (t: number) => (fields.has(t) ? concat(fields.get(t)!) : null);
    const utf8 = (v: Uint8Array | null) => (v === null ? null : new TextDecoder().decode(v));
    const ptr = first(2);
    let pointer: bigint | null = null;
    if (ptr !== null && ptr.subarray(8).every((x) => x === 0)) {
      pointer = 0n;
      for (let i = Math.min(ptr.length, 8) - 1; i >= 0; i--) pointer = pointer * 256n + BigInt(ptr[i]!);
    }
    const delegate = first(11);
    found.push({
      content_type: utf8(first(1)),
      content_encoding: utf8(first(9)),
      body: bodyAt < 0 ? null : concat(payload.slice(bodyAt + 1)),
      metadata: joined(5),
      parents: (fields.get(3) ?? []).map(idFromValue).filter((x): x is string => x !== null),
      delegate: delegate === null ? null : idFromValue(delegate),
      pointer,
    });
  }
  return found;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

// ord with --index-sats keeps spent outputs out of its UTXO table; it sees blocks, not the mempool.
const indexed = (o: OrdChainOutput) => o.height !== null;
const unspent = (o: OrdChainOutput) => o.spent === null || o.spent.height === null;

export class Store {
  readonly list: Inscription[] = [];
  private readonly byId = new Map<string, Inscription>();
  private readonly bySat = new Map<number, Inscription[]>();
  private readonly seenTxs = new Set<string>();
  height: number;

  constructor(
    height = 0,
    readonly chain: OrdChainView | null = null,
  ) {
    this.height = Math.max(height, chain?.height ?? 0);
  }

  /** Indexes what the chain mined since the last call: block height and every revealed envelope. */
  sync(): void {
    const chain = this.chain;
    if (!chain) return;
    this.height = Math.max(this.height, chain.height);
    for (const tx of chain.transactions()) {
      if (tx.height === null || this.seenTxs.has(tx.txid)) continue;
      this.seenTxs.add(tx.txid);
      this.indexReveal(tx, tx.height);
    }
  }

  // inscription_updater.rs index_inscriptions: ids count envelopes across all inputs; each lands
  // on the first sat of its input, or at `pointer` when that is inside the outputs.
  private indexReveal(tx: OrdChainTx, height: number): void {
    const chain = this.chain!;
    const inputs = tx.inputs.map((i) => chain.output(i.outpoint));
    const ranges = inputs.flatMap((o) => o?.sat_ranges ?? []);
    const inTotal = inputs.reduce((n, o) => n + (o?.value ?? 0), 0);
    const outTotal = tx.outputs.reduce((n, o) => n + o.value, 0);
    let index = 0;
    let inputOffset = 0;
    for (let k = 0; k < tx.inputs.length; k++) {
      for (const e of envelopesIn(tx.inputs[k]!.witness)) {
        const offset = e.pointer !== null && e.pointer < BigInt(outTotal) ? Number(e.pointer) : inputOffset;
        let sat: number | null = null;
        let o = offset;
        for (const [a, b] of ranges) {
          if (o < b - a) {
            sat = a + o;
            break;
          }
          o -= b - a;
        }
        // Where the offset falls among the outputs; past them it went to fees (ord: the coinbase).
        let satpoint = `${"0".repeat(64)}:0:${offset}`;
        let value = 0;
        let address: string | null = null;
        let rest = offset;
        for (let v = 0; v < tx.outputs.length; v++) {
          const out = tx.outputs[v]!;
          if (rest < out.value) {
            satpoint = `${tx.txid}:${v}:${rest}`;
            value = out.value;
            address = chain.output(`${tx.txid}:${v}`)?.address ?? null;
            break;
          }
          rest -= out.value;
        }
        const id = `${tx.txid}i${index++}`;
        if (this.byId.has(id)) continue;
        this.add({
          id,
          sat,
          height,
          ...(e.content_type !== null ? { content_type: e.content_type } : {}),
          ...(e.content_encoding !== null ? { content_encoding: e.content_encoding } : {}),
          body: e.body,
          parents: e.parents,
          ...(e.delegate !== null ? { delegate: e.delegate } : {}),
          ...(e.metadata !== null ? { metadata: e.metadata } : {}),
          fee: inTotal - outTotal,
          value,
          address,
          satpoint,
        });
      }
      inputOffset += inputs[k]?.value ?? 0;
    }
  }

  /** `<outpoint>:<offset>` of the unspent indexed chain output holding `sat`, if the chain has one. */
  chainSatpoint(sat: number): string | null {
    if (!this.chain) return null;
    for (const [op, o] of this.chain.outputs()) {
      if (!indexed(o) || !unspent(o)) continue;
      let off = 0;
      for (const [a, b] of o.sat_ranges) {
        if (sat >= a && sat < b) return `${op}:${off + sat - a}`;
        off += b - a;
      }
    }
    return null;
  }

  /** The chain output as ord has indexed it (created in a block), or null. */
  chainOutput(outpoint: string): OrdChainOutput | null {
    const o = this.chain?.output(outpoint) ?? null;
    return o && indexed(o) ? o : null;
  }

  /** Inscriptions now in `outpoint`, by offset then age (ord's SATPOINT_TO_SEQUENCE_NUMBER order). */
  inOutput(outpoint: string): Inscription[] {
    const at = this.list
      .map((i) => [i, this.location(i)] as const)
      .filter(([, sp]) => sp.startsWith(`${outpoint}:`))
      .map(([i, sp]) => [i, Number(sp.slice(sp.lastIndexOf(":") + 1))] as const);
    return at.sort((x, y) => x[1] - y[1] || x[0].sequence - y[0].sequence).map(([i]) => i);
  }

  get(id: string): Inscription | undefined {
    return this.byId.get(id);
  }

  onSat(sat: number): Inscription[] {
    return this.bySat.get(sat) ?? [];
  }

  /** Adds one inscription, filling what is missing deterministically; throws TypeError on bad input. */
  add(input: InscriptionInput): Inscription {
    const body =
      input.body == null ? null : typeof input.body === "string" ? new TextEncoder().encode(input.body) : input.body;
    const sequence = this.list.length;
    let id: string;
    if (input.id !== undefined) {
      const p = parseInscriptionId(input.id);
      if (!p.ok) throw new TypeError(`ord-server: bad inscription id ${JSON.stringify(input.id)}: ${p.message}`);
      id = p.value;
    } else {
      id = sha256Id(body ?? new Uint8Array(), (candidate) => this.byId.has(candidate));
    }
    if (this.byId.has(id)) throw new TypeError(`ord-server: duplicate inscription id ${id}`);
    const check = (what: string, v: string): string => {
      const p = parseInscriptionId(v);
      if (!p.ok) throw new TypeError(`ord-server: bad ${what} id ${JSON.stringify(v)}: ${p.message}`);
      return p.value;
    };
    const parents = (input.parents ?? []).map((p) => check("parent", p));
    const delegate = input.delegate === undefined ? null : check("delegate", input.delegate);
    let height: number;
    if (input.height !== undefined) {
      height = input.height;
      this.height = Math.max(this.height, height);
    } else if (this.chain) {
      height = this.height; // a real chain makes the blocks; an added inscription joins the tip
    } else {
      height = ++this.height; // one reveal, one block: what a regtest chain shows
    }
    const sat = input.sat === undefined ? height * 5_000_000_000 + 1000 + sequence : input.sat;
    if (sat !== null && (!Number.isSafeInteger(sat) || sat < 0 || BigInt(sat) > SAT_LAST)) {
      throw new RangeError(`ord-server: sat out of range: ${sat}`);
    }
    const txid = id.slice(0, 64);
    const satpoint = input.satpoint ?? `${txid}:0:0`;
    if (!/^[0-9a-f]{64}:\d+:\d+$/.test(satpoint)) throw new TypeError(`ord-server: bad satpoint ${satpoint}`);
    const earlier = sat === null ? [] : this.onSat(sat);
    // index/updater/inscription_updater.rs sets Reinscription on every later inscription on a sat.
    const charms = input.charms ?? (earlier.length > 0 ? ["reinscription"] : []);
    const inscription: Inscription = {
      id,
      sequence,
      number: input.number ?? this.list.filter((i) => i.number >= 0).length,
      sat,
      height,
      timestamp: input.timestamp ?? GENESIS_TIME + height * 600,
      content_type: input.content_type ?? null,
      content_encoding: input.content_encoding ?? null,
      body,
      parents,
      delegate,
      metadata: input.metadata ?? null,
      fee: input.fee ?? 0,
      value: input.value ?? POSTAGE,
      address: input.address ?? null,
      satpoint,
      charms,
    };
    this.list.push(inscription);
    this.byId.set(id, inscription);
    if (sat !== null) this.bySat.set(sat, [...earlier, inscription]);
    return inscription;
  }

  /** Where the inscription is now: reinscribing a sat moves the sat, and with it every inscription on it. */
  location(i: Inscription): string {
    if (i.sat === null) return i.satpoint;
    const onChain = this.chainSatpoint(i.sat);
    if (onChain !== null) return onChain;
    const on = this.onSat(i.sat);
    return on[on.length - 1]!.satpoint;
  }

  /** Parents ord recorded: those already inscribed when the child was (updater skips unknown parents). */
  parentsOf(i: Inscription): Inscription[] {
    const out: Inscription[] = [];
    for (const p of i.parents) {
      const parent = this.byId.get(p);
      if (parent && parent.sequence < i.sequence && !out.includes(parent)) out.push(parent);
    }
    return out;
  }

  childrenOf(parent: Inscription): Inscription[] {
    return this.list.filter((c) => c.sequence > parent.sequence && this.parentsOf(c).includes(parent));
  }
}

// --- responses ---

export interface Reply {
  status: number;
  headers: [string, string][];
  body: Uint8Array | string;
}

const TEXT = "text/plain; charset=utf-8";
const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json";

const text = (status: number, body: string, headers: [string, string][] = []): Reply => ({
  status,
  headers: [["content-type", TEXT], ...headers],
  body,
});
// error.rs: NotFound is 404 + Cache-Control: no-store + the message as text.
const notFound = (message: string): Reply => text(404, message, [["cache-control", "no-store"]]);
const json = (body: string, headers: [string, string][] = [], status = 200): Reply => ({
  status,
  headers: [["content-type", JSON_TYPE], ...headers],
  body,
});
const html = (body: string, headers: [string, string][] = []): Reply => ({
  status: 200,
  headers: [["content-type", HTML], ...headers],
  body,
});
// axum's FailedToDeserializePathParams: 400 with "Invalid URL: <kind>".
const badPath = (kind: string): Reply => text(400, `Invalid URL: ${kind}`);
const internal = (): Reply => text(500, "Internal Server Error");

interface Config {
  satIndex: boolean;
  cspOrigin: string | null;
  decompress: boolean;
  runeIndex?: boolean;
}

class Rejection {
  constructor(readonly reply: Reply) {}
}

// Path extraction, as axum does it. A route with ONE parameter deserializes it with its name
// as key; a route with several deserializes a tuple, where errors carry an index instead.
function idParam(key: string, value: string, single: boolean): string {
  const p = parseInscriptionId(value);
  if (p.ok) return p.value;
  throw new Rejection(badPath(single ? `Cannot parse \`${key}\` with value \`${value}\`: ${p.message}` : p.message));
}

function intParam(key: string, value: string, at: number | null, bits: number, signed: boolean): bigint {
  const p = parseRustInt(value, bits, signed);
  if (p.ok) return p.value;
  const type = `${signed ? "i" : "u"}${bits}`;
  throw new Rejection(
    badPath(
      at === null
        ? `Cannot parse \`${key}\` with value \`${value}\` to a \`${type}\``
        : `Cannot parse value at index ${at} with value \`${value}\` to a \`${type}\``,
    ),
  );
}

function satParam(value: string): bigint {
  // r.rs: Path<(DeserializeFromStr<Sat>, isize)>; ord's DeserializeFromStr fails after the
  // String is read, so axum reports the bare message (cf. server.rs test sat_out_of_range).
  const p = parseSat(value);
  if (p.ok) return p.value;
  throw new Rejection(badPath(p.message));
}

function acceptable(acceptEncoding: string | null, encoding: string): boolean {
  // accept_encoding.rs is_acceptable: split on ',', drop ';q=..', trim, compare exactly.
  return (acceptEncoding ?? "").split(",").some((v) => (v.split(";")[0] ?? "").trim() === encoding);
}

function contentSecurityPolicy(config: Config): [string, string][] {
  // r.rs content_response: two CSP headers, or one naming --csp-origin.
  if (config.cspOrigin === null) {
    return [
      ["content-security-policy", "default-src 'self' 'unsafe-eval' 'unsafe-inline' data: blob:"],
      [
        "content-security-policy",
        "default-src *:*/content/ *:*/blockheight *:*/blockhash *:*/blockhash/ *:*/blocktime *:*/r/ 'unsafe-eval' 'unsafe-inline' data: blob:",
      ],
    ];
  }
  const o = config.cspOrigin;
  return [
    [
      "content-security-policy",
      `default-src ${o}/content/ ${o}/blockheight ${o}/blockhash ${o}/blockhash/ ${o}/blocktime ${o}/r/ 'unsafe-eval' 'unsafe-inline' data: blob:`,
    ],
  ];
}

/** r.rs content_response; null when the inscription has no body (the caller 404s). */
function contentResponse(i: Inscription, acceptEncoding: string | null, config: Config, cache: boolean): Reply | null {
  const headers: [string, string][] = contentSecurityPolicy(config);
  headers.push(["cache-control", cache ? "public, max-age=1209600, immutable" : "no-store"]);
  headers.push(["content-type", i.content_type ?? "application/octet-stream"]);
  if (i.content_encoding !== null) {
    if (acceptable(acceptEncoding, i.content_encoding)) {
      headers.push(["content-encoding", i.content_encoding]);
    } else if (config.decompress && i.content_encoding === "br") {
      if (i.body === null) return null;
      return { status: 200, headers, body: new Uint8Array(brotliDecompressSync(i.body)) };
    } else {
      // error.rs NotAcceptable
      const tail =
        acceptEncoding === null
          ? " `Accept-Encoding` header not present"
          : ` \`Accept-Encoding\` header: \`${acceptEncoding}\``;
      return text(406, `inscription content encoding \`${i.content_encoding}\` is not acceptable.${tail}`);
    }
  }
  if (i.body === null) return null;
  return { status: 200, headers, body: i.body };
}

/** r.rs content_inner: follows one delegate, as ord does. */
function content(store: Store, config: Config, id: string, acceptEncoding: string | null, cache: boolean): Reply {
  let i = store.get(id);
  if (!i) return notFound(`inscription ${id} not found`);
  if (i.delegate !== null) {
    i = store.get(i.delegate);
    if (!i) return notFound(`delegate ${id} not found`);
  }
  return contentResponse(i, acceptEncoding, config, cache) ?? notFound(`inscription ${id} content not found`);
}

// api.rs InscriptionRecursive, in declaration order (serde_json keeps it).
function inscriptionRecursiveJson(store: Store, i: Inscription): string {
  const satpoint = store.location(i);
  return JSON.stringify({
    charms: i.charms,
    content_type: i.content_type,
    content_length: i.body === null ? null : i.body.length,
    delegate: i.delegate,
    fee: i.fee,
    height: i.height,
    id: i.id,
    number: i.number,
    output: satpoint.split(":").slice(0, 2).join(":"),
    sat: i.sat,
    satpoint,
    timestamp: i.timestamp,
    value: i.value,
    address: i.address,
  });
}

function relativeInscription(store: Store, i: Inscription): Record<string, unknown> {
  const satpoint = store.location(i);
  // api.rs RelativeInscriptionRecursive
  return {
    charms: i.charms,
    fee: i.fee,
    height: i.height,
    id: i.id,
    number: i.number,
    output: satpoint.split(":").slice(0, 2).join(":"),
    sat: i.sat,
    satpoint,
    timestamp: i.timestamp,
  };
}

/** index.rs *_paginated: skip page*size, take size+1, more = got more than size. */
function paginate<T>(items: T[], page: bigint): { items: T[]; more: boolean } {
  const start = page * BigInt(PAGE_SIZE);
  if (start >= BigInt(items.length)) return { items: [], more: false };
  const slice = items.slice(Number(start), Number(start) + PAGE_SIZE + 1);
  const more = slice.length > PAGE_SIZE;
  return { items: more ? slice.slice(0, PAGE_SIZE) : slice, more };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// server_config.rs preview_content_security_policy + media.rs TABLE.
type Media = "audio" | "code" | "font" | "iframe" | "image" | "markdown" | "model" | "pdf" | "text" | "unknown" | "video";
const MEDIA: Record<string, [Media, string?]> = {
  "application/cbor": ["unknown"],
  "application/json": ["code", "json"],
  "application/octet-stream": ["unknown"],
  "application/pdf": ["pdf"],
  "application/pgp-signature": ["text"],
  "application/protobuf": ["unknown"],
  "application/x-bittorrent": ["unknown"],
  "application/x-javascript": ["code", "javascript"],
  "application/yaml": ["code", "yaml"],
  "audio/flac": ["audio"],
  "audio/mpeg": ["audio"],
  "audio/ogg": ["audio"],
  "audio/ogg;codecs=opus": ["audio"],
  "audio/wav": ["audio"],
  "font/otf": ["font"],
  "font/ttf": ["font"],
  "font/woff": ["font"],
  "font/woff2": ["font"],
  "image/apng": ["image", "pixelated"],
  "image/avif": ["image", "auto"],
  "image/gif": ["image", "pixelated"],
  "image/jpeg": ["image", "pixelated"],
  "image/jxl": ["image", "auto"],
  "image/png": ["image", "pixelated"],
  "image/svg+xml": ["iframe"],
  "image/webp": ["image", "pixelated"],
  "model/gltf+json": ["model"],
  "model/gltf-binary": ["model"],
  "model/stl": ["unknown"],
  "text/css": ["code", "css"],
  "text/html": ["iframe"],
  "text/html;charset=utf-8": ["iframe"],
  "text/javascript": ["code", "javascript"],
  "text/markdown": ["markdown"],
  "text/markdown;charset=utf-8": ["markdown"],
  "text/plain": ["text"],
  "text/plain;charset=utf-8": ["text"],
  "text/x-python": ["code", "python"],
  "video/mp4": ["video"],
  "video/webm": ["video"],
};
const PREVIEW_CSP: Record<Exclude<Media, "iframe">, string> = {
  audio: "default-src 'self'",
  code: "script-src-elem 'self' https://cdn.jsdelivr.net",
  font: "script-src-elem 'self'; style-src 'self' 'unsafe-inline'",
  image: "default-src 'self' 'unsafe-inline'",
  markdown: "script-src-elem 'self' https://cdn.jsdelivr.net",
  model: "script-src-elem 'self' https://ajax.googleapis.com",
  pdf: "script-src-elem 'self' https://cdn.jsdelivr.net",
  text: "default-src 'self'",
  unknown: "default-src 'self'",
  video: "default-src 'self'",
};

const PREVIEW_UNKNOWN = `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
  </head>
  <body>
  </body>
</html>
`;

/** templates/preview-*.html, with the same markup. */
function previewHtml(media: Exclude<Media, "iframe">, extra: string | undefined, id: string, number: number): string {
  const head = (more: string) =>
    `<!doctype html>\n<html lang=en>\n  <head>\n    <meta charset=utf-8>\n    <title>Inscription ${number} Preview</title>\n${more}  </head>\n`;
  switch (media) {
    case "audio":
      return `${head("    <link rel=stylesheet href=/static/preview-audio.css>\n")}  <body>\n    <audio controls>\n      <source src=/content/${id}>\n    </audio>\n  </body>\n</html>\n`;
    case "code":
      return `<!doctype html>\n<html lang=en data-inscription=${id} data-language=${extra}>\n  <head>\n    <meta charset=utf-8>\n    <title>Inscription ${number} Preview</title>\n    <link rel=stylesheet href=/static/preview-code.css>\n    <script src=/static/preview-code.js defer type=module></script>\n  </head>\n  <body>\n    <pre><code></code></pre>\n  </body>\n</html>\n`;
    case "font":
      return `${head(`    <style>\n      @font-face {\n        font-family: 'Inscription';\n        src: url(/content/${id});\n      }\n    </style>\n    <link rel=stylesheet href=/static/preview-font.css>\n`)}  <body>\n    <textarea>Sphinx of black quartz, judge my vow.</textarea>\n  </body>\n</html>\n`;
    case "image":
      return `<!doctype html>\n<html lang=en>\n  <head>\n    <meta charset=utf-8>\n    <meta name=format-detection content='telephone=no'>\n    <title>Inscription ${number} Preview</title>\n    <style>\n      html {\n        background-color: #131516;\n        height: 100%;\n      }\n\n      body {\n        background-image: url(/content/${id});\n        background-position: center;\n        background-repeat: no-repeat;\n        background-size: contain;\n        height: 100%;\n        image-rendering: ${extra};\n        margin: 0;\n      }\n\n      img {\n        float: left;\n        height: 100%;\n        opacity: 0;\n        width: 100%;\n      }\n    </style>\n    <script src=/static/preview-image.js type=module defer></script>\n  </head>\n  <body>\n    <img src=/content/${id} alt='inscription ${id}'>\n  </body>\n</html>\n`;
    case "markdown":
      return `<!doctype html>\n<html lang=en data-inscription=${id}>\n  <head>\n    <meta charset=utf-8>\n    <title>Inscription ${number} Preview</title>\n    <link rel=stylesheet href=/static/preview-markdown.css></link>\n    <script src=/static/preview-markdown.js type=module defer></script>\n  </head>\n  <body>\n  </body>\n</html>\n`;
    case "model":
      return `${head(`    <script type=module src=https://ajax.googleapis.com/ajax/libs/model-viewer/3.1.1/model-viewer.min.js></script>\n    <style>\n      model-viewer {\n        position: fixed;\n        width: 100%;\n        height: 100%;\n      }\n    </style>\n`)}  <body>\n    <model-viewer src=/content/${id} auto-rotate=true camera-controls=true shadow-intensity=1></model-viewer>\n  </body>\n</html>\n`;
    case "pdf":
      return `${head("    <link rel=stylesheet href=/static/preview-pdf.css>\n    <script src=/static/preview-pdf.js defer type=module></script>\n")}  <body>\n    <canvas data-inscription=${id}></canvas>\n  </body>\n</html>\n`;
    case "text":
      return `<!doctype html>\n<html lang=en data-inscription=${id}>\n  <head>\n    <meta charset=utf-8>\n    <meta name=format-detection content='telephone=no'>\n    <title>Inscription ${number} Preview</title>\n    <link href=/static/preview-text.css rel=stylesheet>\n    <script src=/static/preview-text.js type=module defer></script>\n  </head>\n  <body>\n    <pre></pre>\n    <noscript>\n      <pre></pre>\n    </noscript>\n  </body>\n</html>\n`;
    case "video":
      return `${head("    <link rel=stylesheet href=/static/preview-video.css>\n    <script src=/static/preview-video.js type=module defer></script>\n")}  <body>\n    <video loop muted autoplay>\n      <source src=/content/${id}>\n    </video>\n  </body>\n</html>\n`;
    case "unknown":
      return PREVIEW_UNKNOWN;
  }
}

/** server.rs preview(). */
function preview(store: Store, config: Config, id: string, acceptEncoding: string | null): Reply {
  let i = store.get(id);
  if (!i) return notFound(`inscription ${id} not found`);
  const number = i.number;
  if (i.delegate !== null) {
    i = store.get(i.delegate);
    if (!i) return notFound(`delegate ${id} not found`);
  }
  // inscription.rs media(): no body or no content type → Unknown.
  const [media, extra] = i.body === null || i.content_type === null ? ["unknown" as Media] : (MEDIA[i.content_type] ?? ["unknown"]);
  if (media === "iframe") {
    return contentResponse(i, acceptEncoding, config, true) ?? notFound(`inscription ${id} content not found`);
  }
  let csp = PREVIEW_CSP[media];
  if (config.cspOrigin !== null) csp = csp.replaceAll("'self'", config.cspOrigin);
  // ord passes the *outer* inscription's id (and number) to the template, not the delegate's.
  return html(previewHtml(media, extra, id, number), [["content-security-policy", csp]]);
}

/** templates/iframe.rs IframeKind::Main. */
export function iframeMain(id: string): string {
  return `<iframe sandbox=allow-scripts loading=lazy src=/preview/${id}></iframe>`;
}

/** templates/iframe.rs IframeKind::Thumbnail. */
export function iframeThumbnail(id: string): string {
  return `<a href=/inscription/${id}><iframe sandbox=allow-scripts scrolling=no loading=lazy src=/preview/${id}></iframe></a>`;
}

function page(title: string, main: string): string {
  return `<!doctype html>
<html lang=en>
  <head>
    <meta charset=utf-8>
    <meta name=viewport content='width=device-width,initial-scale=1.0'>
    <title>${escapeHtml(title)}</title>
    <style>
      body { font-family: system-ui, sans-serif; margin: 1rem 2rem; background: #131516; color: #ddd; }
      a { color: #7fb3ff; }
      iframe { border: none; width: 100%; aspect-ratio: 1; background: #000; }
      .inscription iframe { max-width: 40rem; }
      dt { font-weight: bold; margin-top: .5rem; }
      table { border-collapse: collapse; } td, th { padding: .2rem .6rem; text-align: left; }
    </style>
  </head>
  <body>
  <header><nav><a href=/>ord dev server</a></nav></header>
  <main>
${main}
  </main>
  </body>
</html>
`;
}

function homePage(store: Store, config: Config): string {
  const rows = [...store.list]
    .reverse()
    .map(
      (i) =>
        `<tr><td><a href=/inscription/${i.id}>${i.number}</a></td><td><a href=/inscription/${i.id}>${i.id}</a></td>` +
        `<td>${escapeHtml(i.content_type ?? "")}${i.content_encoding ? ` (${escapeHtml(i.content_encoding)})` : ""}</td>` +
        `<td>${i.sat ?? ""}</td><td><a href=/content/${i.id}>content</a></td>` +
        (config.satIndex && i.sat !== null ? `<td><a href=/r/sat/${i.sat}/at/-1/content>sat latest</a></td>` : "<td></td>") +
        `</tr>`,
    )
    .join("\n");
  return page(
    "Ordinals",
    `<h1>Inscriptions</h1>
<p>block height ${store.height} · ${store.list.length} inscription(s) · sat index ${config.satIndex ? "on" : "off"}</p>
<table>
<tr><th>number</th><th>id</th><th>content type</th><th>sat</th><th></th><th></th></tr>
${rows}
</table>`,
  );
}

function inscriptionPage(store: Store, i: Inscription): string {
  const parents = store.parentsOf(i);
  const children = store.childrenOf(i);
  const prev = store.list[i.sequence - 1];
  const next = store.list[i.sequence + 1];
  const dd = (k: string, v: string) => `  <dt>${k}</dt>\n  <dd>${v}</dd>\n`;
  return page(
    `Inscription ${i.number}`,
    `<h1>Inscription ${i.number}</h1>
<div class=inscription>
${prev ? `<a class=prev href=/inscription/${prev.id}>❮</a>` : "<div>❮</div>"}
${iframeMain(i.id)}
${next ? `<a class=next href=/inscription/${next.id}>❯</a>` : "<div>❯</div>"}
</div>
<dl>
${parents.length ? dd("parents", parents.map((p) => `<a href=/inscription/${p.id}>${p.id}</a>`).join("<br>")) : ""}${
      children.length ? dd("children", children.map((c) => `<a href=/inscription/${c.id}>${c.id}</a>`).join("<br>")) : ""
    }${dd("id", i.id)}${i.delegate ? dd("delegate", `<a href=/inscription/${i.delegate}>${i.delegate}</a>`) : ""}${
      i.address ? dd("address", escapeHtml(i.address)) : ""
    }${dd("value", String(i.value))}${i.sat !== null ? dd("sat", String(i.sat)) : ""}${dd(
      "preview",
      `<a href=/preview/${i.id}>link</a>`,
    )}${dd("content", `<a href=/content/${i.id}>link</a>`)}${i.body ? dd("content length", `${i.body.length} bytes`) : ""}${
      i.content_type ? dd("content type", escapeHtml(i.content_type)) : ""
    }${i.content_encoding ? dd("content encoding", escapeHtml(i.content_encoding)) : ""}${dd("timestamp", new Date(i.timestamp * 1000).toISOString())}${dd(
      "height",
      String(i.height),
    )}${dd("fee", String(i.fee))}${dd("satpoint", store.location(i))}${i.metadata ? dd("metadata", hex(i.metadata)) : ""}</dl>`,
  );
}

/** api.rs Inscription, for /inscription/<id> with `Accept: application/json` (server.rs inscription_inner). */
function inscriptionJson(store: Store, i: Inscription): string {
  const target = i.delegate === null ? i : store.get(i.delegate);
  const satpoint = store.location(i);
  const children = store.childrenOf(i);
  return JSON.stringify({
    address: i.address,
    charms: i.charms,
    child_count: children.length,
    children: children.slice(0, 4).map((c) => c.id),
    content_length: i.body === null ? null : i.body.length,
    content_type: i.content_type,
    effective_content_type: target ? target.content_type : null,
    fee: i.fee,
    height: i.height,
    id: i.id,
    metaprotocol: null,
    next: store.list[i.sequence + 1]?.id ?? null,
    number: i.number,
    parents: store.parentsOf(i).slice(0, 4).map((p) => p.id),
    previous: store.list[i.sequence - 1]?.id ?? null,
    properties: { gallery: [], attributes: { title: null, traits: {} } },
    rune: null,
    sat: i.sat,
    satpoint,
    timestamp: i.timestamp,
    value: i.value,
  });
}

// The route table: axum patterns from server.rs, matched segment by segment.
type Params = Record<string, string>;
type Handler = (p: Params, req: { accept: string | null; acceptEncoding: string | null }) => Reply;

const INSCRIPTION_ID_RE = /^[0-9a-f]{64}i\d+$/i; // src/re.rs INSCRIPTION_ID (simplified)
const INSCRIPTION_NUMBER_RE = /^-?[0-9]+$/;

function routes(store: Store, config: Config): [string, Handler][] {
  const noSatIndex = () => notFound("this server has no sat index");
  const tipHeight = () => store.height;
  /** index.rs get_utxo_recursive: from the chain when it has the output, else from the store. */
  const utxoOf = (
    outpoint: string,
  ): { inscriptions: string[]; runes: Record<string, never> | null; sat_ranges: [number, number][] | null; value: number; address: string | null } | null => {
    const runes = config.runeIndex ? {} : null; // no rune is ever etched on these chains
    const c = store.chainOutput(outpoint);
    const here = store.inOutput(outpoint);
    if (c) {
      return { inscriptions: here.map((i) => i.id), runes, sat_ranges: config.satIndex ? c.sat_ranges : null, value: c.value, address: c.address };
    }
    // Without a chain output: the outputs the store's inscriptions sit in. The dev chain only
    // knows inscribed sats: model the output as one range starting at the lowest inscribed sat
    // and `value` sats long (ord's ranges also sum to the value).
    if (here.length === 0) return null;
    const value = here[here.length - 1]!.value;
    const sats = here.map((i) => i.sat).filter((s): s is number => s !== null);
    const first = sats.length ? Math.min(...sats) : null;
    const ranges: [number, number][] | null = config.satIndex ? (first === null ? [] : [[first, first + value]]) : null;
    return { inscriptions: here.map((i) => i.id), runes, sat_ranges: ranges, value, address: here[here.length - 1]!.address };
  };
  const needChild = (id: string, kind: string): Inscription => {
    const i = store.get(id);
    if (!i) throw new Rejection(notFound(`inscription ${id}${kind}`));
    return i;
  };
  // The children/parents routes share their id, page and lookup; only the relation differs.
  const related = (p: Params, paged: boolean, rel: "childrenOf" | "parentsOf") => {
    const id = idParam("inscription_id", p.inscription_id!, !paged);
    const page = paged ? intParam("page", p.page!, 1, 64, false) : 0n;
    return { page, r: paginate(store[rel](needChild(id, " not found")), page) };
  };
  const childIds = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "childrenOf");
    // api.rs Children {ids, more, page}; written by hand so a u64 page is echoed exactly.
    return json(`{"ids":${JSON.stringify(r.items.map((i) => i.id))},"more":${r.more},"page":${page}}`);
  };
  const childInscriptions = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "childrenOf");
    return json(
      `{"children":${JSON.stringify(r.items.map((i) => relativeInscription(store, i)))},"more":${r.more},"page":${page}}`,
    );
  };
  const parentIds = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "parentsOf");
    // r.rs parents_paginated: u32::try_from(page) fails → anyhow error → 500.
    if (page > 0xffffffffn) return internal();
    return json(`{"ids":${JSON.stringify(r.items.map((i) => i.id))},"more":${r.more},"page_index":${page}}`);
  };
  const parentInscriptions = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "parentsOf");
    return json(
      `{"parents":${JSON.stringify(r.items.map((i) => relativeInscription(store, i)))},"more":${r.more},"page":${page}}`,
    );
  };
  const satIds = (p: Params, paged: boolean) => {
    const sat = intParam("sat_number", p.sat_number!, paged ? 0 : null, 64, false);
    const page = paged ? intParam("page", p.page!, 1, 64, false) : 0n;
    if (!config.satIndex) return noSatIndex();
    const on = sat > BigInt(Number.MAX_SAFE_INTEGER) ? [] : store.onSat(Number(sat));
    const r = paginate(on, page);
    return json(`{"ids":${JSON.stringify(r.items.map((i) => i.id))},"more":${r.more},"page":${page}}`);
  };
  const satAt = (p: Params): { index: bigint; found: Inscription | null; sat: bigint } | Reply => {
    const sat = satParam(p.sat_number!);
    const index = intParam("index", p.index!, 1, 64, true);
    if (!config.satIndex) return noSatIndex();
    const on = store.onSat(Number(sat));
    // index.rs get_inscription_id_by_sat_indexed: negative counts back from the newest (-1 = newest).
    const k = index < 0n ? BigInt(on.length) + index : index;
    const found = k >= 0n && k < BigInt(on.length) ? on[Number(k)]! : null;
    return { index, found, sat };
  };
  return [
    ["/", () => html(homePage(store, config))],
    // r.rs blockheight_string etc.: plain text; /r/blockhash is a JSON string.
    ["/blockheight", () => text(200, String(tipHeight()))],
    ["/blockhash", () => text(200, blockHash(tipHeight()))],
    [
      "/blockhash/{height}",
      (p) => {
        const h = intParam("height", p.height!, null, 32, false);
        return h > BigInt(tipHeight()) ? notFound("blockhash not found") : text(200, blockHash(Number(h)));
      },
    ],
    ["/blocktime", () => text(200, String(GENESIS_TIME + tipHeight() * 600))],
    ["/r/blockhash", () => json(JSON.stringify(blockHash(tipHeight())))],
    [
      "/r/blockhash/{height}",
      (p) => {
        const h = intParam("height", p.height!, null, 32, false);
        return h > BigInt(tipHeight()) ? notFound("blockhash not found") : json(JSON.stringify(blockHash(Number(h))));
      },
    ],
    ["/r/blockheight", () => text(200, String(tipHeight()))],
    ["/r/blocktime", () => text(200, String(GENESIS_TIME + tipHeight() * 600))],
    ["/content/{inscription_id}", (p, r) => content(store, config, idParam("inscription_id", p.inscription_id!, true), r.acceptEncoding, true)],
    ["/preview/{inscription_id}", (p, r) => preview(store, config, idParam("inscription_id", p.inscription_id!, true), r.acceptEncoding)],
    [
      "/inscription/{inscription_query}",
      (p, r) => {
        const q = p.inscription_query!;
        let i: Inscription | undefined;
        if (INSCRIPTION_ID_RE.test(q)) {
          const id = parseInscriptionId(q);
          if (!id.ok) return badPath(id.message);
          i = store.get(id.value);
        } else if (INSCRIPTION_NUMBER_RE.test(q)) {
          const n = parseRustInt(q, 32, true);
          if (!n.ok) return badPath(n.message);
          i = store.list.find((x) => x.number === Number(n.value));
        } else {
          return badPath(`bad inscription query ${q}`);
        }
        // server.rs inscription_inner: JSON when `Accept: application/json` (exact match).
        if (r.accept === "application/json") {
          return i ? json(inscriptionJson(store, i)) : json("null", [], 404);
        }
        return i ? html(inscriptionPage(store, i)) : notFound(`inscription ${q} not found`);
      },
    ],
    [
      "/r/inscription/{inscription_id}",
      (p) => {
        const id = idParam("inscription_id", p.inscription_id!, true);
        const i = store.get(id);
        return i ? json(inscriptionRecursiveJson(store, i)) : notFound(`inscription ${id} not found`);
      },
    ],
    ["/r/children/{inscription_id}", (p) => childIds(p, false)],
    ["/r/children/{inscription_id}/{page}", (p) => childIds(p, true)],
    ["/r/children/{inscription_id}/inscriptions", (p) => childInscriptions(p, false)],
    ["/r/children/{inscription_id}/inscriptions/{page}", (p) => childInscriptions(p, true)],
    ["/r/parents/{inscription_id}", (p) => parentIds(p, false)],
    ["/r/parents/{inscription_id}/{page}", (p) => parentIds(p, true)],
    ["/r/parents/{inscription_id}/inscriptions", (p) => parentInscriptions(p, false)],
    ["/r/parents/{inscription_id}/inscriptions/{page}", (p) => parentInscriptions(p, true)],
    [
      "/r/metadata/{inscription_id}",
      (p) => {
        const id = idParam("inscription_id", p.inscription_id!, true);
        const i = store.get(id);
        if (!i) return notFound(`inscription ${id} not found`);
        if (i.metadata === null) return notFound(`inscription ${id} metadata not found`);
        return json(JSON.stringify(hex(i.metadata)));
      },
    ],
    ["/r/sat/{sat_number}", (p) => satIds(p, false)],
    ["/r/sat/{sat_number}/{page}", (p) => satIds(p, true)],
    [
      "/r/sat/{sat_number}/at/{index}",
      (p) => {
        const r = satAt(p);
        if ("status" in r) return r;
        // r.rs sat_at_index: {"id": ... | null}; a negative index is Cache-Control: no-store.
        const headers: [string, string][] = r.index < 0n ? [["cache-control", "no-store"]] : [];
        return json(JSON.stringify({ id: r.found?.id ?? null }), headers);
      },
    ],
    [
      "/r/sat/{sat_number}/at/{index}/content",
      (p, req) => {
        const r = satAt(p);
        if ("status" in r) return r;
        if (!r.found) return notFound(`inscription on sat ${r.sat} not found`);
        // r.rs sat_at_index_content: cache only when index >= 0.
        return content(store, config, r.found.id, req.acceptEncoding, r.index >= 0n);
      },
    ],
    [
      "/r/tx/{txid}",
      (p) => {
        const t = parseTxid(p.txid!);
        if (!t.ok) return badPath(`Cannot parse \`txid\` with value \`${p.txid}\`: ${t.message}`);
        // r.rs tx: the raw transaction as a JSON hex string (ord asks bitcoind, mempool included).
        for (const tx of store.chain?.transactions() ?? []) if (tx.txid === t.value) return json(JSON.stringify(tx.hex));
        return notFound(`transaction ${t.value} not found`); // the dev chain alone keeps no transactions
      },
    ],
    [
      "/output/{outpoint}",
      (p, r) => {
        const o = parseOutPoint(p.outpoint!);
        if (!o.ok) return badPath(`Cannot parse \`outpoint\` with value \`${p.outpoint}\`: ${o.message}`);
        const u = utxoOf(o.value);
        if (!u) return notFound(`output ${o.value} not found`);
        const c = store.chainOutput(o.value);
        // api.rs Output, fields in declaration order; HTML unless `Accept: application/json`.
        const body = {
          address: c ? c.address : u.address,
          confirmations: c && c.height !== null ? tipHeight() - c.height + 1 : 0,
          indexed: true,
          inscriptions: u.inscriptions,
          outpoint: o.value,
          runes: u.runes,
          sat_ranges: u.sat_ranges,
          script_pubkey: c ? c.script_pubkey : "",
          spent: c ? !unspent(c) : false,
          transaction: o.value.split(":")[0],
          value: u.value,
        };
        if (r.accept === "application/json") return json(JSON.stringify(body));
        const dd = (k: string, v: string) => `  <dt>${k}</dt>\n  <dd>${v}</dd>\n`;
        return html(
          page(
            `Output ${o.value}`,
            `<h1>Output <span class=monospace>${o.value}</span></h1>\n<dl>\n${u.inscriptions
              .map((id) => dd("inscription", `<a href=/inscription/${id}>${id}</a>`))
              .join("")}${dd("value", String(u.value))}${body.address ? dd("address", escapeHtml(body.address)) : ""}${dd(
              "spent",
              String(body.spent),
            )}${u.sat_ranges ? dd("sat ranges", u.sat_ranges.map(([a, b]) => `${a}–${b}`).join("<br>")) : ""}</dl>`,
          ),
        );
      },
    ],
    [
      "/sat/{sat}",
      (p, r) => {
        const sat = satParam(p.sat!);
        const info = satInfo(sat);
        const on = config.satIndex && sat <= BigInt(Number.MAX_SAFE_INTEGER) ? store.onSat(Number(sat)) : [];
        const satpoint = config.satIndex && sat <= BigInt(Number.MAX_SAFE_INTEGER) ? store.chainSatpoint(Number(sat)) : null;
        const address = satpoint === null ? null : (store.chainOutput(satpoint.split(":").slice(0, 2).join(":"))?.address ?? null);
        // api.rs Sat, fields in declaration order; HTML unless `Accept: application/json`.
        const body = `{"address":${JSON.stringify(address)},"block":${info.height},"charms":${JSON.stringify(info.charms)},"cycle":${info.cycle},"decimal":${JSON.stringify(
          info.decimal,
        )},"degree":${JSON.stringify(info.degree)},"epoch":${info.epoch},"inscriptions":${JSON.stringify(on.map((i) => i.id))},"name":${JSON.stringify(
          info.name,
        )},"number":${sat},"offset":${info.offset},"percentile":${JSON.stringify(info.percentile)},"period":${info.period},"rarity":${JSON.stringify(
          info.rarity,
        )},"satpoint":${JSON.stringify(satpoint)},"timestamp":${GENESIS_TIME + Number(info.height) * 600}}`;
        if (r.accept === "application/json") return json(body);
        const dd = (k: string, v: string) => `  <dt>${k}</dt>\n  <dd>${v}</dd>\n`;
        return html(
          page(
            `Sat ${sat}`,
            `<h1>Sat ${sat}</h1>\n<dl>\n${dd("name", info.name)}${dd("decimal", info.decimal)}${dd("rarity", info.rarity)}${
              satpoint ? dd("satpoint", satpoint) : ""
            }${on.map((i) => dd("inscription", `<a href=/inscription/${i.id}>${i.id}</a>`)).join("")}</dl>`,
          ),
        );
      },
    ],
    [
      "/r/undelegated-content/{inscription_id}",
      (p, r) => {
        const id = idParam("inscription_id", p.inscription_id!, true);
        const i = store.get(id);
        if (!i) return notFound(`inscription ${id} not found`);
        return contentResponse(i, r.acceptEncoding, config, true) ?? notFound(`inscription ${id} content not found`);
      },
    ],
    [
      "/r/utxo/{outpoint}",
      (p) => {
        const o = parseOutPoint(p.outpoint!);
        if (!o.ok) return badPath(`Cannot parse \`outpoint\` with value \`${p.outpoint}\`: ${o.message}`);
        const c = store.chainOutput(o.value);
        // index.rs get_utxo_recursive reads the UTXO table: a spent output is gone from it.
        const u = c && !unspent(c) ? null : utxoOf(o.value);
        if (!u) return notFound(`output ${o.value} not found`);
        const { inscriptions, runes, sat_ranges, value } = u;
        return json(JSON.stringify({ inscriptions, runes, sat_ranges, value }));
      },
    ],
  ];
}

function match(pattern: string, path: string): Params | null {
  const ps = pattern.split("/");
  const xs = path.split("/");
  if (ps.length !== xs.length) return null;
  const params: Params = {};
  for (let k = 0; k < ps.length; k++) {
    const p = ps[k]!;
    const x = xs[k]!;
    if (p.startsWith("{")) {
      if (x === "") return null;
      params[p.slice(1, -1)] = x;
    } else if (p !== x) return null;
  }
  return params;
}

/** A route whose pattern has fewer parameters wins, as matchit prefers static segments. */
function findRoute(table: [string, Handler][], path: string): [Handler, Params] | null {
  let best: [Handler, Params, number] | null = null;
  for (const [pattern, handler] of table) {
    const params = match(pattern, path);
    if (!params) continue;
    const dynamic = Object.keys(params).length;
    if (!best || dynamic < best[2]) best = [handler, params, dynamic];
  }
  return best ? [best[0], best[1]] : null;
}

// server.rs fallback: paths that look like an inscription id or number redirect to
// /inscription/<path>; everything else is an empty 404.
function fallback(path: string): Reply {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.replace(/^\/+|\/+$/g, ""));
  } catch {
    return text(400, "invalid utf-8 sequence");
  }
  if (INSCRIPTION_ID_RE.test(decoded) || INSCRIPTION_NUMBER_RE.test(decoded)) {
    return { status: 303, headers: [["location", `/inscription/${decoded}`]], body: "" };
  }
  return { status: 404, headers: [], body: "" };
}

// tower-http CorsLayer::new().allow_methods([GET, POST]).allow_headers([CONTENT_TYPE]).allow_origin(Any)
const VARY = "origin, access-control-request-method, access-control-request-headers";

/** The whole server as a function: method, path, request headers → reply. */
export function handle(
  store: Store,
  config: Config,
  method: string,
  rawPath: string,
  header: (name: string) => string | null,
): Reply {
  const path = rawPath.split("?")[0]!;
  store.sync();
  let reply: Reply;
  if (method === "OPTIONS" && header("access-control-request-method") !== null) {
    // CORS preflight: answered by the CORS layer, outside the CSP/HSTS layers.
    return {
      status: 200,
      headers: [
        ["access-control-allow-origin", "*"],
        ["access-control-allow-methods", "GET,POST"],
        ["access-control-allow-headers", "content-type"],
        ["vary", VARY],
      ],
      body: "",
    };
  }
  const table = routes(store, config);
  const found = findRoute(table, path);
  if (!found) {
    reply = fallback(path);
  } else if (method !== "GET" && method !== "HEAD") {
    reply = { status: 405, headers: [["allow", "GET,HEAD"]], body: "" };
  } else {
    const [handler, params] = found;
    const decoded: Params = {};
    try {
      for (const [k, v] of Object.entries(params)) decoded[k] = decodeURIComponent(v);
    } catch {
      const key = Object.keys(params)[0] ?? "";
      return finish(badPath(`Invalid UTF-8 in \`${key}\``));
    }
    try {
      reply = handler(decoded, { accept: header("accept"), acceptEncoding: header("accept-encoding") });
    } catch (e) {
      if (e instanceof Rejection) reply = e.reply;
      else {
        console.error("ord-server: error serving request:", e);
        reply = internal();
      }
    }
  }
  return finish(reply);
}

// The outer layers of server.rs, in order: default CSP if none, HSTS (overriding), CORS.
function finish(reply: Reply): Reply {
  const headers = reply.headers.filter(([k]) => k !== "strict-transport-security");
  if (!headers.some(([k]) => k === "content-security-policy")) {
    headers.push(["content-security-policy", "default-src 'self'"]);
  }
  headers.push(["strict-transport-security", "max-age=31536000; includeSubDomains; preload"]);
  headers.push(["access-control-allow-origin", "*"]);
  headers.push(["vary", VARY]);
  return { ...reply, headers };
}

/** Starts the server. Inscriptions come from `dir`'s manifest, then `inscriptions`, then `add()`. */
export async function startOrdServer(opts: OrdServerOptions = {}): Promise<OrdServer> {
  let fromDir: InscriptionInput[] = [];
  let height = opts.height;
  if (opts.dir !== undefined) {
    const { readManifest } = await import("./manifest.ts");
    const manifest = await readManifest(opts.dir);
    fromDir = manifest.inscriptions;
    height ??= manifest.height;
  }
  const store = new Store(height ?? 0, opts.chain ?? null);
  for (const entry of fromDir) store.add(entry);
  for (const entry of opts.inscriptions ?? []) store.add(entry);
  const config: Config = {
    satIndex: opts.satIndex ?? true,
    cspOrigin: opts.cspOrigin ?? null,
    decompress: opts.decompress ?? false,
    runeIndex: opts.runeIndex ?? false,
  };
  const log: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    log.push(req.url ?? "/");
    const header = (name: string): string | null => {
      const v = req.headers[name];
      return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
    };
    const reply = handle(store, config, req.method ?? "GET", req.url ?? "/", header);
    const body = typeof reply.body === "string" ? Buffer.from(reply.body) : Buffer.from(reply.body);
    const grouped = new Map<string, string[]>();
    for (const [k, v] of reply.headers) grouped.set(k, [...(grouped.get(k) ?? []), v]);
    for (const [k, vs] of grouped) res.setHeader(k, vs.length === 1 ? vs[0]! : vs);
    res.setHeader("content-length", String(body.length));
    res.writeHead(reply.status);
    res.end(req.method === "HEAD" ? undefined : body);
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : (opts.port ?? 0);
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    store,
    log,
    add: (inscription) => (store.sync(), store.add(inscription)),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
