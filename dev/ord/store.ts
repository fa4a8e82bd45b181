// The dev ord server's store and indexer: inscriptions in memory, by id and by sat, filled in
// deterministically where the caller gave nothing; with a chain (an OrdChainView, e.g.
// inscribe/testing/chain.ts's MemoryChain) it indexes every envelope revealed in a mined
// transaction as ord does (index/updater/inscription_updater.rs), reading envelopes with
// inscribe/envelope.ts `readEnvelopes`. Like ord it sees blocks only, not the mempool.
import { createHash } from "node:crypto";
import { readEnvelopes } from "../../inscribe/envelope.ts";
import { parseInscriptionId, SAT_LAST } from "./parse.ts";
import { hex } from "../../protocol/bytes.ts";

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

export const GENESIS_TIME = 1231006505;
const POSTAGE = 10000; // ord's TARGET_POSTAGE, the default value of an inscription's output

const sha256 = (data: Uint8Array | string): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());
export { hex };

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

// ord with --index-sats keeps spent outputs out of its UTXO table; it sees blocks, not the mempool.
const indexed = (o: OrdChainOutput) => o.height !== null;
export const unspent = (o: OrdChainOutput) => o.spent === null || o.spent.height === null;

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
      for (const e of readEnvelopes(tx.inputs[k]!.witness)) {
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
          ...(e.contentType !== null ? { content_type: e.contentType } : {}),
          ...(e.contentEncoding !== null ? { content_encoding: e.contentEncoding } : {}),
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
    const body = input.body == null ? null : typeof input.body === "string" ? new TextEncoder().encode(input.body) : input.body;
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
