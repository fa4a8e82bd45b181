// Commit/reveal construction: BIP-341 vectors through the code paths used, a matrix of content
// sizes (signatures, taproot commitment, fee rate), reinscription sat flow, recovery, bad input.
import { describe, expect, test } from "bun:test";
import * as btc from "@scure/btc-signer";
import { hex, utf8 } from "@scure/base";
import { schnorr } from "@noble/curves/secp256k1.js";
import { parseWitness } from "micro-ordinals";
import v341 from "./vectors/bip341.json";
import { compressBody, jsonToCbor, type InscriptionFields } from "../../inscribe/envelope.ts";
import { KeySigner } from "../../inscribe/fund.ts";
import {
  buildRecoveryTx,
  dustThreshold,
  InscribeError,
  planInscription,
  signRevealCommitInput,
  tweakSecret,
  type Plan,
  type PlanOptions,
  type Utxo,
} from "../../inscribe/tx.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";

describe("BIP-341 vectors (test/inscribe/vectors/bip341.json, from bitcoin/bips via scure-btc-signer)", () => {
  const toTree = (t: any): any =>
    t === null ? undefined : Array.isArray(t) ? t.map(toTree) : { script: hex.decode(t.script), leafVersion: t.leafVersion };
  v341.scriptPubKey.forEach((v: any, i: number) =>
    test(`scriptPubKey[${i}] through btc.p2tr(internal, tree, NETWORK, true) as planInscription calls it`, () => {
      const r: any = btc.p2tr(v.given.internalPubkey, toTree(v.given.scriptTree), btc.NETWORK, true);
      expect(hex.encode(r.script)).toBe(v.expected.scriptPubKey);
      expect(r.address).toBe(v.expected.bip350Address);
      expect(hex.encode(r.tweakedPubkey)).toBe(v.intermediary.tweakedPubkey);
      expect((r.leaves ?? []).map((l: any) => hex.encode(l.controlBlock))).toEqual(v.expected.scriptPathControlBlocks ?? []);
    }),
  );
  test("keyPathSpending: tweakSecret (the recovery key) equals tweakedPrivkey and controls the spent output", () => {
    const k = v341.keyPathSpending[0]!;
    for (const s of k.inputSpending) {
      const merkle = s.given.merkleRoot ? hex.decode(s.given.merkleRoot) : new Uint8Array(0);
      const t = tweakSecret(hex.decode(s.given.internalPrivkey), merkle);
      expect(hex.encode(t)).toBe(s.intermediary.tweakedPrivkey);
      const spk = k.given.utxosSpent[s.given.txinIndex]!.scriptPubKey;
      expect("5120" + hex.encode(btc.utils.pubSchnorr(t))).toBe(spk);
    }
  });
});

// --- fixtures -------------------------------------------------------------------------------
const FUND = new Uint8Array(32).fill(7);
const signer = new KeySigner(FUND, "p2tr");
const ADDR = signer.address("regtest");
const REVEAL_SECRET = new Uint8Array(32).fill(9);

function fundChain(chain: MemoryChain, values: bigint[], script = signer.script()): Utxo[] {
  return values.map((v) => {
    const u = chain.fund(script, v);
    return { txid: u.txid, vout: u.vout, value: u.value, script: u.script, tapInternalKey: btc.utils.pubSchnorr(FUND) };
  });
}

async function signAll(plan: Plan, s: { signPsbt(p: Uint8Array): Promise<Uint8Array> } = signer) {
  const commit = btc.Transaction.fromPSBT(await s.signPsbt(plan.commit.tx.toPSBT()), {
    allowUnknownInputs: true,
    allowUnknownOutputs: true,
    disableScriptCheck: true,
  });
  commit.finalize();
  signRevealCommitInput(plan, REVEAL_SECRET);
  return { commit, reveal: plan.reveal.tx };
}

