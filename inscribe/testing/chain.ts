// testing/chain.ts: a regtest-like in-memory chain for the stand-in Esplora and Core RPC servers.
// It checks what a node's mempool would (inputs exist and are unspent, value is not created,
// weight ≤ 400,000 WU, taproot signatures verify for P2TR inputs) and tracks the resulting UTXOs.
// It also tracks sats as ordinal theory numbers them (first in, first out; fee sats are dropped,
// there is no coinbase) and implements dev/ord-server.ts's OrdChainView, so the local ord server
// can index what is revealed here.
// Here rather than under test/: the regtest sandbox (sandbox.ts, `npm run inscribe -- --regtest-sandbox`) runs it too.
import * as btc from "@scure/btc-signer";
import { hex } from "@scure/base";
import { schnorr } from "@noble/curves/secp256k1.js";
import type { OrdChainOutput, OrdChainTx, OrdChainView } from "../../dev/ord-server.ts";
import { GENESIS, networkOf, type BtcNetwork, type NetworkName } from "../networks.ts";

export interface ChainUtxo {
  txid: string;
  vout: number;
  value: bigint;
  script: Uint8Array;
  height: number | null;
  /** Ordinal sat ranges [start, end) held by this output, in order. */
  sat_ranges: [number, number][];
}

/** A transaction the chain accepted: raw hex plus what an indexer needs without parsing it. */
export interface ChainTx {
  hex: string;
  height: number | null;
  inputs: { outpoint: string; witness: Uint8Array[] }[];
  outputs: { value: number }[];
}

export class RejectError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const OPTS = { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true } as const;

export class MemoryChain implements OrdChainView {
  height = 100;
  readonly utxos = new Map<string, ChainUtxo>();
  readonly txs = new Map<string, ChainTx>();
  /** Every output ever created (spent ones too), and who spent it. */
  readonly created = new Map<string, ChainUtxo>();
  readonly spent = new Map<string, { txid: string; height: number | null }>();
  /** The next sat `fund()` hands out when not told which. */
  nextSat = 0;
  /** Mine what was accepted in a block of its own right after (the sandbox: `generatetoaddress 1` after every send). */
  autoMine = false;
  private nonce = 0;
  private inPackage = false;
  private minePending = false;

  /** Address encoding of `networkName`: what the stand-ins accept and the ord view reports. */
  readonly network: BtcNetwork;

  constructor(readonly networkName: NetworkName = "regtest") {
    this.network = networkOf(networkName);
  }

  /** Block 0 is the network's real genesis block (what Esplora's /block-height/0 says); later ones are stand-ins. */
  blockHash(height: number): string | null {
    if (!Number.isSafeInteger(height) || height < 0 || height > this.height) return null;
    if (height === 0) return GENESIS[this.networkName];
    return hex.encode(schnorr.utils.taggedHash("memchain/block", new TextEncoder().encode(`${this.networkName} ${height}`)).reverse());
  }

  /** The scriptPubKey of an address of this chain's network, or null (a node rejects other networks' addresses). */
  scriptOf(address: string): Uint8Array | null {
    try {
      return btc.OutScript.encode(btc.Address(this.network).decode(address));
    } catch {
      return null;
    }
  }

  /**
   * Credits `script` with `value` sats in a synthetic transaction, confirmed at the current height
   * unless `confirmed: false` (then it is in the mempool, as a node's unconfirmed change would be).
   * Its sats are `[sat, sat + value)`, by default fresh ones.
   */
  fund(script: Uint8Array, value: bigint, opts: { sat?: number; confirmed?: boolean } = {}): ChainUtxo {
    const txid = hex.encode(schnorr.utils.taggedHash("memchain/fund", new Uint8Array([++this.nonce & 0xff, this.nonce >> 8])));
    const first = opts.sat ?? this.nextSat;
    this.nextSat = Math.max(this.nextSat, first + Number(value));
    const u: ChainUtxo = {
      txid,
      vout: 0,
      value,
      script,
      height: opts.confirmed === false ? null : this.height,
      sat_ranges: [[first, first + Number(value)]],
    };
    this.utxos.set(`${txid}:0`, u);
    this.created.set(`${txid}:0`, u);
    return u;
  }

