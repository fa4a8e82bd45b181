// testing/chain.ts: a regtest-like in-memory chain for the stand-in Esplora and Core RPC servers.
// It checks what a node's mempool would (inputs exist and are unspent, value is not created,
// weight ≤ 400,000 WU, taproot signatures verify for P2TR inputs) and tracks the resulting UTXOs.
import * as btc from '@scure/btc-signer';
import { hex } from '@scure/base';
import { schnorr } from '@noble/curves/secp256k1.js';

export interface ChainUtxo {
  txid: string;
  vout: number;
  value: bigint;
  script: Uint8Array;
  height: number | null;
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

export class MemoryChain {
  height = 100;
  readonly utxos = new Map<string, ChainUtxo>();
  readonly txs = new Map<string, { hex: string; height: number | null }>();
  private nonce = 0;

  /** Credits `script` with `value` sats in a synthetic confirmed transaction. */
  fund(script: Uint8Array, value: bigint): ChainUtxo {
    const txid = hex.encode(schnorr.utils.taggedHash('memchain/fund', new Uint8Array([++this.nonce & 0xff, this.nonce >> 8])));
    const u = { txid, vout: 0, value, script, height: this.height };
    this.utxos.set(`${txid}:0`, u);
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
    if (this.txs.has(tx.id)) throw new RejectError(-27, 'Transaction already in block chain');
    const prev: ChainUtxo[] = [];
    for (let i = 0; i < tx.inputsLength; i++) {
      const inp = tx.getInput(i);
      const key = `${hex.encode(inp.txid!)}:${inp.index}`;
      const u = this.utxos.get(key);
      if (!u) throw new RejectError(-25, 'bad-txns-inputs-missingorspent');
      prev.push(u);
    }
    const inSum = prev.reduce((a, u) => a + u.value, 0n);
    let outSum = 0n;
    for (let i = 0; i < tx.outputsLength; i++) outSum += tx.getOutput(i).amount!;
    if (outSum > inSum) throw new RejectError(-26, 'bad-txns-in-belowout');
    if (tx.weight > 400_000) throw new RejectError(-26, 'tx-size');
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
      if (!ok) throw new RejectError(-26, 'mandatory-script-verify-flag-failed (Invalid Schnorr signature)');
    }
    const out = { txid: tx.id, vsize: tx.vsize, fee: inSum - outSum };
    if (dryRun) return out;
    for (let i = 0; i < tx.inputsLength; i++) {
      const inp = tx.getInput(i);
      this.utxos.delete(`${hex.encode(inp.txid!)}:${inp.index}`);
    }
    for (let i = 0; i < tx.outputsLength; i++) {
      const o = tx.getOutput(i);
      this.utxos.set(`${tx.id}:${i}`, { txid: tx.id, vout: i, value: o.amount!, script: o.script!, height: null });
    }
    this.txs.set(tx.id, { hex: rawHex, height: null });
    return out;
  }

  /** Accepts a package atomically (each tx may spend the previous ones). */
  acceptPackage(hexes: string[], dryRun = false): { txid: string; vsize: number; fee: bigint }[] {
    const snapU = new Map(this.utxos);
    const snapT = new Map(this.txs);
    try {
      const r = hexes.map((h) => this.accept(h));
      if (dryRun) this.restore(snapU, snapT);
      return r;
    } catch (e) {
      this.restore(snapU, snapT);
      throw e;
    }
  }

  private restore(u: Map<string, ChainUtxo>, t: Map<string, { hex: string; height: number | null }>) {
    this.utxos.clear();
    u.forEach((v, k) => this.utxos.set(k, v));
    this.txs.clear();
    t.forEach((v, k) => this.txs.set(k, v));
  }

  /** Confirms everything in the mempool in one new block. */
  mine(): number {
    this.height++;
    for (const t of this.txs.values()) if (t.height === null) t.height = this.height;
    for (const u of this.utxos.values()) if (u.height === null) u.height = this.height;
    return this.height;
  }

  utxosFor(script: Uint8Array): ChainUtxo[] {
    const h = hex.encode(script);
    return [...this.utxos.values()].filter((u) => hex.encode(u.script) === h);
  }
}
