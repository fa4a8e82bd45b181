// tx.ts: commit/reveal construction. Pure: UTXOs, keys and fee rates in, transactions out; no I/O,
// no clock, no randomness (the caller supplies the temporary reveal key).
//
// Commit tx  inputs : [S's UTXO (reinscription only)] + funding UTXOs in the caller's order
//                     (never BIP-69 sorted: the first input's first sat is the one that matters)
//            outputs: [alignment to change (only when S is not the first sat of its UTXO)]
//                     + commit output (P2TR: internal key = temp key, one leaf = reveal script)
//                     + [change, when it is not dust]
// Reveal tx  inputs : [parent UTXOs...] + commit output (script path: sig, script, control block)
//            outputs: [each parent back to its own script, same value...] + destination (postage)
// The inscription lands on the first sat of the commit input (ord: offset = value of the inputs
// before it), which is S for a reinscription, and ends at offset 0 of the destination output.
// Fees: vsize of a dummy-signed copy (right-sized placeholder witnesses) × rate, rounded up.
// Recovery: the commit output's key path is the temp key tweaked with the leaf's merkle root.
import * as btc from "@scure/btc-signer";
import { hex } from "@scure/base";
import { schnorr } from "@noble/curves/secp256k1.js";
import { taprootTweakPrivKey } from "@scure/btc-signer/utils.js";
import { envelopeScript, revealScript, type InscriptionFields } from "./envelope.ts";
import { networkOf, type NetworkName } from "./networks.ts";

/** An error in the user's request or funds: nothing was (or will be) broadcast. */
export class InscribeError extends Error {
  constructor(
    readonly code:
      | "insufficient-funds"
      | "dust"
      | "wrong-network"
      | "inscribed-utxo"
      | "unchecked"
      | "too-large"
      | "bad-psbt"
      | "bad-input"
      | "not-controlled"
      | "backend",
    message: string,
  ) {
    super(`inscribe: ${message}`);
    this.name = "InscribeError";
  }
}

export interface Utxo {
  txid: string;
  vout: number;
  value: bigint;
  /** scriptPubKey of the output. Only P2TR and P2WPKH are spendable here (txid is then final before signing). */
  script: Uint8Array;
  /** For P2TR key-path inputs: the untweaked internal key, so a signer can tweak. */
  tapInternalKey?: Uint8Array;
}

export const outpoint = (u: { txid: string; vout: number }) => `${u.txid}:${u.vout}`;

/** Decodes an address for `network` into its scriptPubKey, or throws `wrong-network`. */
export function addressScript(address: string, network: NetworkName): Uint8Array {
  try {
    return btc.OutScript.encode(btc.Address(networkOf(network)).decode(address));
  } catch (e) {
    throw new InscribeError("wrong-network", `address ${address} is not a valid ${network} address (${(e as Error).message})`);
  }
}

export function scriptAddress(script: Uint8Array, network: NetworkName): string {
  return btc.Address(networkOf(network)).encode(btc.OutScript.decode(script));
}

/** Bitcoin Core's dust threshold at the default 3 sat/vB dust relay fee (policy.cpp GetDustThreshold). */
export function dustThreshold(script: Uint8Array): bigint {
  if (script[0] === 0x6a) return 0n; // OP_RETURN
  const len = script.length;
  const outSize = 8 + (len < 0xfd ? 1 : 3) + len;
  const isWitness = len >= 4 && len <= 42 && (script[0] === 0 || (script[0]! >= 0x51 && script[0]! <= 0x60)) && script[1] === len - 2;
  const spendSize = isWitness ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return BigInt((outSize + spendSize) * 3);
}

type SpendKind = "p2tr" | "p2wpkh";

export function spendKind(script: Uint8Array): SpendKind {
  let t: string;
  try {
    t = btc.OutScript.decode(script).type;
  } catch {
    t = "unknown";
  }
  if (t === "tr") return "p2tr";
  if (t === "wpkh") return "p2wpkh";
  throw new InscribeError("bad-input", `cannot spend a ${t} output: only P2TR (key path) and P2WPKH funding is supported`);
}

// Placeholder witnesses with the exact sizes of the real ones. Schnorr (BIP-340, SIGHASH_DEFAULT)
// signatures are always 64 bytes. ECDSA with low-R grinding is 70 bytes DER + 1 sighash byte, or
// rarely one byte less, so a P2WPKH estimate is exact or 1 WU high.
const dummyWitness = (kind: SpendKind): Uint8Array[] => (kind === "p2tr" ? [new Uint8Array(64)] : [new Uint8Array(71), new Uint8Array(33)]);

const SEQUENCE = 0xfffffffd; // signals replaceability, as ord does

const TX_OPTS = { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true } as const;