  /** Validates and accepts one raw tx into the mempool; returns its txid. */
  accept(rawHex: string, dryRun = false): { txid: string; vsize: number; fee: bigint } {
    let tx: btc.Transaction;
    try {
      tx = btc.Transaction.fromRaw(hex.decode(rawHex), OPTS);
    } catch (e) {
      throw new RejectError(-22, `TX decode failed: ${(e as Error).message}`);
    }
    if (this.txs.has(tx.id)) throw new RejectError(-27, "Transaction already in block chain");
    const prev: ChainUtxo[] = [];
    for (let i = 0; i < tx.inputsLength; i++) {
      const inp = tx.getInput(i);
      const key = `${hex.encode(inp.txid!)}:${inp.index}`;
      const u = this.utxos.get(key);
      if (!u) throw new RejectError(-25, "bad-txns-inputs-missingorspent");
      prev.push(u);
    }
    const inSum = prev.reduce((a, u) => a + u.value, 0n);
    let outSum = 0n;
    for (let i = 0; i < tx.outputsLength; i++) outSum += tx.getOutput(i).amount!;
    if (outSum > inSum) throw new RejectError(-26, "bad-txns-in-belowout");
    if (tx.weight > 400_000) throw new RejectError(-26, "tx-size");
    // Taproot signature check (key path and script path with a leading <key> OP_CHECKSIG).
    for (let i = 0; i < tx.inputsLength; i++) {
      const u = prev[i]!;
      if (u.script.length !== 34 || u.script[0] !== 0x51) continue;
      const w = tx.getInput(i).finalScriptWitness ?? [];
      const prevScripts = prev.map((p) => p.script);
      const amounts = prev.map((p) => p.value);
      let ok = false;
      if (w.length === 1) {
        const msg = tx.preimageWitnessV1(i, prevScripts, btc.SigHash.DEFAULT, amounts);
        ok = w[0]!.length === 64 && schnorr.verify(w[0]!, msg, u.script.subarray(2));
      } else if (w.length >= 3) {
        const script = w[w.length - 2]!;
        const msg = tx.preimageWitnessV1(i, prevScripts, btc.SigHash.DEFAULT, amounts, undefined, script, 0xc0);
        ok = script[0] === 0x20 && w[0]!.length === 64 && schnorr.verify(w[0]!, msg, script.subarray(1, 33));
      }
      if (!ok) throw new RejectError(-26, "mandatory-script-verify-flag-failed (Invalid Schnorr signature)");
    }
    const out = { txid: tx.id, vsize: tx.vsize, fee: inSum - outSum };
    if (dryRun) return out;
    const inputs: ChainTx["inputs"] = [];
    for (let i = 0; i < tx.inputsLength; i++) {
      const inp = tx.getInput(i);
      const key = `${hex.encode(inp.txid!)}:${inp.index}`;
      this.utxos.delete(key);
      this.spent.set(key, { txid: tx.id, height: null });
      inputs.push({ outpoint: key, witness: inp.finalScriptWitness ?? [] });
    }
    // Ordinal theory: the inputs' sats, concatenated in order, fill the outputs in order.
    const pool = prev.flatMap((p) => p.sat_ranges.map(([a, b]) => [a, b] as [number, number]));
    const take = (n: number): [number, number][] => {
      const got: [number, number][] = [];
      while (n > 0 && pool.length) {
        const r = pool[0]!;
        const k = Math.min(n, r[1] - r[0]);
        got.push([r[0], r[0] + k]);
        r[0] += k;
        n -= k;
        if (r[0] === r[1]) pool.shift();
      }
      return got;
    };
    const outputs: ChainTx["outputs"] = [];
    for (let i = 0; i < tx.outputsLength; i++) {
      const o = tx.getOutput(i);
      const u: ChainUtxo = { txid: tx.id, vout: i, value: o.amount!, script: o.script!, height: null, sat_ranges: take(Number(o.amount!)) };
      this.utxos.set(`${tx.id}:${i}`, u);
      this.created.set(`${tx.id}:${i}`, u);
      outputs.push({ value: Number(o.amount!) });
    }
    this.txs.set(tx.id, { hex: rawHex, height: null, inputs, outputs });
    if (!this.inPackage) this.scheduleMine();
    return out;
  }

  private scheduleMine(): void {
    if (!this.autoMine || this.minePending) return;
    this.minePending = true;
    queueMicrotask(() => {
      this.minePending = false;
      this.mine();
    });
  }

  /** Accepts a package atomically (each tx may spend the previous ones). */
  acceptPackage(hexes: string[], dryRun = false): { txid: string; vsize: number; fee: bigint }[] {
    const maps = [this.utxos, this.txs, this.created, this.spent] as Map<string, unknown>[];
    const snap = maps.map((m) => new Map(m));
    const restore = () => maps.forEach((m, k) => (m.clear(), snap[k]!.forEach((v, key) => m.set(key, v))));
    this.inPackage = true;
    try {
      const r = hexes.map((h) => this.accept(h));
      if (dryRun) restore();
      else this.scheduleMine();
      return r;
    } catch (e) {
      restore();
      throw e;
    } finally {
      this.inPackage = false;
    }
  }

  /** Confirms everything in the mempool in one new block. */
  mine(): number {
    this.height++;
    for (const t of this.txs.values()) if (t.height === null) t.height = this.height;
    for (const u of this.created.values()) if (u.height === null) u.height = this.height;
    for (const s of this.spent.values()) if (s.height === null) s.height = this.height;
    return this.height;
  }

  // --- OrdChainView (dev/ord-server.ts) ---

  output(outpoint: string): OrdChainOutput | null {
    const u = this.created.get(outpoint);
    return u ? this.view(outpoint, u) : null;
  }

  *outputs(): Iterable<[string, OrdChainOutput]> {
    for (const [k, u] of this.created) yield [k, this.view(k, u)];
  }

  *transactions(): Iterable<OrdChainTx> {
    for (const [txid, t] of this.txs) yield { txid, ...t };
  }

  private view(outpoint: string, u: ChainUtxo): OrdChainOutput {
    let address: string | null = null;
    try {
      address = btc.Address(this.network).encode(btc.OutScript.decode(u.script));
    } catch {}
    return {
      value: Number(u.value),
      script_pubkey: hex.encode(u.script),
      address,
      sat_ranges: u.sat_ranges,
      height: u.height,
      spent: this.spent.get(outpoint) ?? null,
    };
  }

  utxosFor(script: Uint8Array): ChainUtxo[] {
    const h = hex.encode(script);
    return [...this.utxos.values()].filter((u) => hex.encode(u.script) === h);
  }
}
