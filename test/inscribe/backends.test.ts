// Esplora, Core RPC and ord clients against local stand-ins (127.0.0.1, port 0) that answer with
// those APIs' documented shapes, errors included.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as btc from "@scure/btc-signer";
import { utf8 } from "@scure/base";
import { BackendError, CoreRpcBackend, CoreRpcError, EsploraBackend, KeySigner, btcToSats } from "../../inscribe/fund.ts";
import { OrdClient, OrdError } from "../../inscribe/ord.ts";
import { planInscription, signRevealCommitInput } from "../../inscribe/tx.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";
import { startEsplora } from "../../inscribe/testing/esplora-server.ts";
import { startCoreRpc } from "../../inscribe/testing/core-rpc-server.ts";
import { startOrdServer } from "../../dev/ord-server.ts";

const signer = new KeySigner(new Uint8Array(32).fill(7), "p2tr");
const ADDR = signer.address("regtest");
const SECRET = new Uint8Array(32).fill(9);
const stops: (() => unknown)[] = [];
afterAll(() => Promise.all(stops.map((s) => s())));

async function signedPair(chain: MemoryChain, feeRate = 2) {
  const u = chain.fund(signer.script(), 50_000n);
  const plan = planInscription({
    network: "regtest",
    inscription: { contentType: "text/plain", body: utf8.decode("hi") },
    destination: ADDR,
    changeAddress: ADDR,
    feeRate,
    utxos: [{ ...u, tapInternalKey: signer.tapInternalKey! }],
    revealSecret: SECRET,
  });
  const commit = btc.Transaction.fromPSBT(await signer.signPsbt(plan.commit.tx.toPSBT()));
  commit.finalize();
  signRevealCommitInput(plan, SECRET);
  return { plan, commitHex: commit.hex, revealHex: plan.reveal.tx.hex };
}

/** A port nothing listens on: bind, note the port, close. */
function deadUrl(): string {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const url = `http://127.0.0.1:${s.port}`;
  s.stop(true);
  return url;
}

describe("Esplora backend", () => {
  const es = startEsplora();
  stops.push(es.stop);
  const be = new EsploraBackend(es.url + "/");

  test("utxos, fee estimate, tip height", async () => {
    const u = es.chain.fund(signer.script(), 12_345n);
    const list = await be.utxos(ADDR, "regtest");
    expect(list.find((x) => x.txid === u.txid)).toMatchObject({ vout: 0, value: 12_345n });
    expect(await be.feeRate(2)).toBe(10.1);
    expect(await be.feeRate(5)).toBe(8.2); // nearest target at or below 5 blocks
    expect(await be.tipHeight()).toBe(es.chain.height);
  });

  test("broadcast both, status seen then confirmed", async () => {
    const { plan, commitHex, revealHex } = await signedPair(es.chain);
    expect(await be.txStatus(plan.reveal.txid)).toEqual({ seen: false, confirmed: false }); // 404 "Transaction not found"
    expect(await be.broadcast([commitHex, revealHex])).toEqual([plan.commit.txid, plan.reveal.txid]);
    expect(await be.txStatus(plan.reveal.txid)).toEqual({ seen: true, confirmed: false });
    const h = es.chain.mine();
    expect(await be.txStatus(plan.reveal.txid)).toEqual({ seen: true, confirmed: true, blockHeight: h });
    expect(es.log).toContain("POST /tx");
  });

  test("a rejected tx surfaces the node error with URL and status", async () => {
    const { revealHex } = await signedPair(es.chain);
    // Reveal without its commit: inputs missing.
    const err = await be.broadcast([revealHex]).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(400);
    expect(err.message).toContain(`${es.url}/tx`);
    expect(err.message).toContain("bad-txns-inputs-missingorspent");
  });

  test("server errors and non-JSON bodies", async () => {
    es.failNext("/fee-estimates", 503, "Service Unavailable");
    await expect(be.feeRate()).rejects.toThrow(/HTTP 503 from http:\/\/127\.0\.0\.1:\d+\/fee-estimates/);
    es.failNext("/address/", 200, "<html>");
    await expect(be.utxos(ADDR, "regtest")).rejects.toThrow(/not JSON/);
  });

  test("unreachable backend", async () => {
    const err = await new EsploraBackend(deadUrl()).tipHeight().catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(0);
    expect(err.code).toBe("backend");
    expect(err.message).toContain("unreachable");
  });
});