/** ord's sat flow (first in, first out): where does sat `offset` of input `vin` end up? */
function satFlow(inputs: bigint[], outputs: bigint[], vin: number, offset: bigint): [number, bigint] | null {
  let pos = inputs.slice(0, vin).reduce((a, b) => a + b, 0n) + offset;
  for (let i = 0; i < outputs.length; i++) {
    if (pos < outputs[i]!) return [i, pos];
    pos -= outputs[i]!;
  }
  return null; // to fees
}

const outputsOf = (tx: btc.Transaction) => Array.from({ length: tx.outputsLength }, (_, i) => tx.getOutput(i).amount!);

describe("commit/reveal over a range of content sizes", () => {
  const rows: string[] = [];
  const sizes = [0, 1, 520, 521, 100_000];
  for (const size of sizes)
    for (const compress of [false, true])
      test(`${size} B${compress ? ", brotli" : ""}`, async () => {
        const chain = new MemoryChain();
        const utxos = fundChain(chain, [30_000n, 2_000_000n]);
        // Half text-like (compressible), half noise, so compression helps but does not vanish.
        const raw = new Uint8Array(size);
        let x = 0x9e3779b9;
        for (let i = 0; i < size; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          raw[i] = i % 2 ? x & 0xff : 0x61 + (i % 7);
        }
        const c = compress ? compressBody(raw, "text") : { body: raw };
        const fields: InscriptionFields = {
          contentType: "text/plain;charset=utf-8",
          body: c.body,
          ...(c.encoding ? { contentEncoding: c.encoding } : {}),
        };
        const feeRate = 3.7;
        const plan = planInscription({
          network: "regtest",
          inscription: fields,
          destination: ADDR,
          changeAddress: ADDR,
          feeRate,
          utxos,
          revealSecret: REVEAL_SECRET,
        });
        const { commit, reveal } = await signAll(plan);

        // Planned sizes are the real sizes (P2TR witnesses are fixed-size): exact.
        expect(commit.vsize).toBe(plan.commit.vsize);
        expect(reveal.vsize).toBe(plan.reveal.vsize);
        // Fee rate within 1 vB of the request: rate·vsize ≤ fee < rate·(vsize+1).
        for (const [tx, fee] of [
          [commit, plan.commit.fee],
          [reveal, plan.reveal.fee],
        ] as const) {
          expect(tx.fee).toBe(fee);
          expect(Number(fee)).toBeGreaterThanOrEqual(feeRate * tx.vsize);
          expect(Number(fee)).toBeLessThan(feeRate * (tx.vsize + 1));
        }
        // The commit output is the taproot tweak of (temp key, reveal leaf), computed independently.
        const internal = btc.utils.pubSchnorr(REVEAL_SECRET);
        const leafHash = schnorr.utils.taggedHash(
          "TapLeaf",
          Uint8Array.of(0xc0),
          btc.CompactSize.encode(BigInt(plan.revealScript.length)),
          plan.revealScript,
        );
        const [outKey] = btc.utils.taprootTweakPubkey(internal, leafHash);
        const commitOut = commit.getOutput(plan.commit.commitVout);
        expect(hex.encode(commitOut.script!)).toBe("5120" + hex.encode(outKey));
        expect(commitOut.amount).toBe(plan.commitValue);
        // The reveal spends exactly that output by script path: [sig, script, control block].
        const rin = reveal.getInput(0);
        expect(hex.encode(rin.txid!)).toBe(commit.id);
        expect(rin.index).toBe(plan.commit.commitVout);
        const w = rin.finalScriptWitness!;
        expect(w).toHaveLength(3);
        expect(hex.encode(w[1]!)).toBe(hex.encode(plan.revealScript));
        const msg = reveal.preimageWitnessV1(
          0,
          [commitOut.script!],
          btc.SigHash.DEFAULT,
          [commitOut.amount!],
          undefined,
          plan.revealScript,
          0xc0,
        );
        expect(schnorr.verify(w[0]!, msg, internal)).toBe(true);
        // Funding key-path signature verifies too.
        const prev = plan.commit.inputs;
        const cmsg = commit.preimageWitnessV1(
          0,
          prev.map((u) => u.script),
          btc.SigHash.DEFAULT,
          prev.map((u) => u.value),
        );
        expect(schnorr.verify(commit.getInput(0).finalScriptWitness![0]!, cmsg, prev[0]!.script.subarray(2))).toBe(true);
        // Envelope parses back, identical, uncursed.
        const parsed = parseWitness(w)!;
        expect(parsed[0]!.cursed).toBe(false);
        expect(parsed[0]!.tags.contentType).toBe(fields.contentType);
        expect(parsed[0]!.tags.contentEncoding).toBe(fields.contentEncoding);
        expect(hex.encode(parsed[0]!.body)).toBe(hex.encode(c.body));
        // The inscription's sat (first sat of the reveal's only input) ends at offset 0 of the destination.
        expect(satFlow([plan.commitValue], outputsOf(reveal), 0, 0n)).toEqual([0, 0n]);
        expect(reveal.getOutput(0).amount).toBe(10_000n);
        // Ids agree with the final transactions; the node stand-in (which checks signatures) accepts both.
        expect(plan.inscriptionId).toBe(`${reveal.id}i0`);
        chain.acceptPackage([commit.hex, reveal.hex]);
        rows.push(
          `| ${size} | ${compress ? "br" : "-"} | ${c.body.length} | ${commit.vsize} | ${plan.commit.fee} | ${reveal.vsize} | ${plan.reveal.fee} | ${plan.totalCost} |`,
        );
        if (rows.length === sizes.length * 2)
          console.log(["| content B | enc | body B | commit vB | commit fee | reveal vB | reveal fee | total |", ...rows].join("\n"));
      });

  test("P2WPKH funding: ECDSA witness estimate is within 1 vB", async () => {
    const chain = new MemoryChain();
    const w = new KeySigner(new Uint8Array(32).fill(5), "p2wpkh");
    const utxos = fundChain(chain, [8_000n, 20_000n], w.script()).map(({ tapInternalKey: _, ...u }) => u);
    const plan = planInscription({
      network: "regtest",
      inscription: { contentType: "text/plain", body: utf8.decode("x") },
      destination: ADDR,
      changeAddress: w.address("regtest"),
      feeRate: 10,
      utxos,
      revealSecret: REVEAL_SECRET,
    });
    expect(plan.commit.inputs).toHaveLength(2);
    const { commit } = await signAll(plan, w);
    expect(plan.commit.vsize - commit.vsize).toBeGreaterThanOrEqual(0);
    expect(plan.commit.vsize - commit.vsize).toBeLessThanOrEqual(1);
    expect(Number(commit.fee) / commit.vsize).toBeGreaterThanOrEqual(10);
  });
});

