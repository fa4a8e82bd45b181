// index.ts: the inscribe library API (the CLI and the relay's self-registration call this).
//   planInscription(opts)                      pure: UTXOs in, unsigned commit + reveal out
//   fundAndSign(req, backend, signer, ord)     fetch + vet UTXOs, plan, sign both transactions
//   broadcast(signed, backend, {recoveryFile}) write the recovery file, then commit + reveal
//   waitForReveal(backend, txid, opts)         poll until the reveal is seen
// Nothing here prints; the caller decides what to show. Keys never enter a Plan except the
// temporary reveal key, which the recovery file exists to keep.
import * as btc from "@scure/btc-signer";
import { hex } from "@scure/base";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { InscriptionFields } from "./envelope.ts";
import { type Backend, type Signer } from "./fund.ts";
import { OrdClient } from "./ord.ts";
import { InscribeError, outpoint, planInscription, signRevealCommitInput, type Plan, type Utxo } from "./tx.ts";
import type { NetworkName } from "./networks.ts";
import { vetUtxos } from "./vet.ts";
import { checkNetwork } from "./connect.ts";

export * from "./envelope.ts";
export * from "./networks.ts";
export * from "./tx.ts";
export * from "./fund.ts";
export * from "./ord.ts";
export * from "./vet.ts";
export * from "./connect.ts";

export interface InscribeRequest {
  network: NetworkName;
  inscription: InscriptionFields;
  destination: string;
  /** Default: the signer's address, else the signer's `changeAddress()` (Core: a fresh wallet change address). */
  changeAddress?: string;
  postage?: bigint;
  /** sat/vB; default: the backend's estimate for `targetBlocks`. */
  feeRate?: number;
  targetBlocks?: number;
  /** Reinscribe onto this sat (it must sit in a UTXO the signer controls). */
  sat?: bigint;
  /** 32-byte temp key; default: fresh from the CSPRNG. */
  revealSecret?: Uint8Array;
  /** UTXOs to consider instead of asking the backend (e.g. Core's wallet). */
  utxos?: Utxo[];
  /** Spend although ord does not index runes (vet.ts); the plan then carries a warning. */
  allowUnindexedRunes?: boolean;
}

export interface SignedPlan {
  plan: Plan;
  commitHex: string;
  revealHex: string;
  feeRate: number;
  /** What the caller should tell the user about checks that were relaxed or UTXOs left out. */
  warnings: string[];
}

const TX_OPTS = { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true } as const;

async function signAndCheck(tx: btc.Transaction, signer: Signer, which: string, skip: number[] = []): Promise<btc.Transaction> {
  const before = tx.id;
  const bytes = await signer.signPsbt(tx.toPSBT()); // signer errors (and the CLI's stop) pass through
  let signed: btc.Transaction;
  try {
    signed = btc.Transaction.fromPSBT(bytes, TX_OPTS);
  } catch (e) {
    throw new InscribeError("bad-psbt", `the signed ${which} PSBT cannot be read: ${(e as Error).message}`);
  }
  if (signed.id !== before)
    throw new InscribeError("bad-psbt", `the signed ${which} PSBT is for a different transaction (${signed.id}, expected ${before})`);
  for (let i = 0; i < signed.inputsLength; i++) {
    if (skip.includes(i)) continue;
    try {
      signed.finalizeIdx(i);
    } catch (e) {
      throw new InscribeError("bad-psbt", `input ${i} of the ${which} PSBT is not signed: ${(e as Error).message}`);
    }
  }
  // Keep witnesses for skipped inputs from the original (e.g. the reveal's script-path input).
  for (const i of skip) {
    const w = tx.getInput(i).finalScriptWitness;
    if (w) signed.updateInput(i, { finalScriptWitness: w }, true);
  }
  return signed;
}

