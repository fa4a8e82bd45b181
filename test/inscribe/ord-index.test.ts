// End to end over one in-memory chain: the inscribe library funds, signs and broadcasts through
// the Esplora stand-in, and the dev ord server (dev/ord-server.ts), wired to the same chain,
// indexes each mined reveal like ord: a record and its reinscription on the same sat, then a child.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { utf8 } from "@scure/base";
import {
  EsploraBackend,
  KeySigner,
  OrdClient,
  broadcast,
  compressBody,
  fundAndSign,
  jsonToCbor,
  type InscribeRequest,
} from "../../inscribe/index.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";
import { startEsplora, type EsploraStandIn } from "../../inscribe/testing/esplora-server.ts";
import { startOrdServer, type OrdServer } from "../../dev/ord-server.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const signer = new KeySigner(new Uint8Array(32).fill(9), "p2tr");
const ADDR = signer.address("regtest")!;
const SAT = 3_000_000_000; // the first sat of the funding UTXO: where the record goes
const dir = mkdtempSync(join(tmpdir(), "ord-index-test-"));

let chain: MemoryChain;
let es: EsploraStandIn;
let ord: OrdServer;
let backend: EsploraBackend;
let ordc: OrdClient;
beforeAll(async () => {
  chain = new MemoryChain();
  es = startEsplora({ chain });
  ord = await startOrdServer({ chain, runeIndex: true });
  backend = new EsploraBackend(es.url);
  ordc = new OrdClient(ord.url);
  chain.fund(signer.script(), 200_000n, { sat: SAT });
});
afterAll(async () => {
  es.stop();
  await ord.stop();
});

const record = (v: number, n = 1) => ({
  v,
  relays: Array.from({ length: n }, (_, k) => ({ addr: `203.0.113.${v}:${443 + k}`, fp: "ab".repeat(32) })),
});
const req = (extra: Partial<InscribeRequest>): InscribeRequest => ({
  network: "regtest",
  inscription: { contentType: "application/json", body: utf8.decode(JSON.stringify(record(1))) },
  destination: ADDR,
  feeRate: 2,
  ...extra,
});
const get = (path: string, headers: Record<string, string> = {}) => fetch(ord.url + path, { headers });