describe("input order, change and reinscription", () => {
  const base = (chain: MemoryChain, extra: Partial<PlanOptions> = {}): PlanOptions => ({
    network: "regtest",
    inscription: { contentType: "text/plain", body: utf8.decode("v2") },
    destination: ADDR,
    changeAddress: ADDR,
    feeRate: 2,
    utxos: fundChain(chain, [5_000n, 8_000n, 100_000n]),
    revealSecret: REVEAL_SECRET,
    ...extra,
  });

  test("funding UTXOs are spent in the given order, never BIP-69 sorted", () => {
    const chain = new MemoryChain();
    const o = base(chain);
    o.utxos = [...o.utxos].sort((a, b) => (a.txid < b.txid ? 1 : -1)); // descending: BIP-69 would reverse it
    const plan = planInscription(o);
    const ids = Array.from({ length: plan.commit.tx.inputsLength }, (_, i) => hex.encode(plan.commit.tx.getInput(i).txid!));
    expect(ids).toEqual(plan.commit.inputs.map((u) => u.txid));
    expect(ids).toEqual(o.utxos.slice(0, ids.length).map((u) => u.txid));
  });

  test("change below dust goes to fees; above dust comes back", () => {
    const chain = new MemoryChain();
    const probe = planInscription(base(chain, { utxos: fundChain(chain, [1_000_000n]) }));
    // Exactly enough for no-change + 100 sats: change would be dust, so no change output.
    const exact = probe.commitValue + probe.commit.fee - 43n * 2n + 100n; // fee without the 43-vB change output
    const p = planInscription(base(chain, { utxos: fundChain(chain, [exact]) }));
    expect(p.commit.changeVout).toBeNull();
    expect(p.commit.tx.outputsLength).toBe(1);
    expect(p.commit.tx.fee).toBeGreaterThanOrEqual(BigInt(Math.ceil(2 * p.commit.vsize)));
    expect(probe.commit.changeVout).toBe(1);
    expect(probe.commit.tx.getOutput(1).amount).toBeGreaterThanOrEqual(dustThreshold(signer.script()));
  });

  for (const offset of [0n, 1_000n])
    test(`reinscription: sat at offset ${offset} of its UTXO lands on the destination's first sat`, async () => {
      const chain = new MemoryChain();
      const [target] = fundChain(chain, [12_345n]);
      const o = base(chain, { reinscribe: { utxo: target!, offset } });
      const plan = planInscription(o);
      const { commit, reveal } = await signAll(plan);
      expect(hex.encode(commit.getInput(0).txid!)).toBe(target!.txid); // S's UTXO is input 0
      const ins = plan.commit.inputs.map((u) => u.value);
      const atCommit = satFlow(ins, outputsOf(commit), 0, offset);
      expect(atCommit).toEqual([plan.commit.commitVout, 0n]);
      expect(plan.commit.commitVout).toBe(offset > 0n ? 1 : 0);
      if (offset > 0n) expect(commit.getOutput(0).amount).toBe(offset); // alignment back to change
      expect(satFlow([plan.commitValue], outputsOf(reveal), 0, 0n)).toEqual([0, 0n]);
      chain.acceptPackage([commit.hex, reveal.hex]);
    });

  test("reinscription refuses a sat whose preceding sats would be dust", () => {
    const chain = new MemoryChain();
    const [target] = fundChain(chain, [12_345n]);
    expect(() => planInscription(base(chain, { reinscribe: { utxo: target!, offset: 100n } }))).toThrow(/dust/);
  });

  test("parents are spent first and returned unchanged; the child lands after them", async () => {
    const chain = new MemoryChain();
    const [parentUtxo] = fundChain(chain, [546n]);
    const o = base(chain, {
      parents: [{ id: "ab".repeat(32) + "i0", utxo: parentUtxo! }],
      inscription: { contentType: "text/plain", parents: ["ab".repeat(32) + "i0"], body: utf8.decode("child") },
    });
    const plan = planInscription(o);
    const commit = btc.Transaction.fromPSBT(await signer.signPsbt(plan.commit.tx.toPSBT()), {
      allowUnknownInputs: true,
      allowUnknownOutputs: true,
      disableScriptCheck: true,
    });
    commit.finalize();
    signRevealCommitInput(plan, REVEAL_SECRET);
    const reveal = btc.Transaction.fromPSBT(await signer.signPsbt(plan.reveal.tx.toPSBT()), {
      allowUnknownInputs: true,
      allowUnknownOutputs: true,
      disableScriptCheck: true,
    });
    reveal.finalizeIdx(0);
    expect(hex.encode(reveal.getInput(0).txid!)).toBe(parentUtxo!.txid);
    expect(reveal.getOutput(0).amount).toBe(546n);
    // Parent's sat stays at offset 0 of output 0; the child's (first sat of input 1) at offset 0 of output 1.
    expect(satFlow([546n, plan.commitValue], outputsOf(reveal), 0, 0n)).toEqual([0, 0n]);
    expect(satFlow([546n, plan.commitValue], outputsOf(reveal), 1, 0n)).toEqual([1, 0n]);
    expect(reveal.vsize).toBe(plan.reveal.vsize);
    chain.acceptPackage([commit.hex, reveal.hex]);
  });
});

