// The library flow end to end over the stand-ins: vetting against ord, reinscription through ord,
// signers (local key, Core wallet, external PSBT), recovery file before broadcast, and the CLI.
import { afterAll, describe, expect, test } from "bun:test";
import * as btc from "@scure/btc-signer";
import { hex, utf8, base64 } from "@scure/base";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseWitness } from "micro-ordinals";
import {
  CoreRpcBackend,
  CoreWalletSigner,
  EsploraBackend,
  ExternalSigner,
  InscribeError,
  KeySigner,
  OrdClient,
  broadcast,
  fundAndSign,
  checkNetwork,
  readCoreCookie,
  waitForReveal,
  type FetchLike,
  type InscribeRequest,
} from "../../inscribe/index.ts";
import { OPTIONS } from "../../inscribe/main.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";
import { startEsplora } from "../../inscribe/testing/esplora-server.ts";
import { startCoreRpc } from "../../inscribe/testing/core-rpc-server.ts";
import { startOrdServer, type OrdServer } from "../../dev/ord-server.ts";

const KEY = new Uint8Array(32).fill(7);
const signer = new KeySigner(KEY, "p2tr");
const ADDR = signer.address("regtest");
const dir = mkdtempSync(join(tmpdir(), "inscribe-test-"));
const stops: (() => unknown)[] = [];
afterAll(() => Promise.all(stops.map((s) => s())));

/**
 * A chain, Esplora over it, and the ord server indexing the same chain: with --index-runes (as the
 * tool asks) unless `runeIndex: false`, optionally at a height of its own (`height`).
 */
async function world(o: { runeIndex?: boolean; height?: number; fetchImpl?: FetchLike } = {}) {
  const chain = new MemoryChain();
  const es = startEsplora({ chain });
  const ord = await startOrdServer({ chain, runeIndex: o.runeIndex ?? true, ...(o.height !== undefined && { height: o.height }) });
  stops.push(es.stop, ord.stop);
  return { chain, es, ord, backend: new EsploraBackend(es.url), ordc: new OrdClient(ord.url, o.fetchImpl) };
}

/** ord's `/status` JSON as ord serialises StatusHtml (src/templates/status.rs), for a server on `chain`. */
const ordStatus = (chain: string, height: number) => ({
  address_index: false,
  blessed_inscriptions: 0,
  chain,
  cursed_inscriptions: 0,
  height,
  initial_sync_time: { secs: 0, nanos: 0 },
  inscription_index: true,
  inscriptions: 0,
  json_api: true,
  lost_sats: 0,
  minimum_rune_for_next_block: "AAAAAAAAAAAAA",
  rune_index: true,
  runes: 0,
  sat_index: true,
  started: "2026-01-01T00:00:00Z",
  transaction_index: false,
  unrecoverably_reorged: false,
  uptime: { secs: 1, nanos: 0 },
});
/** The dev ord server (which has no /status route) with ord's `/status` answer in front of it. */
const withStatus =
  (status: (() => Response) | null): FetchLike =>
  async (url, init) =>
    status && new URL(url).pathname === "/status" ? status() : fetch(url, init);

/**
 * Funds the signer (sats from `satStart` when given) in a confirmed output, which the ord server
 * then knows from the chain; `inscriptions` are put on its first sats, one sat each, in order.
 */
function fund(chain: MemoryChain, ord: OrdServer, value: bigint, inscriptions: string[] = [], satStart?: number) {
  const u = chain.fund(signer.script(), value, satStart !== undefined ? { sat: satStart } : {});
  inscriptions.forEach((id, k) => ord.add({ id, sat: u.sat_ranges[0]![0] + k, body: "" }));
  return u;
}