interface TxIn {
  txid: string;
  vout: number;
  value: bigint;
  script: Uint8Array;
  tapInternalKey?: Uint8Array;
  tapLeafScript?: [Uint8Array, Uint8Array][];
}
interface TxOut {
  script: Uint8Array;
  value: bigint;
}

function makeTx(ins: TxIn[], outs: TxOut[]): btc.Transaction {
  const tx = new btc.Transaction({ ...TX_OPTS, version: 2, lockTime: 0 });
  for (const i of ins) {
    tx.addInput({
      txid: i.txid,
      index: i.vout,
      sequence: SEQUENCE,
      witnessUtxo: { script: i.script, amount: i.value },
      ...(i.tapInternalKey ? { tapInternalKey: i.tapInternalKey } : {}),
      ...(i.tapLeafScript ? { tapLeafScript: i.tapLeafScript.map(([cb, s]) => [btc.TaprootControlBlock.decode(cb), s] as any) } : {}),
    });
  }
  for (const o of outs) tx.addOutput({ script: o.script, amount: o.value });
  return tx;
}

/** vsize of `tx` with every input carrying a placeholder witness of its real size. */
export function dummySignedVsize(tx: btc.Transaction, witnesses: Uint8Array[][]): number {
  const copy = btc.Transaction.fromPSBT(tx.toPSBT(), TX_OPTS);
  witnesses.forEach((w, i) => copy.updateInput(i, { finalScriptWitness: w }, true));
  return copy.vsize;
}

export const feeFor = (vsize: number, rate: number): bigint => BigInt(Math.ceil(vsize * rate - 1e-9));

export interface PlanOptions {
  network: NetworkName;
  inscription: InscriptionFields;
  /** Where the inscription goes. */
  destination: string;
  /** Where change (and an alignment output) goes. */
  changeAddress: string;
  /** sats in the inscription output; ord's default is 10,000. */
  postage?: bigint;
  /** sat/vB for the commit tx (fractions allowed). */
  feeRate: number;
  /** sat/vB for the reveal tx; default `feeRate`. */
  revealFeeRate?: number;
  /** Cardinal (uninscribed, vetted) funding UTXOs, spent in this order. */
  utxos: Utxo[];
  /** 32-byte secret of the temporary reveal key (fresh random per inscription). */
  revealSecret: Uint8Array;
  /** Reinscription: the UTXO holding the target sat and the sat's offset inside it. */
  reinscribe?: { utxo: Utxo; offset: bigint; sat?: bigint };
  /** Parent inscriptions, each with the UTXO holding it (spent in the reveal, returned unchanged). */
  parents?: { id: string; utxo: Utxo }[];
}

export interface BuiltTx {
  tx: btc.Transaction;
  txid: string;
  vsize: number;
  fee: bigint;
}

export interface Plan {
  network: NetworkName;
  inscriptionId: string;
  /** Bytes of the envelope's body as inscribed. */
  bodyBytes: number;
  commit: BuiltTx & { commitVout: number; changeVout: number | null; inputs: Utxo[] };
  reveal: BuiltTx;
  revealScript: Uint8Array;
  controlBlock: Uint8Array;
  commitAddress: string;
  commitValue: bigint;
  postage: bigint;
  destination: string;
  /** commit fee + reveal fee + postage (postage stays with the inscription). */
  totalCost: bigint;
  /** What a maintainer needs to sweep the commit output by key path if the reveal never confirms. */
  recovery: RecoveryInfo;
}

export interface RecoveryInfo {
  network: NetworkName;
  /** Untweaked temp secret (hex) and x-only key. */
  secret: string;
  internalKey: string;
  merkleRoot: string;
  /** The key-path secret: temp key tweaked per BIP-341 (hex and WIF), importable as rawtr(WIF). */
  tweakedSecret: string;
  tweakedWif: string;
  commitAddress: string;
  commitTxid: string;
  commitVout: number;
  commitValue: string;
  revealScript: string;
  controlBlock: string;
}

const MAX_STANDARD_TX_WEIGHT = 400_000;