describe("ord server indexing the chain the relay inscribes on", () => {
  const ids: string[] = [];

  test("a record revealed and mined is on the funding UTXO’s first sat", async () => {
    const signed = await fundAndSign(req({}), backend, signer, ordc);
    const r = await broadcast(signed, backend, { recoveryFile: join(dir, "first.json") });
    // ord reads blocks, not the mempool: nothing yet.
    expect(await (await get(`/r/sat/${SAT}/at/-1`)).json()).toEqual({ id: null });
    expect((await get(`/r/inscription/${r.inscriptionId}`)).status).toBe(404);
    chain.mine();
    expect(r.inscriptionId).toBe(`${r.revealTxid}i0`);
    const info = await ordc.inscription(r.inscriptionId);
    expect(info.sat).toBe(SAT);
    expect(info.satpoint).toBe(`${r.revealTxid}:0:0`);
    expect(info.content_type).toBe("application/json");
    expect(info.height).toBe(chain.height);
    expect(info.value).toBe(10_000);
    expect(info.address).toBe(ADDR);
    expect(info.fee).toBe(Number(signed.plan.reveal.fee));
    expect(await (await get(`/r/sat/${SAT}/at/-1/content`)).json()).toEqual(record(1));
    // The output now carries it, and ord says so to the next funding round.
    expect(await ordc.utxo(`${r.revealTxid}:0`)).toEqual({
      inscriptions: [r.inscriptionId],
      runes: {},
      sat_ranges: [[SAT, SAT + 10_000]],
      value: 10_000,
    });
    expect((await get(`/r/tx/${r.revealTxid}`)).status).toBe(200);
    ids.push(r.inscriptionId);
  });

  test("reinscribing the sat: /at/-1/content is the new JSON (no-store), /r/sat lists both oldest first", async () => {
    const body = compressBody(utf8.decode(JSON.stringify(record(2, 8))), "text");
    expect(body.encoding).toBe("br");
    const metadata = jsonToCbor({ relay: 2 });
    const signed = await fundAndSign(
      req({ sat: BigInt(SAT), inscription: { contentType: "application/json", contentEncoding: "br", body: body.body, metadata } }),
      backend,
      signer,
      ordc,
    );
    expect(signed.plan.commit.inputs[0]!.txid).toBe(ids[0]!.slice(0, 64)); // the UTXO holding S goes first
    const r = await broadcast(signed, backend, { recoveryFile: join(dir, "second.json") });
    chain.mine();
    ids.push(r.inscriptionId);

    const latest = await get(`/r/sat/${SAT}/at/-1/content`, { "Accept-Encoding": "br" });
    expect(latest.status).toBe(200);
    expect(latest.headers.get("cache-control")).toBe("no-store");
    expect(latest.headers.get("content-type")).toBe("application/json");
    expect(latest.headers.get("content-encoding")).toBe("br");
    expect(await latest.json()).toEqual(record(2, 8)); // fetch decodes br
    const at = await get(`/r/sat/${SAT}/at/-1`);
    expect(at.headers.get("cache-control")).toBe("no-store");
    expect(await at.json()).toEqual({ id: ids[1] });
    expect(await (await get(`/r/sat/${SAT}`)).json()).toEqual({ ids: [ids[0], ids[1]], more: false, page: 0 });
    expect((await get(`/r/sat/${SAT}/at/0`)).headers.get("cache-control")).toBeNull();
    expect(await (await get(`/r/sat/${SAT}/at/0/content`)).json()).toEqual(record(1));
    expect(await (await get(`/r/metadata/${ids[1]}`)).json()).toBe(Buffer.from(metadata).toString("hex"));
    const info = await ordc.inscription(ids[1]!);
    expect(info.charms).toEqual(["reinscription"]);
    // Both inscriptions moved with the sat: the old output is spent, the new one holds both.
    expect((await ordc.inscription(ids[0]!)).satpoint).toBe(`${r.revealTxid}:0:0`);
    expect((await get(`/r/utxo/${ids[0]!.slice(0, 64)}:0`)).status).toBe(404);
    expect((await ordc.output(`${ids[0]!.slice(0, 64)}:0`)).spent).toBe(true);
    expect((await ordc.utxo(`${r.revealTxid}:0`)).inscriptions).toEqual([ids[0], ids[1]]);
    expect(await ordc.locateSat(BigInt(SAT))).toMatchObject({ outpoint: `${r.revealTxid}:0`, offset: 0n });
  });

  test("a child of the record: parent recorded, child lands after the parent output", async () => {
    const signed = await fundAndSign(
      req({ inscription: { contentType: "text/plain;charset=utf-8", body: utf8.decode("child"), parents: [ids[1]!] } }),
      backend,
      signer,
      ordc,
    );
    const r = await broadcast(signed, backend, { recoveryFile: join(dir, "child.json") });
    chain.mine();
    const child = await ordc.inscription(r.inscriptionId);
    expect(child.satpoint).toBe(`${r.revealTxid}:1:0`); // output 0 returns the parent (and S) to its owner
    expect(child.sat).not.toBe(SAT);
    expect(await ordc.children(ids[1]!)).toEqual({ ids: [r.inscriptionId], more: false, page: 0 });
    expect(await (await get(`/r/parents/${r.inscriptionId}`)).json()).toEqual({ ids: [ids[1]], more: false, page_index: 0 });
    expect(await (await get(`/r/sat/${SAT}/at/-1/content`, { "Accept-Encoding": "br" })).json()).toEqual(record(2, 8)); // S still says the record
    expect((await ordc.inscription(ids[1]!)).satpoint).toBe(`${r.revealTxid}:0:0`);
  });
});