/** The CLI as a user runs it (a separate process; the stand-ins answer from this one). */
async function cli(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([process.execPath, "run", "inscribe/main.ts", ...args], {
    cwd: join(import.meta.dir, "../.."),
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}
const WIF = btc.WIF(btc.TEST_NETWORK).encode(KEY);

const req = (extra: Partial<InscribeRequest> = {}): InscribeRequest => ({
  network: "regtest",
  inscription: { contentType: "application/json", body: utf8.decode('{"relays":[]}') },
  destination: ADDR,
  feeRate: 2,
  ...extra,
});

describe("fundAndSign + broadcast", () => {
  test("happy path: recovery file first (0600), both txs accepted, reveal seen", async () => {
    const { chain, es, ord, backend, ordc } = await world();
    fund(chain, ord, 100_000n);
    const signed = await fundAndSign(req(), backend, signer, ordc);
    expect(es.log.filter((l) => l.startsWith("POST"))).toEqual([]); // nothing sent while planning
    const recoveryFile = join(dir, "happy.json");
    const r = await broadcast(signed, backend, { recoveryFile });
    expect(statSync(recoveryFile).mode & 0o777).toBe(0o600);
    const rec = JSON.parse(readFileSync(recoveryFile, "utf8"));
    expect(rec.commitTxid).toBe(r.commitTxid);
    expect(rec.inscriptionId).toBe(r.inscriptionId);
    expect(r.inscriptionId).toBe(`${r.revealTxid}i0`);
    expect(await waitForReveal(backend, r.revealTxid, { timeoutMs: 1000, intervalMs: 10 })).toBe(true);
    const revealHex = chain.txs.get(r.revealTxid)!.hex;
    const w = btc.Transaction.fromRaw(hex.decode(revealHex), {
      allowUnknownInputs: true,
      allowUnknownOutputs: true,
      disableScriptCheck: true,
    }).getInput(0).finalScriptWitness!;
    expect(parseWitness(w)![0]!.tags.contentType).toBe("application/json");
    // Broadcasting the same plan twice is refused before any network call: the recovery file exists.
    await expect(broadcast(signed, backend, { recoveryFile })).rejects.toThrow(/EEXIST/);
  });

  test("a UTXO carrying an inscription is never spent", async () => {
    const { chain, ord, backend, ordc } = await world();
    const inscribed = fund(chain, ord, 500_000n, ["ee".repeat(32) + "i0"]);
    const cardinal = fund(chain, ord, 60_000n);
    const signed = await fundAndSign(req(), backend, signer, ordc);
    const spent = signed.plan.commit.inputs.map((u) => u.txid);
    expect(spent).toEqual([cardinal.txid]);
    expect(spent).not.toContain(inscribed.txid);
  });

  test("only inscribed UTXOs: insufficient funds, nothing broadcast", async () => {
    const { chain, es, ord, backend, ordc } = await world();
    fund(chain, ord, 500_000n, ["ee".repeat(32) + "i0"]);
    const err = await fundAndSign(req(), backend, signer, ordc).catch((e) => e);
    expect(err).toBeInstanceOf(InscribeError);
    expect(err.code).toBe("insufficient-funds");
    expect(es.log.some((l) => l.startsWith("POST"))).toBe(false);
  });

  test("a UTXO ord has not indexed (unconfirmed) is left out and said so; ord unreachable: refuse", async () => {
    const { chain, backend, ord, ordc } = await world();
    chain.fund(signer.script(), 100_000n, { confirmed: false }); // in the mempool: not in ord's index yet
    const err = await fundAndSign(req(), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe("insufficient-funds");
    expect(err.message).toContain("100000 more sats in 1 UTXO(s) ord has not indexed yet");
    const ok = fund(chain, ord, 60_000n);
    const signed = await fundAndSign(req(), backend, signer, ordc);
    expect(signed.plan.commit.inputs.map((u) => u.txid)).toEqual([ok.txid]);
    expect(signed.warnings).toEqual(["1 UTXO(s) holding 100000 sats are not indexed by ord yet (unconfirmed?) and were left out"]);
    await ord.stop();
    const err2 = await fundAndSign(req(), backend, signer, ordc).catch((e) => e);
    expect(err2.code).toBe("unchecked");
    expect(err2.message).toContain("unreachable");
  });

  test("unreachable backend", async () => {
    const { ordc } = await world();
    const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const url = `http://127.0.0.1:${s.port}`;
    s.stop(true);
    const err = await fundAndSign(req(), new EsploraBackend(url), signer, ordc).catch((e) => e);
    expect(err.code).toBe("backend");
  });

  test("wrong-network destination", async () => {
    const { chain, ord, backend, ordc } = await world();
    fund(chain, ord, 100_000n);
    const err = await fundAndSign(req({ destination: signer.address("mainnet") }), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe("wrong-network");
  });
});

describe("reinscription on a chosen sat", () => {
  const SAT = 7_000_000_000;
  const OLD = "aa".repeat(32) + "i0";

  test("the new inscription lands on S and S stays at the destination", async () => {
    const { chain, ord, backend, ordc } = await world();
    const holder = fund(chain, ord, 10_000n, [OLD], SAT); // S is the first sat, carrying OLD
    fund(chain, ord, 80_000n);
    const signed = await fundAndSign(req({ sat: BigInt(SAT) }), backend, signer, ordc);
    const p = signed.plan;
    expect(p.commit.inputs[0]!.txid).toBe(holder.txid); // S's UTXO first
    expect(p.commit.commitVout).toBe(0);
    const r = await broadcast(signed, backend, { recoveryFile: join(dir, "reinscribe.json") });
    // S = first sat of commit input 0 → commit output 0 offset 0 → reveal output 0 offset 0 (destination).
    const reveal = btc.Transaction.fromRaw(hex.decode(chain.txs.get(r.revealTxid)!.hex), {
      allowUnknownInputs: true,
      allowUnknownOutputs: true,
      disableScriptCheck: true,
    });
    expect(hex.encode(reveal.getOutput(0).script!)).toBe(hex.encode(signer.script()));
    expect(reveal.getOutput(0).amount).toBe(10_000n);
  });

  test("refuses when S is in a UTXO the signer does not control", async () => {
    const { chain, ord, backend, ordc } = await world();
    const other = chain.fund(new KeySigner(new Uint8Array(32).fill(3)).script(), 10_000n, { sat: SAT });
    ord.add({ id: OLD, sat: SAT, body: "" });
    fund(chain, ord, 80_000n);
    const err = await fundAndSign(req({ sat: BigInt(SAT) }), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe("not-controlled");
    expect(err.message).toContain(`${other.txid}:0`);
  });

  test("refuses when S shares its UTXO with other inscriptions", async () => {
    const { chain, ord, backend, ordc } = await world();
    fund(chain, ord, 10_000n, [OLD, "bb".repeat(32) + "i0"], SAT); // OLD on S, the other on S + 1
    fund(chain, ord, 80_000n);
    const err = await fundAndSign(req({ sat: BigInt(SAT) }), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe("inscribed-utxo");
  });
});

describe("other signers", () => {
  test("watch-only: external signer round trip; a broken or foreign PSBT is refused", async () => {
    const { chain, ord, backend, ordc } = await world();
    fund(chain, ord, 100_000n);
    const secret = new Uint8Array(32).fill(4);
    let seen: Uint8Array | null = null;
    const hw = new ExternalSigner(ADDR, async (unsigned) => ((seen = unsigned), signer.signPsbt(unsigned)), signer.tapInternalKey);
    const ok = await fundAndSign(req({ revealSecret: secret }), backend, hw, ordc);
    expect(seen).not.toBeNull();
    expect(btc.Transaction.fromPSBT(seen!).id).toBe(ok.plan.commit.txid);

    const broken = new ExternalSigner(ADDR, async () => utf8.decode("not a psbt"));
    expect((await fundAndSign(req(), backend, broken, ordc).catch((e) => e)).code).toBe("bad-psbt");
    const unsigned = new ExternalSigner(ADDR, async (u) => u);
    expect((await fundAndSign(req(), backend, unsigned, ordc).catch((e) => e)).code).toBe("bad-psbt");
    const foreign = new ExternalSigner(ADDR, async (u) => {
      const tx = btc.Transaction.fromPSBT(u);
      tx.updateOutput(0, { amount: tx.getOutput(0).amount! - 1n });
      return tx.toPSBT();
    });
    const err = await fundAndSign(req(), backend, foreign, ordc).catch((e) => e);
    expect(err.code).toBe("bad-psbt");
    expect(err.message).toContain("different transaction");
  });

  test("Core wallet: funds from listunspent, signs with walletprocesspsbt, broadcasts as a package", async () => {
    const chain = new MemoryChain();
    const core = startCoreRpc({ chain, walletKey: KEY, walletScripts: [signer.script()] });
    const ord = await startOrdServer({ chain, runeIndex: true });
    stops.push(core.stop, ord.stop);
    const backend = new CoreRpcBackend(core.url, { user: "user", password: "pass" }, "maint");
    fund(chain, ord, 100_000n);
    const s = new CoreWalletSigner(backend);
    const signed = await fundAndSign(req({ changeAddress: ADDR, utxos: await backend.walletUtxos() }), backend, s, new OrdClient(ord.url));
    const r = await broadcast(signed, backend, { recoveryFile: join(dir, "core.json") });
    expect(core.calls).toContain("walletprocesspsbt");
    expect(core.calls).toContain("submitpackage");
    expect(chain.txs.has(r.revealTxid)).toBe(true);
  });
});

describe("CLI", () => {
  const run = cli;

  test("--help: every option the parser takes has a line of its own; usage in the npm run form", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Usage: npm run inscribe -- <file> [options]");
    const names = Object.keys(OPTIONS);
    expect(names).toContain("allow-unindexed-runes");
    expect(names).toContain("change-address");
    expect(names).toContain("regtest-sandbox");
    for (const o of names) expect(r.out).toMatch(new RegExp(`^  (-h, )?--${o}( |$)`, "m"));
    // and nothing documented that the parser does not take
    for (const m of r.out.matchAll(/^ {2}(?:-h, )?--([a-z-]+)/gm)) expect(names).toContain(m[1]!);
    expect(r.out).toContain("Exit codes");
  });

  test("dry run prints the plan, broadcasts nothing, never prints the key", async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 100_000n);
    const file = join(dir, "boot.json");
    writeFileSync(file, JSON.stringify({ relays: [{ addr: "203.0.113.7:443", fp: "ab".repeat(32) }] }).repeat(20));
    const r = await run(
      [file, "--compress", "--network", "regtest", "--esplora", es.url, "--ord", ord.url, "--key-env", "TEST_KEY", "--fee-rate", "3"],
      { TEST_KEY: WIF },
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/inscription id +[0-9a-f]{64}i0/);
    expect(r.out).toMatch(/application\/json \(br\): \d+ bytes → \d+ bytes/);
    expect(r.out).toMatch(/^  commit +[0-9a-f]{64} +\d+ vB +fee [\d,]+ sats/m);
    expect(r.out).toMatch(/^  reveal +[0-9a-f]{64} +\d+ vB +fee [\d,]+ sats/m);
    expect(r.out).toMatch(/^  total cost +[\d,]+ sats +\(fees [\d,]+ sats \+ postage 10,000 sats\)/m);
    expect(r.out).toContain("Dry run: nothing was broadcast");
    // --json: stdout is one JSON object whose numbers add up.
    const j = await run(
      [
        file,
        "--compress",
        "--network",
        "regtest",
        "--esplora",
        es.url,
        "--ord",
        ord.url,
        "--key-env",
        "TEST_KEY",
        "--fee-rate",
        "3",
        "--json",
      ],
      { TEST_KEY: WIF },
    );
    expect(j.code).toBe(0);
    const plan = JSON.parse(j.out);
    expect(plan.inscriptionId).toBe(`${plan.reveal.txid}i0`);
    expect(plan.contentBytes.after).toBeLessThan(plan.contentBytes.before);
    expect(plan.totalCost).toBe(plan.commit.fee + plan.reveal.fee + plan.postage);
    expect(plan.broadcast).toBe(false);
    expect(r.out).not.toContain(WIF);
    expect(r.out).not.toContain(hex.encode(KEY));
    expect(es.log.some((l) => l.startsWith("POST"))).toBe(false);
  });

  test("--broadcast writes the recovery file and sends both", async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 100_000n);
    const file = join(dir, "hello.txt");
    writeFileSync(file, "hello");
    const keyFile = join(dir, "key");
    writeFileSync(keyFile, hex.encode(KEY));
    const rec = join(dir, "cli-recovery.json");
    const r = await run([
      file,
      "--network",
      "regtest",
      "--esplora",
      es.url,
      "--ord",
      ord.url,
      "--key-file",
      keyFile,
      "--fee-rate",
      "2",
      "--broadcast",
      "--recovery-file",
      rec,
      "--wait",
      "2",
    ]);
    expect(r.err).toBe("");
    expect(r.out).toContain("Reveal seen by esplora");
    expect(existsSync(rec)).toBe(true);
    expect(es.log.filter((l) => l === "POST /tx")).toHaveLength(2);
    expect(r.out).not.toContain(hex.encode(KEY));
  });

  test("errors are one clear line and exit 1", async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 5_000n);
    const file = join(dir, "x.txt");
    writeFileSync(file, "x");
    const poor = await run(
      [file, "--network", "regtest", "--esplora", es.url, "--ord", ord.url, "--key-env", "TEST_KEY", "--fee-rate", "2"],
      { TEST_KEY: WIF },
    );
    expect(poor.code).toBe(1);
    expect(poor.err).toMatch(/^inscribe: need \d+ sats/);
    const noType = await run([join(dir, "key"), "--ord", ord.url, "--esplora", es.url]);
    expect(noType.err).toContain("pass --content-type");
    const wrongNet = await run(
      [
        file,
        "--network",
        "regtest",
        "--esplora",
        es.url,
        "--ord",
        ord.url,
        "--key-env",
        "TEST_KEY",
        "--fee-rate",
        "2",
        "--destination",
        signer.address("mainnet"),
      ],
      { TEST_KEY: WIF },
    );
    expect(wrongNet.err).toContain("is not a valid regtest address");
    expect(es.log.some((l) => l.startsWith("POST"))).toBe(false);
  });

  test("watch-only: writes an unsigned PSBT + state, then takes the signed PSBT back", async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 100_000n);
    const file = join(dir, "w.txt");
    writeFileSync(file, "watch");
    const psbt = join(dir, "commit.psbt");
    const state = join(dir, "state.json");
    const common = [
      file,
      "--network",
      "regtest",
      "--esplora",
      es.url,
      "--ord",
      ord.url,
      "--watch-only",
      ADDR,
      "--internal-key",
      hex.encode(signer.tapInternalKey!),
      "--fee-rate",
      "2",
    ];
    const first = await run([...common, "--psbt-out", psbt, "--state", state]);
    expect(first.code).toBe(2);
    expect(first.out).toContain("Unsigned commit PSBT written");
    // The "hardware wallet":
    const signedPsbt = join(dir, "commit.signed.psbt");
    writeFileSync(signedPsbt, base64.encode(await signer.signPsbt(base64.decode(readFileSync(psbt, "utf8").trim()))));
    const second = await run([
      ...common,
      "--signed-psbt",
      signedPsbt,
      "--state",
      state,
      "--broadcast",
      "--recovery-file",
      join(dir, "w-rec.json"),
      "--wait",
      "2",
    ]);
    expect(second.err).toBe("");
    expect(second.out).toContain("Reveal seen");
    // A corrupted signed PSBT is refused.
    writeFileSync(signedPsbt, "garbage!!");
    const bad = await run([...common, "--signed-psbt", signedPsbt, "--state", state]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("PSBT");
  });
});

