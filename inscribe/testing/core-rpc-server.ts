// testing/core-rpc-server.ts: a minimal Bitcoin Core JSON-RPC stand-in over a MemoryChain, on
// 127.0.0.1. JSON-RPC 1.0 envelope as Core answers it: {result, error, id}; errors with HTTP 500
// (404 for an unknown method, code -32601), 401 with an empty body on bad credentials. Methods:
// listunspent, estimatesmartfee, testmempoolaccept, submitpackage, sendrawtransaction,
// getmempoolentry, getrawtransaction, getblockcount, getblockchaininfo, and for the wallet
// walletprocesspsbt (signs with `walletKey`) and getrawchangeaddress (its P2TR address).
// Here rather than under test/: the regtest sandbox (sandbox.ts, `npm run inscribe -- --regtest-sandbox`) runs it too.
import * as btc from "@scure/btc-signer";
import { hex, base64 } from "@scure/base";
import { MemoryChain, RejectError } from "./chain.ts";
import { CORE_CHAIN } from "../networks.ts";

export interface CoreStandIn {
  url: string;
  chain: MemoryChain;
  calls: string[];
  /** Pretend to be Core < 26 (no submitpackage). */
  noSubmitPackage: boolean;
  feeRateBtcKvb: number | null;
  stop(): void;
}

const OPTS = { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true } as const;

export function startCoreRpc(
  opts: { chain?: MemoryChain; user?: string; password?: string; walletKey?: Uint8Array; walletScripts?: Uint8Array[]; port?: number } = {},
): CoreStandIn {
  const chain = opts.chain ?? new MemoryChain();
  const user = opts.user ?? "user";
  const password = opts.password ?? "pass";
  const calls: string[] = [];
  const st: CoreStandIn = { url: "", chain, calls, noSubmitPackage: false, feeRateBtcKvb: 0.0002, stop: () => server.stop(true) };
  const toBtc = (v: bigint) => Number(v) / 1e8;
  const scriptOf = (address: string): Uint8Array => {
    const s = chain.scriptOf(address);
    if (!s) throw Object.assign(new Error(`Invalid Bitcoin address: ${address}`), { rpc: -5 });
    return s;
  };
  const handlers: Record<string, (p: any[]) => unknown> = {
    listunspent: (p) => {
      const addrs: string[] | undefined = p[2];
      const scripts = addrs?.length ? addrs.map(scriptOf) : (opts.walletScripts ?? []);
      return scripts.flatMap((s) =>
        chain.utxosFor(s).map((u) => ({
          txid: u.txid,
          vout: u.vout,
          scriptPubKey: hex.encode(u.script),
          amount: toBtc(u.value),
          confirmations: u.height === null ? 0 : chain.height - u.height + 1,
          spendable: true,
          solvable: true,
          safe: true,
        })),
      );
    },
    estimatesmartfee: (p) =>
      st.feeRateBtcKvb === null
        ? { errors: ["Insufficient data or no feerate found"], blocks: 0 }
        : { feerate: st.feeRateBtcKvb, blocks: p[0] },
    testmempoolaccept: (p) => {
      const hexes: string[] = p[0];
      try {
        const r = chain.acceptPackage(hexes, true);
        return r.map((x) => ({ txid: x.txid, wtxid: x.txid, allowed: true, vsize: x.vsize, fees: { base: toBtc(x.fee) } }));
      } catch (e) {
        if (!(e instanceof RejectError)) throw e;
        return hexes.map((h) => ({ txid: btc.Transaction.fromRaw(hex.decode(h), OPTS).id, allowed: false, "reject-reason": e.reason }));
      }
    },
    submitpackage: (p) => {
      if (st.noSubmitPackage) throw Object.assign(new Error("Method not found"), { rpc: -32601, http: 404 });
      const r = chain.acceptPackage(p[0]);
      return {
        package_msg: "success",
        "tx-results": Object.fromEntries(r.map((x) => [x.txid, { txid: x.txid, vsize: x.vsize, fees: { base: toBtc(x.fee) } }])),
      };
    },
    sendrawtransaction: (p) => chain.accept(p[0]).txid,
    getmempoolentry: (p) => {
      const t = chain.txs.get(p[0]);
      if (!t || t.height !== null) throw Object.assign(new Error("Transaction not in mempool"), { rpc: -5 });
      return { vsize: 0 };
    },
    getrawtransaction: (p) => {
      const t = chain.txs.get(p[0]);
      if (!t)
        throw Object.assign(new Error("No such mempool or blockchain transaction. Use gettransaction for wallet transactions."), {
          rpc: -5,
        });
      return { txid: p[0], hex: t.hex, confirmations: t.height === null ? 0 : chain.height - t.height + 1 };
    },
    getblockcount: () => chain.height,
    // Core's RPC help for getblockchaininfo; the fields a stand-in chain can fill truthfully, plus its name.
    getblockchaininfo: () => ({
      chain: CORE_CHAIN[chain.networkName],
      blocks: chain.height,
      headers: chain.height,
      bestblockhash: chain.blockHash(chain.height),
      verificationprogress: 1,
      initialblockdownload: false,
      pruned: false,
      warnings: [],
    }),
    getrawchangeaddress: () => {
      if (!opts.walletKey) throw Object.assign(new Error("Error: This wallet has no available keys"), { rpc: -4 });
      return btc.p2tr(btc.utils.pubSchnorr(opts.walletKey), undefined, chain.network).address!;
    },
    walletprocesspsbt: (p) => {
      const tx = btc.Transaction.fromPSBT(base64.decode(p[0]), OPTS);
      if (opts.walletKey) {
        const pub = btc.utils.pubSchnorr(opts.walletKey);
        const mine = hex.encode(btc.p2tr(pub).script);
        for (let i = 0; i < tx.inputsLength; i++) {
          const inp = tx.getInput(i);
          if (inp.witnessUtxo && hex.encode(inp.witnessUtxo.script) === mine) {
            tx.updateInput(i, { tapInternalKey: pub });
            tx.signIdx(opts.walletKey, i);
          }
        }
      }
      return { psbt: base64.encode(tx.toPSBT()), complete: false };
    },
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    async fetch(req) {
      const expected = "Basic " + base64.encode(new TextEncoder().encode(`${user}:${password}`));
      if (req.headers.get("authorization") !== expected)
        return new Response("", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="jsonrpc"' } });
      let body: { id: unknown; method: string; params?: unknown[] };
      try {
        body = await req.json();
      } catch {
        return Response.json({ result: null, error: { code: -32700, message: "Parse error" }, id: null }, { status: 500 });
      }
      calls.push(body.method);
      const h = handlers[body.method];
      if (!h) return Response.json({ result: null, error: { code: -32601, message: "Method not found" }, id: body.id }, { status: 404 });
      try {
        return Response.json({ result: h(body.params ?? []), error: null, id: body.id });
      } catch (e) {
        const err = e as Error & { rpc?: number; http?: number };
        const code = e instanceof RejectError ? e.code : (err.rpc ?? -1);
        return Response.json(
          { result: null, error: { code, message: e instanceof RejectError ? e.reason : err.message }, id: body.id },
          { status: err.http ?? 500 },
        );
      }
    },
  });
  st.url = `http://127.0.0.1:${server.port}`;
  return st;
}