/** Fetches and vets UTXOs, resolves the target sat and parents through ord, plans, and signs. */
export async function fundAndSign(req: InscribeRequest, backend: Backend, signer: Signer, ord: OrdClient): Promise<SignedPlan> {
  await checkNetwork(req.network, backend, ord);
  const own = signer.address(req.network);
  const changeAddress = req.changeAddress ?? own ?? (signer.changeAddress ? await signer.changeAddress(req.network) : null);
  if (!changeAddress) throw new InscribeError("bad-input", "a change address is needed for this signer");
  const all = req.utxos ?? (own ? await backend.utxos(own, req.network) : []);
  const vetted = await vetUtxos(all, ord, { allowUnindexedRunes: !!req.allowUnindexedRunes });
  const warnings: string[] = [];
  if (vetted.runesUnchecked) warnings.push(`runes were not checked: ord server ${ord.base} does not index runes (--allow-unindexed-runes)`);
  const unindexedSats = vetted.unindexed.reduce((a, u) => a + u.value, 0n);
  if (vetted.unindexed.length)
    warnings.push(
      `${vetted.unindexed.length} UTXO(s) holding ${unindexedSats} sats are not indexed by ord yet (unconfirmed?) and were left out`,
    );

  let reinscribe: { utxo: Utxo; offset: bigint; sat: bigint } | undefined;
  if (req.sat !== undefined) {
    const loc = await ord.locateSat(req.sat);
    const utxo = all.find((u) => outpoint(u) === loc.outpoint);
    if (!utxo) throw new InscribeError("not-controlled", `sat ${req.sat} is in ${loc.outpoint}, which is not a UTXO of this signer`);
    // Everything else in that UTXO must be an inscription on S itself.
    const onSat = new Set<string>();
    for (let page = 0; page < 50; page++) {
      const p = await ord.satInscriptions(req.sat, page);
      p.ids.forEach((id) => onSat.add(id));
      if (!p.more) break;
    }
    const stray = (loc.utxo.inscriptions ?? []).filter((id) => !onSat.has(id));
    if (stray.length)
      throw new InscribeError("inscribed-utxo", `${loc.outpoint} also carries inscription(s) not on sat ${req.sat}: ${stray.join(", ")}`);
    if (loc.utxo.runes === null && !req.allowUnindexedRunes)
      throw new InscribeError("unchecked", `ord server ${ord.base} does not index runes: cannot tell whether ${loc.outpoint} carries any`);
    if (Object.keys(loc.utxo.runes ?? {}).length)
      throw new InscribeError("inscribed-utxo", `${loc.outpoint} carries runes; refusing to move them`);
    reinscribe = { utxo, offset: loc.offset, sat: req.sat };
  }

  const parents: { id: string; utxo: Utxo }[] = [];
  for (const id of req.inscription.parents ?? []) {
    const info = await ord.inscription(id);
    const utxo = all.find((u) => outpoint(u) === info.output);
    if (!utxo) throw new InscribeError("not-controlled", `parent ${id} is in ${info.output}, which is not a UTXO of this signer`);
    parents.push({ id, utxo });
  }
  const reserved = new Set([...(reinscribe ? [outpoint(reinscribe.utxo)] : []), ...parents.map((p) => outpoint(p.utxo))]);
  const feeRate = req.feeRate ?? (await backend.feeRate(req.targetBlocks ?? 2));
  const revealSecret = req.revealSecret ?? crypto.getRandomValues(new Uint8Array(32));
  let plan: Plan;
  try {
    plan = planInscription({
      network: req.network,
      inscription: req.inscription,
      destination: req.destination,
      changeAddress,
      ...(req.postage !== undefined ? { postage: req.postage } : {}),
      feeRate,
      utxos: vetted.cardinal
        .map((c) => c.utxo)
        .filter((u) => !reserved.has(outpoint(u)))
        .map((u) => ({ ...u, ...(signer.tapInternalKey ? { tapInternalKey: signer.tapInternalKey } : {}) })),
      revealSecret,
      ...(reinscribe ? { reinscribe } : {}),
      ...(parents.length ? { parents } : {}),
    });
  } catch (e) {
    if (e instanceof InscribeError && e.code === "insufficient-funds" && vetted.unindexed.length)
      throw new InscribeError(
        "insufficient-funds",
        `${e.message.replace(/^inscribe: /, "")}; ${unindexedSats} more sats in ${vetted.unindexed.length} UTXO(s) ord has not indexed yet (unconfirmed?) cannot be checked, so they are not spent`,
      );
    throw e;
  }

  const commit = await signAndCheck(plan.commit.tx, signer, "commit");
  signRevealCommitInput(plan, revealSecret);
  const commitInput = plan.reveal.tx.inputsLength - 1;
  const reveal = parents.length ? await signAndCheck(plan.reveal.tx, signer, "reveal", [commitInput]) : plan.reveal.tx;
  plan.commit.tx = commit;
  plan.reveal.tx = reveal;
  checkFees(plan, feeRate);
  return { plan, commitHex: commit.hex, revealHex: reveal.hex, feeRate, warnings };
}

/** Final guard: real sizes must match the plan's estimates (within 1 vB per tx). */
export function checkFees(plan: Plan, feeRate: number): void {
  for (const [name, t] of [
    ["commit", plan.commit],
    ["reveal", plan.reveal],
  ] as const) {
    const real = t.tx.vsize;
    if (real > t.vsize || t.vsize - real > t.tx.inputsLength)
      throw new InscribeError("bad-psbt", `${name}: signed size ${real} vB differs from the planned ${t.vsize} vB`);
    if (t.tx.fee !== t.fee) throw new InscribeError("bad-psbt", `${name}: fee ${t.tx.fee} differs from the planned ${t.fee}`);
  }
  void feeRate;
}

/** The recovery file: JSON, mode 0600, fsynced. Written before anything is broadcast. */
export function writeRecoveryFile(path: string, plan: Plan): void {
  const body = JSON.stringify(
    {
      what: "lumamesh inscribe recovery: key-path spend of the commit output if the reveal never confirms",
      howto:
        "npm run inscribe -- --recover <this file> --to <address> --fee-rate <sat/vB> --esplora <url> [--broadcast]; or importdescriptors rawtr(tweakedWif) in Bitcoin Core",
      inscriptionId: plan.inscriptionId,
      revealTxid: plan.reveal.txid,
      ...plan.recovery,
    },
    null,
    2,
  );
  const fd = openSync(path, "wx", 0o600); // never overwrite an older recovery file
  try {
    writeSync(fd, body + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes the recovery file, then sends commit and reveal. */
export async function broadcast(
  signed: SignedPlan,
  backend: Backend,
  opts: { recoveryFile: string },
): Promise<{ commitTxid: string; revealTxid: string; inscriptionId: string }> {
  writeRecoveryFile(opts.recoveryFile, signed.plan);
  const [commitTxid, revealTxid] = await backend.broadcast([signed.commitHex, signed.revealHex]);
  return { commitTxid: commitTxid!, revealTxid: revealTxid!, inscriptionId: signed.plan.inscriptionId };
}

export async function waitForReveal(
  backend: Backend,
  txid: string,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<boolean> {
  const end = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if ((await backend.txStatus(txid)).seen) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 2_000));
  }
}

export const toHex = hex.encode;