// Issue 18 item 10: each gap with the failure it had.
describe("runes unknown → refuse (ord without --index-runes answers runes: null)", () => {
  test("library: nothing is planned or sent; allowUnindexedRunes spends and says so", async () => {
    const { chain, es, ord, backend, ordc } = await world({ runeIndex: false });
    fund(chain, ord, 100_000n);
    // Before: planned and signed as if the UTXO held no runes.
    const err = await fundAndSign(req(), backend, signer, ordc).catch((e) => e);
    expect(err).toBeInstanceOf(InscribeError);
    expect(err.code).toBe("unchecked");
    expect(err.message).toContain(`ord server ${ord.url} does not index runes`);
    expect(err.message).toContain("says runes: null");
    expect(err.message).toContain("--allow-unindexed-runes");
    expect(es.log.some((l) => l.startsWith("POST"))).toBe(false);
    const signed = await fundAndSign(req({ allowUnindexedRunes: true }), backend, signer, ordc);
    expect(signed.warnings).toEqual([`runes were not checked: ord server ${ord.url} does not index runes (--allow-unindexed-runes)`]);
  });

  test("CLI: exit 1 with the reason; --allow-unindexed-runes plans with a warning line", async () => {
    const { chain, es, ord } = await world({ runeIndex: false });
    fund(chain, ord, 100_000n);
    const file = join(dir, "runes.txt");
    writeFileSync(file, "runes");
    const args = [file, "--network", "regtest", "--esplora", es.url, "--ord", ord.url, "--key-env", "TEST_KEY", "--fee-rate", "2"];
    const r = await cli(args, { TEST_KEY: WIF });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^inscribe: ord server http:\/\/127\.0\.0\.1:\d+ does not index runes/);
    expect(r.out).not.toContain("Plan");
    const ok = await cli([...args, "--allow-unindexed-runes"], { TEST_KEY: WIF });
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`Warning: runes were not checked: ord server ${ord.url} does not index runes`);
    expect(ok.out).toContain("Dry run: nothing was broadcast");
  });
});

