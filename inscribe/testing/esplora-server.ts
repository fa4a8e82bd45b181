// testing/esplora-server.ts: a stand-in for an Esplora HTTP API over a MemoryChain, on 127.0.0.1.
// Routes and response shapes follow Blockstream's esplora API docs (API.md): GET /address/:a/utxo,
// GET /fee-estimates, POST /tx (text txid, or HTTP 400 with "sendrawtransaction RPC error: {...}"),
// GET /tx/:id/status, GET /tx/:id/hex ("Transaction not found", 404), GET /blocks/tip/height,
// GET /block-height/:height (the block hash as text; 404 "Block not found" past the tip).
// Here rather than under test/: the regtest sandbox (sandbox.ts, `npm run inscribe -- --regtest-sandbox`) runs it too.
import { MemoryChain, RejectError } from "./chain.ts";

export interface EsploraStandIn {
  url: string;
  chain: MemoryChain;
  /** Requests seen, "METHOD /path". */
  log: string[];
  feeEstimates: Record<string, number>;
  /** Make the next request whose path starts with `prefix` fail with this status and body. */
  failNext(prefix: string, status: number, body: string): void;
  stop(): void;
}

export function startEsplora(opts: { chain?: MemoryChain; feeEstimates?: Record<string, number>; port?: number } = {}): EsploraStandIn {
  const chain = opts.chain ?? new MemoryChain();
  const log: string[] = [];
  const fails: { prefix: string; status: number; body: string }[] = [];
  const state: EsploraStandIn = {
    url: "",
    chain,
    log,
    feeEstimates: opts.feeEstimates ?? { "1": 12.5, "2": 10.1, "3": 8.2, "6": 5.0, "144": 1.0, "504": 1.0, "1008": 1.0 },
    failNext: (prefix, status, body) => fails.push({ prefix, status, body }),
    stop: () => server.stop(true),
  };
  const text = (body: string, status = 200) => new Response(body, { status, headers: { "Content-Type": "text/plain" } });
  const json = (body: unknown) => Response.json(body);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    async fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname;
      log.push(`${req.method} ${path}`);
      const f = fails.findIndex((x) => path.startsWith(x.prefix));
      if (f >= 0) {
        const [x] = fails.splice(f, 1);
        return text(x!.body, x!.status);
      }
      let m: RegExpExecArray | null;
      if (req.method === "GET" && (m = /^\/address\/([^/]+)\/utxo$/.exec(path))) {
        const script = chain.scriptOf(m[1]!);
        if (!script) return text("Invalid Bitcoin address", 400);
        return json(
          chain.utxosFor(script).map((u) => ({
            txid: u.txid,
            vout: u.vout,
            status:
              u.height === null
                ? { confirmed: false }
                : { confirmed: true, block_height: u.height, block_hash: chain.blockHash(u.height), block_time: 1700000000 + u.height },
            value: Number(u.value),
          })),
        );
      }
      if (req.method === "GET" && path === "/fee-estimates") return json(state.feeEstimates);
      if (req.method === "GET" && path === "/blocks/tip/height") return text(String(chain.height));
      if (req.method === "GET" && (m = /^\/block-height\/(\d{1,10})$/.exec(path))) {
        const hash = chain.blockHash(Number(m[1]));
        return hash ? text(hash) : text("Block not found", 404);
      }
      if (req.method === "POST" && path === "/tx") {
        const body = (await req.text()).trim();
        try {
          return text(chain.accept(body).txid);
        } catch (e) {
          if (e instanceof RejectError)
            return text(`sendrawtransaction RPC error: ${JSON.stringify({ code: e.code, message: e.reason })}`, 400);
          throw e;
        }
      }
      if (req.method === "GET" && (m = /^\/tx\/([0-9a-f]{64})\/(status|hex)$/.exec(path))) {
        const t = chain.txs.get(m[1]!);
        if (!t) return text("Transaction not found", 404);
        if (m[2] === "hex") return text(t.hex);
        return json(
          t.height === null
            ? { confirmed: false }
            : { confirmed: true, block_height: t.height, block_hash: chain.blockHash(t.height), block_time: 1700000000 + t.height },
        );
      }
      return text("Not Found", 404);
    },
  });
  state.url = `http://127.0.0.1:${server.port}`;
  return state;
}