describe("recovery", () => {
  test("the recovery file alone sweeps the commit output by key path", async () => {
    const chain = new MemoryChain();
    const plan = planInscription({
      network: "regtest",
      inscription: { contentType: "text/plain", body: utf8.decode("r") },
      destination: ADDR,
      changeAddress: ADDR,
      feeRate: 2,
      utxos: fundChain(chain, [50_000n]),
      revealSecret: REVEAL_SECRET,
    });
    const { commit } = await signAll(plan);
    chain.accept(commit.hex);
    const info = JSON.parse(JSON.stringify(plan.recovery));
    const r = buildRecoveryTx(info, ADDR, 2);
    expect(r.tx.getInput(0).finalScriptWitness).toHaveLength(1); // key path
    expect(Number(r.fee)).toBeGreaterThanOrEqual(2 * r.vsize);
    chain.accept(r.tx.hex); // signature checked by the stand-in
    expect(chain.utxosFor(signer.script()).some((u) => u.txid === r.txid)).toBe(true);
    expect(btc.WIF(btc.TEST_NETWORK).decode(info.tweakedWif)).toEqual(hex.decode(info.tweakedSecret));
  });
});

describe("bad input is refused before anything exists to broadcast", () => {
  const chain = new MemoryChain();
  const opts = (extra: Partial<PlanOptions>): PlanOptions => ({
    network: "regtest",
    inscription: { contentType: "text/plain", body: utf8.decode("x") },
    destination: ADDR,
    changeAddress: ADDR,
    feeRate: 2,
    utxos: fundChain(chain, [20_000n]),
    revealSecret: REVEAL_SECRET,
    ...extra,
  });
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(InscribeError);
      return [(e as InscribeError).code, (e as Error).message];
    }
    throw new Error("did not throw");
  };
  test("insufficient funds", () =>
    expect(code(() => planInscription(opts({ utxos: fundChain(chain, [9_000n]) })))[0]).toBe("insufficient-funds"));
  test("no UTXOs at all", () => expect(code(() => planInscription(opts({ utxos: [] })))[0]).toBe("insufficient-funds"));
  test("dust postage", () => expect(code(() => planInscription(opts({ postage: 329n })))[0]).toBe("dust"));
  test("address of the wrong network", () => {
    const mainnetAddr = signer.address("mainnet");
    const [c, msg] = code(() => planInscription(opts({ destination: mainnetAddr })));
    expect(c).toBe("wrong-network");
    expect(msg).toContain(mainnetAddr);
    expect(code(() => planInscription(opts({ changeAddress: "not-an-address" })))[0]).toBe("wrong-network");
  });
  test("content over the 400,000 WU standardness limit", () => {
    const [c, msg] = code(() =>
      planInscription(
        opts({
          inscription: { contentType: "application/octet-stream", body: new Uint8Array(400_000) },
          utxos: fundChain(chain, [50_000_000n]),
        }),
      ),
    );
    expect(c).toBe("too-large");
    expect(msg).toContain("400,000");
    // Just under the limit still plans.
    const ok = planInscription(
      opts({
        inscription: { contentType: "application/octet-stream", body: new Uint8Array(395_000) },
        utxos: fundChain(chain, [50_000_000n]),
      }),
    );
    expect(ok.reveal.vsize * 4).toBeLessThanOrEqual(400_000);
  });
  test("unsupported funding script (P2PKH)", () => {
    const pkh = btc.p2pkh(btc.utils.pubSchnorr(FUND).length === 32 ? new Uint8Array(33).fill(2) : new Uint8Array(33));
    expect(code(() => planInscription(opts({ utxos: [{ txid: "aa".repeat(32), vout: 0, value: 50_000n, script: pkh.script }] })))[0]).toBe(
      "bad-input",
    );
  });
  test("bad fee rate", () => expect(code(() => planInscription(opts({ feeRate: 0 })))[0]).toBe("bad-input"));
  test("metadata over one push is chunked, not refused", () => {
    const p = planInscription(
      opts({ inscription: { contentType: "text/plain", metadata: jsonToCbor({ s: "x".repeat(2000) }), body: utf8.decode("m") } }),
    );
    expect(p.revealScript.length).toBeGreaterThan(2000);
  });
});