describe("backend and ord network checked against --network before planning", () => {
  test("CLI: --network mainnet against a regtest Esplora is refused (before: it planned)", async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 100_000n);
    const file = join(dir, "net.txt");
    writeFileSync(file, "net");
    const keyFile = join(dir, "net-key");
    writeFileSync(keyFile, hex.encode(KEY));
    const r = await cli([file, "--network", "mainnet", "--esplora", es.url, "--ord", ord.url, "--key-file", keyFile, "--fee-rate", "2"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `inscribe: --network mainnet, but the esplora backend at ${es.url} is on regtest (its block 0 is 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206)\n`,
    );
    expect(es.log.filter((l) => l.startsWith("GET /address/"))).toEqual([]); // no UTXO was even asked for
  });

  test("Core: getblockchaininfo names the chain", async () => {
    const chain = new MemoryChain();
    const core = startCoreRpc({ chain });
    const ord = await startOrdServer({ chain, runeIndex: true });
    stops.push(core.stop, ord.stop);
    const backend = new CoreRpcBackend(core.url, { user: "user", password: "pass" });
    expect(await backend.chain()).toEqual({ chain: "regtest", evidence: 'getblockchaininfo says chain "regtest"' });
    const err = await checkNetwork("signet", backend, new OrdClient(ord.url)).catch((e) => e);
    expect(err.code).toBe("wrong-network");
    expect(err.message).toBe(
      `inscribe: --network signet, but the core backend at ${core.url} is on regtest (getblockchaininfo says chain "regtest")`,
    );
    await checkNetwork("regtest", backend, new OrdClient(ord.url)); // the same chain passes
  });

  test("ord: /status says another chain → refused; no /status → its height must not be past the backend tip", async () => {
    const mainnetOrd = await world({ fetchImpl: withStatus(() => Response.json(ordStatus("mainnet", 100))) });
    fund(mainnetOrd.chain, mainnetOrd.ord, 100_000n);
    const err = await fundAndSign(req(), mainnetOrd.backend, signer, mainnetOrd.ordc).catch((e) => e);
    expect(err.code).toBe("wrong-network");
    expect(err.message).toBe(
      `inscribe: --network regtest, but the ord server at ${mainnetOrd.ord.url} is on mainnet (/status says chain "mainnet")`,
    );
    // ord's own name for the chain passes, as does an ord whose JSON API is off (406) at a sane height.
    const regtestOrd = await world({ fetchImpl: withStatus(() => Response.json(ordStatus("regtest", 100))) });
    fund(regtestOrd.chain, regtestOrd.ord, 100_000n);
    expect((await fundAndSign(req(), regtestOrd.backend, signer, regtestOrd.ordc)).plan.inscriptionId).toMatch(/i0$/);
    const noJson = await world({ fetchImpl: withStatus(() => new Response("JSON API disabled", { status: 406 })) });
    fund(noJson.chain, noJson.ord, 100_000n);
    expect((await fundAndSign(req(), noJson.backend, signer, noJson.ordc)).warnings).toEqual([]);
    // The dev server has no /status: a mainnet-height ord beside a regtest backend is caught by height.
    const ahead = await world({ height: 900_000 });
    const err2 = await fundAndSign(req(), ahead.backend, signer, ahead.ordc).catch((e) => e);
    expect(err2.code).toBe("wrong-network");
    expect(err2.message).toBe(
      `inscribe: the ord server at ${ahead.ord.url} is at block 900000, past the esplora backend's tip 100: they do not follow the same regtest chain`,
    );
  });
});