/** Builds commit and reveal. Throws InscribeError for anything a maintainer must fix. */
export function planInscription(o: PlanOptions): Plan {
  const net = networkOf(o.network);
  const postage = o.postage ?? 10_000n;
  const revealRate = o.revealFeeRate ?? o.feeRate;
  for (const r of [o.feeRate, revealRate])
    if (!(Number.isFinite(r) && r > 0 && r < 100_000)) throw new InscribeError("bad-input", `fee rate ${r} sat/vB is not in (0, 100000)`);
  if (o.revealSecret.length !== 32) throw new InscribeError("bad-input", "reveal secret must be 32 bytes");
  const destScript = addressScript(o.destination, o.network);
  const changeScript = addressScript(o.changeAddress, o.network);
  if (postage < dustThreshold(destScript))
    throw new InscribeError("dust", `postage ${postage} sats is below the dust threshold ${dustThreshold(destScript)} of the destination`);

  // Reveal key and taproot tree: one leaf, internal key = temp key (as ord does).
  const internalKey = schnorr.getPublicKey(o.revealSecret);
  const script = revealScript(internalKey, o.inscription);
  const pay = btc.p2tr(internalKey, { script }, net, true);
  const leaf = pay.leaves![0]!;
  const controlBlock = (leaf as unknown as { controlBlock: Uint8Array }).controlBlock;
  const commitScript = pay.script;

  // Reveal first, with a placeholder commit outpoint (size does not depend on it).
  const parents = o.parents ?? [];
  for (const p of parents) spendKind(p.utxo.script);
  const revealOuts: TxOut[] = [
    ...parents.map((p) => ({ script: p.utxo.script, value: p.utxo.value })),
    { script: destScript, value: postage },
  ];
  const leafScript = (): [Uint8Array, Uint8Array][] => [[controlBlock, new Uint8Array([...script, 0xc0])]];
  const revealIns = (txid: string, vout: number, value: bigint): TxIn[] => [
    ...parents.map((p) => ({ ...p.utxo })),
    // No tapInternalKey here: with it scure would prefer a key-path signature, which spends the
    // commit output without revealing the envelope.
    { txid, vout, value, script: commitScript, tapLeafScript: leafScript() },
  ];
  const revealWitness = [...parents.map((p) => dummyWitness(spendKind(p.utxo.script))), [new Uint8Array(64), script, controlBlock]];
  const probe = makeTx(revealIns("00".repeat(32), 0, postage), revealOuts);
  const revealVsize = dummySignedVsize(probe, revealWitness);
  if (revealVsize * 4 > MAX_STANDARD_TX_WEIGHT)
    throw new InscribeError(
      "too-large",
      `reveal would weigh ~${revealVsize * 4} WU, over the 400,000 WU standardness limit (content ${o.inscription.body?.length ?? 0} bytes)`,
    );
  const revealFee = feeFor(revealVsize, revealRate);
  const commitValue = postage + revealFee;

  // Commit: required input first, then funding in order until it pays.
  const pre: Utxo[] = [];
  const preOuts: TxOut[] = [];
  if (o.reinscribe) {
    const { utxo, offset } = o.reinscribe;
    spendKind(utxo.script);
    if (offset < 0n || offset >= utxo.value)
      throw new InscribeError("bad-input", `sat offset ${offset} is outside its UTXO of ${utxo.value} sats`);
    pre.push(utxo);
    if (offset > 0n) {
      // Sats before S go back to change so that S is the commit output's first sat.
      if (offset < dustThreshold(changeScript))
        throw new InscribeError(
          "dust",
          `the target sat is at offset ${offset} of ${outpoint(utxo)}: the ${offset} sats before it would be a dust output; move the sat to offset 0 first`,
        );
      preOuts.push({ script: changeScript, value: offset });
    }
  }
  const seen = new Set(pre.map(outpoint));
  const funding = o.utxos.filter((u) => !seen.has(outpoint(u)) && !parents.some((p) => outpoint(p.utxo) === outpoint(u)));
  for (const u of funding) spendKind(u.script);
  const commitOut: TxOut = { script: commitScript, value: commitValue };
  const changeDust = dustThreshold(changeScript);
  let chosen: { ins: Utxo[]; outs: TxOut[]; vsize: number; fee: bigint; changeVout: number | null } | null = null;
  let have = 0n;
  let need = 0n;
  for (let k = 0; k <= funding.length && !chosen; k++) {
    const ins = [...pre, ...funding.slice(0, k)];
    if (!ins.length) continue;
    const sumIn = ins.reduce((a, u) => a + u.value, 0n);
    const fixedOut = preOuts.reduce((a, x) => a + x.value, 0n) + commitValue;
    const wit = ins.map((u) => dummyWitness(spendKind(u.script)));
    const outsNo = [...preOuts, commitOut];
    const vNo = dummySignedVsize(makeTx(ins, outsNo), wit);
    const feeNo = feeFor(vNo, o.feeRate);
    have = sumIn;
    need = fixedOut + feeNo;
    if (sumIn < need) continue;
    const outsCh = [...outsNo, { script: changeScript, value: 0n }];
    const vCh = dummySignedVsize(makeTx(ins, outsCh), wit);
    const feeCh = feeFor(vCh, o.feeRate);
    const change = sumIn - fixedOut - feeCh;
    if (change >= changeDust) {
      outsCh[outsCh.length - 1] = { script: changeScript, value: change };
      chosen = { ins, outs: outsCh, vsize: vCh, fee: feeCh, changeVout: outsCh.length - 1 };
    } else chosen = { ins, outs: outsNo, vsize: vNo, fee: sumIn - fixedOut, changeVout: null };
  }
  if (!chosen) {
    const total = [...pre, ...funding].reduce((a, u) => a + u.value, 0n);
    throw new InscribeError(
      "insufficient-funds",
      `need ${need || commitValue} sats (postage ${postage} + reveal fee ${revealFee} + commit fee), have ${total || have} in ${pre.length + funding.length} spendable UTXO(s)`,
    );
  }
  const commitTx = makeTx(chosen.ins, chosen.outs);
  const commitVout = preOuts.length;
  const commitTxid = commitTx.id;

  const revealTx = makeTx(revealIns(commitTxid, commitVout, commitValue), revealOuts);
  const revealTxid = revealTx.id;
  const inscriptionIndex = 0; // one envelope per reveal

  const tweaked = tweakSecret(o.revealSecret, leaf.hash);
  return {
    network: o.network,
    inscriptionId: `${revealTxid}i${inscriptionIndex}`,
    bodyBytes: o.inscription.body?.length ?? 0,
    commit: {
      tx: commitTx,
      txid: commitTxid,
      vsize: chosen.vsize,
      fee: chosen.fee,
      commitVout,
      changeVout: chosen.changeVout,
      inputs: chosen.ins,
    },
    reveal: { tx: revealTx, txid: revealTxid, vsize: revealVsize, fee: revealFee },
    revealScript: script,
    controlBlock,
    commitAddress: pay.address!,
    commitValue,
    postage,
    destination: o.destination,
    totalCost: chosen.fee + revealFee + postage,
    recovery: {
      network: o.network,
      secret: hex.encode(o.revealSecret),
      internalKey: hex.encode(internalKey),
      merkleRoot: hex.encode(leaf.hash),
      tweakedSecret: hex.encode(tweaked),
      tweakedWif: btc.WIF(net).encode(tweaked),
      commitAddress: pay.address!,
      commitTxid,
      commitVout,
      commitValue: commitValue.toString(),
      revealScript: hex.encode(script),
      controlBlock: hex.encode(controlBlock),
    },
  };
}