describe("Core RPC backend", () => {
  const core = startCoreRpc();
  stops.push(core.stop);
  const be = new CoreRpcBackend(core.url, { user: "user", password: "pass" }, "w1");

  test("bad credentials: 401 with an empty body", async () => {
    const err = await new CoreRpcBackend(core.url, { user: "user", password: "nope" }).tipHeight().catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(401);
  });

  test("listunspent amounts in BTC become exact sats; estimatesmartfee BTC/kvB → sat/vB", async () => {
    core.chain.fund(signer.script(), 123_456_789n);
    const list = await be.utxos(ADDR, "regtest");
    expect(list.some((u) => u.value === 123_456_789n)).toBe(true);
    expect(btcToSats(0.00010001)).toBe(10_001n);
    expect(btcToSats(20999999.9769)).toBe(2_099_999_997_690_000n);
    expect(await be.feeRate()).toBe(20);
    core.feeRateBtcKvb = null;
    await expect(be.feeRate()).rejects.toThrow(/Insufficient data/);
    core.feeRateBtcKvb = 0.0002;
  });

  test("testmempoolaccept gates the package; submitpackage sends it", async () => {
    const { plan, commitHex, revealHex } = await signedPair(core.chain);
    const ids = await be.broadcast([commitHex, revealHex]);
    expect(ids).toEqual([plan.commit.txid, plan.reveal.txid]);
    expect(core.calls.slice(-2)).toEqual(["testmempoolaccept", "submitpackage"]);
    expect(await be.txStatus(plan.reveal.txid)).toEqual({ seen: true, confirmed: false });
    core.chain.mine();
    expect(await be.txStatus(plan.reveal.txid)).toEqual({ seen: true, confirmed: true });
    expect(await be.txStatus("00".repeat(32))).toEqual({ seen: false, confirmed: false });
  });

  test("a rejected package broadcasts nothing", async () => {
    const { plan, revealHex } = await signedPair(core.chain);
    const before = core.chain.txs.size;
    const err = await be.broadcast([revealHex]).catch((e) => e);
    expect(err.message).toContain("testmempoolaccept rejected");
    expect(err.message).toContain("bad-txns-inputs-missingorspent");
    expect(core.chain.txs.size).toBe(before);
    expect(core.chain.txs.has(plan.reveal.txid)).toBe(false);
  });

  test("Core without submitpackage (-32601): falls back to sendrawtransaction in order", async () => {
    core.noSubmitPackage = true;
    const { plan, commitHex, revealHex } = await signedPair(core.chain);
    expect(await be.broadcast([commitHex, revealHex])).toEqual([plan.commit.txid, plan.reveal.txid]);
    expect(core.calls.slice(-4)).toEqual(["testmempoolaccept", "submitpackage", "sendrawtransaction", "sendrawtransaction"]);
    core.noSubmitPackage = false;
  });

  test("RPC errors carry the code", async () => {
    const err = (await be.rpc("nosuchmethod", []).catch((e) => e)) as CoreRpcError;
    expect(err).toBeInstanceOf(CoreRpcError);
    expect(err.rpcCode).toBe(-32601);
    expect(err.status).toBe(404);
  });

  test("unreachable node", async () => {
    const err = await new CoreRpcBackend(deadUrl(), null).tipHeight().catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(0);
  });
});

describe("ord client", () => {
  // The dev ord server over a chain: the output comes from the chain (with its sat range), the
  // inscription on its first sat is added to the server, as ord would have indexed it.
  let ord: Awaited<ReturnType<typeof startOrdServer>>;
  let c: OrdClient;
  let OP = "";
  const ID = "ab".repeat(32) + "i0";
  beforeAll(async () => {
    const chain = new MemoryChain();
    const u = chain.fund(signer.script(), 10_000n, { sat: 5_000_000_000 });
    OP = `${u.txid}:0`;
    ord = await startOrdServer({ chain, runeIndex: true });
    stops.push(ord.stop);
    c = new OrdClient(ord.url);
    ord.add({ id: ID, sat: 5_000_000_000, content_type: "application/json", body: utf8.decode('{"relays":[]}') });
  });

  test("utxo and output shapes (api.rs UtxoRecursive / Output)", async () => {
    expect(await c.utxo(OP)).toEqual({ inscriptions: [ID], runes: {}, sat_ranges: [[5_000_000_000, 5_000_010_000]], value: 10_000 });
    const o = await c.output(OP);
    expect(o.outpoint).toBe(OP);
    expect(o.inscriptions).toEqual([ID]);
    expect(o.spent).toBe(false);
    expect(o.address).toBe(ADDR);
  });

  test("inscription, content, sat routes, children, blockheight", async () => {
    expect((await c.inscription(ID)).satpoint).toBe(`${OP}:0`);
    const content = await c.content(ID);
    expect(content.contentType).toBe("application/json");
    expect(utf8.encode(content.body)).toBe('{"relays":[]}');
    expect(await c.satAt(5_000_000_000n, -1)).toBe(ID);
    expect(await c.satAt(5_000_000_000n, 1)).toBeNull();
    expect(await c.satInscriptions(5_000_000_000n, 0)).toEqual({ ids: [ID], more: false, page: 0 });
    expect(await c.children(ID)).toEqual({ ids: [], more: false, page: 0 });
    expect(await c.blockheight()).toBe(100);
    expect(await c.locateSat(5_000_000_005n)).toMatchObject({ outpoint: OP, offset: 5n });
    expect(ord.log).toContain("/r/sat/5000000000/at/-1");
  });

  test("typed errors name the URL and status", async () => {
    const err = await c.inscription("ef".repeat(32) + "i0").catch((e) => e);
    expect(err).toBeInstanceOf(OrdError);
    expect(err.status).toBe(404);
    expect(err.url).toBe(`${ord.url}/r/inscription/${"ef".repeat(32)}i0`);
    const dead = await new OrdClient(deadUrl()).blockheight().catch((e) => e);
    expect(dead).toBeInstanceOf(OrdError);
    expect(dead.status).toBe(0);
  });
});