describe('--core-wallet-sign from the CLI (before: "a change address is needed for this signer")', () => {
  test("change goes to a fresh getrawchangeaddress of the wallet; --change-address overrides; the cookie is read once, right", async () => {
    const WALLET_KEY = new Uint8Array(32).fill(11);
    const wallet = new KeySigner(WALLET_KEY, "p2tr");
    const chain = new MemoryChain();
    // A password with colons: the cookie splits at the first one (inscribe/main.ts once split at every one).
    const core = startCoreRpc({
      chain,
      user: "__cookie__",
      password: "pa:ss:word",
      walletKey: WALLET_KEY,
      walletScripts: [wallet.script()],
    });
    const ord = await startOrdServer({ chain, runeIndex: true });
    stops.push(core.stop, ord.stop);
    const cookie = join(dir, ".cookie");
    writeFileSync(cookie, "__cookie__:pa:ss:word\n");
    expect(readCoreCookie(cookie)).toEqual({ user: "__cookie__", password: "pa:ss:word" });
    chain.fund(wallet.script(), 100_000n);
    const file = join(dir, "core.txt");
    writeFileSync(file, "core wallet");
    const common = [
      file,
      "--network",
      "regtest",
      "--core-rpc",
      core.url,
      "--core-cookie",
      cookie,
      "--core-wallet",
      "w1",
      "--core-wallet-sign",
      "--destination",
      ADDR,
      "--ord",
      ord.url,
      "--fee-rate",
      "2",
    ];
    const r = await cli([...common, "--broadcast", "--recovery-file", join(dir, "core-cli-rec.json"), "--wait", "2"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(core.calls).toContain("getrawchangeaddress");
    expect(core.calls).toContain("walletprocesspsbt");
    const outputsOf = (txid: string) => {
      const tx = btc.Transaction.fromRaw(hex.decode(chain.txs.get(txid)!.hex), { allowUnknownOutputs: true });
      return Array.from({ length: tx.outputsLength }, (_, i) => hex.encode(tx.getOutput(i).script!));
    };
    const commit1 = /Broadcast commit ([0-9a-f]{64})/.exec(r.out)![1]!;
    expect(outputsOf(commit1)).toContain(hex.encode(wallet.script())); // the change is the wallet's again
    chain.mine();

    const elsewhere = new KeySigner(new Uint8Array(32).fill(12), "p2tr");
    const asked = core.calls.filter((c) => c === "getrawchangeaddress").length;
    const r2 = await cli([
      ...common,
      "--change-address",
      elsewhere.address("regtest"),
      "--broadcast",
      "--recovery-file",
      join(dir, "core-cli-rec2.json"),
      "--wait",
      "2",
    ]);
    expect(r2.err).toBe("");
    const commit2 = /Broadcast commit ([0-9a-f]{64})/.exec(r2.out)![1]!;
    expect(outputsOf(commit2)).toContain(hex.encode(elsewhere.script()));
    expect(core.calls.filter((c) => c === "getrawchangeaddress").length).toBe(asked);
    // A change address of another network is refused before anything is signed.
    const bad = await cli([...common, "--change-address", elsewhere.address("mainnet")]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("is not a valid regtest address");
  });
});