/** BIP-341 taproot_tweak_seckey (scure's implementation, checked against the BIP-341 vectors in tests). */
export function tweakSecret(secret: Uint8Array, merkleRoot: Uint8Array): Uint8Array {
  return taprootTweakPrivKey(secret, merkleRoot);
}

/** Signs the reveal's commit input with the temp key (script path). Parent inputs are left to the signer. */
export function signRevealCommitInput(plan: Plan, revealSecret: Uint8Array, auxRand?: Uint8Array): void {
  const idx = plan.reveal.tx.inputsLength - 1;
  plan.reveal.tx.signIdx(revealSecret, idx, undefined, auxRand);
  plan.reveal.tx.finalizeIdx(idx);
}

/**
 * Key-path sweep of the commit output back to `to`, for when the reveal never confirms.
 * Pure: feed it the recovery file.
 */
export function buildRecoveryTx(r: RecoveryInfo, to: string, feeRate: number): BuiltTx {
  const value = BigInt(r.commitValue);
  const toScript = addressScript(to, r.network);
  const internalKey = hex.decode(r.internalKey);
  const commitScript = btc.p2tr(internalKey, { script: hex.decode(r.revealScript) }, networkOf(r.network), true).script;
  const ins: TxIn[] = [{ txid: r.commitTxid, vout: r.commitVout, value, script: commitScript }];
  const vsize = dummySignedVsize(makeTx(ins, [{ script: toScript, value }]), [[new Uint8Array(64)]]);
  const fee = feeFor(vsize, feeRate);
  if (value - fee < dustThreshold(toScript))
    throw new InscribeError("dust", `commit output of ${value} sats cannot pay ${fee} sats of fee`);
  const tx = new btc.Transaction({ ...TX_OPTS, version: 2 });
  tx.addInput({
    txid: r.commitTxid,
    index: r.commitVout,
    sequence: SEQUENCE,
    witnessUtxo: { script: commitScript, amount: value },
    tapInternalKey: internalKey,
    tapMerkleRoot: hex.decode(r.merkleRoot),
  });
  tx.addOutput({ script: toScript, amount: value - fee });
  tx.signIdx(hex.decode(r.secret), 0);
  tx.finalize();
  return { tx, txid: tx.id, vsize: tx.vsize, fee };
}

/** For tests and tooling: the envelope alone for a set of fields. */
export const _internal = /* @__PURE__ */ Object.freeze({ makeTx, dummyWitness, envelopeScript });
