// fund.ts: backends (Esplora HTTP API, Bitcoin Core JSON-RPC) and signers (a local key, Core's
// wallet, an external/hardware wallet through PSBTs). Thin shells: they move bytes and map errors;
// every decision about what to spend lives in tx.ts and index.ts.
import * as btc from "@scure/btc-signer";
import { hex, base64 } from "@scure/base";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { InscribeError, type Utxo } from "./tx.ts";
import { chainOfCore, chainOfGenesis, networkOf, type ChainName, type NetworkName } from "./networks.ts";
import type { FetchLike } from "./ord.ts";

export interface TxStatus {
  seen: boolean;
  confirmed: boolean;
  blockHeight?: number;
}

export interface Backend {
  readonly name: string;
  /** Where it is reached (for error messages). */
  readonly url: string;
  /** Unspent outputs paying `address` (scriptPubKey filled in). */
  utxos(address: string, network: NetworkName): Promise<Utxo[]>;
  /** A fee rate in sat/vB for confirmation within about `blocks` blocks. */
  feeRate(blocks?: number): Promise<number>;
  /** Broadcasts in order (parents first); returns txids. Throws before sending if a check fails. */
  broadcast(txHexes: string[]): Promise<string[]>;
  txStatus(txid: string): Promise<TxStatus>;
  tipHeight(): Promise<number>;
  /** Which chain the backend follows (null: one this tool does not know), and what said so. */
  chain(): Promise<{ chain: ChainName | null; evidence: string }>;
}

export class BackendError extends InscribeError {
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super("backend", `${status ? `HTTP ${status}` : "unreachable"} from ${url}${detail ? `: ${detail}` : ""}`);
    this.name = "BackendError";
  }
}

async function call(fetchImpl: FetchLike, url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new BackendError(url, 0, (e as Error).message);
  }
}

/** Esplora (Blockstream/mempool.space style) REST API. */
export class EsploraBackend implements Backend {
  readonly name = "esplora";
  readonly base: string;
  constructor(
    base: string,
    private readonly fetchImpl: FetchLike = fetch,
    private readonly timeoutMs = 20_000,
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  get url(): string {
    return this.base;
  }

  private async req(path: string, init: RequestInit = {}): Promise<string> {
    const url = this.base + path;
    const res = await call(this.fetchImpl, url, init, this.timeoutMs);
    const text = await res.text();
    if (!res.ok) throw new BackendError(url, res.status, text.slice(0, 300));
    return text;
  }

  private async json<T>(path: string): Promise<T> {
    const text = await this.req(path);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new BackendError(this.base + path, 200, `not JSON: ${text.slice(0, 80)}`);
    }
  }

  async utxos(address: string, network: NetworkName): Promise<Utxo[]> {
    const script = btc.OutScript.encode(btc.Address(networkOf(network)).decode(address));
    const list = await this.json<{ txid: string; vout: number; value: number }[]>(`/address/${address}/utxo`);
    return list.map((u) => ({ txid: u.txid, vout: u.vout, value: BigInt(u.value), script }));
  }

  async feeRate(blocks = 2): Promise<number> {
    const est = await this.json<Record<string, number>>("/fee-estimates");
    const targets = Object.keys(est)
      .map(Number)
      .filter((t) => t <= blocks)
      .sort((a, b) => b - a);
    const rate = targets.length ? est[String(targets[0])] : est["1"];
    if (!(typeof rate === "number" && rate > 0)) throw new BackendError(this.base + "/fee-estimates", 200, "no usable estimate");
    return rate;
  }

  async broadcast(txHexes: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const h of txHexes)
      ids.push((await this.req("/tx", { method: "POST", body: h, headers: { "Content-Type": "text/plain" } })).trim());
    return ids;
  }

  async txStatus(txid: string): Promise<TxStatus> {
    const url = `${this.base}/tx/${txid}/status`;
    const res = await call(this.fetchImpl, url, {}, this.timeoutMs);
    if (res.status === 404) return { seen: false, confirmed: false };
    const text = await res.text();
    if (!res.ok) throw new BackendError(url, res.status, text.slice(0, 200));
    const s = JSON.parse(text) as { confirmed: boolean; block_height?: number };
    return { seen: true, confirmed: s.confirmed, ...(s.block_height !== undefined ? { blockHeight: s.block_height } : {}) };
  }

  async tipHeight(): Promise<number> {
    return Number(await this.req("/blocks/tip/height"));
  }

  /** Esplora API.md `GET /block-height/:height`: the hash of block 0 names the chain. */
  async chain(): Promise<{ chain: ChainName | null; evidence: string }> {
    const hash = (await this.req("/block-height/0")).trim();
    return { chain: chainOfGenesis(hash), evidence: `its block 0 is ${hash.slice(0, 80)}` };
  }
}

/** Bitcoin Core JSON-RPC (wallet calls go to `/wallet/<name>` when a wallet is named). */
export class CoreRpcBackend implements Backend {
  readonly name = "core";
  private id = 0;
  constructor(
    readonly url: string,
    private readonly auth: { user: string; password: string } | null,
    readonly wallet: string | null = null,
    private readonly fetchImpl: FetchLike = fetch,
    private readonly timeoutMs = 30_000,
  ) {}

  async rpc<T>(method: string, params: unknown[], wallet = false): Promise<T> {
    const url = this.url.replace(/\/+$/, "") + (wallet && this.wallet !== null ? `/wallet/${encodeURIComponent(this.wallet)}` : "");
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.auth) headers.Authorization = "Basic " + base64.encode(new TextEncoder().encode(`${this.auth.user}:${this.auth.password}`));
    const res = await call(
      this.fetchImpl,
      url,
      { method: "POST", headers, body: JSON.stringify({ jsonrpc: "1.0", id: ++this.id, method, params }) },
      this.timeoutMs,
    );
    const text = await res.text();
    let body: { result?: T; error?: { code: number; message: string } | null } | null = null;
    try {
      body = JSON.parse(text);
    } catch {
      // 401 has an empty body, proxies answer HTML
    }
    if (body?.error) throw new CoreRpcError(url, res.status, method, body.error.code, body.error.message);
    if (!res.ok || !body) throw new BackendError(url, res.status, `${method}: ${text.slice(0, 200) || res.statusText}`);
    return body.result as T;
  }

  async utxos(address: string, network: NetworkName): Promise<Utxo[]> {
    btc.Address(networkOf(network)).decode(address);
    const list = await this.rpc<{ txid: string; vout: number; amount: number; scriptPubKey: string; safe?: boolean }[]>(
      "listunspent",
      [0, 9_999_999, [address], false],
      true,
    );
    return list
      .filter((u) => u.safe !== false)
      .map((u) => ({ txid: u.txid, vout: u.vout, value: btcToSats(u.amount), script: hex.decode(u.scriptPubKey) }));
  }

  /** Every spendable UTXO of the Core wallet (for CoreWalletSigner funding). */
  async walletUtxos(): Promise<Utxo[]> {
    const list = await this.rpc<
      { txid: string; vout: number; amount: number; scriptPubKey: string; safe?: boolean; spendable?: boolean }[]
    >("listunspent", [1], true);
    return list
      .filter((u) => u.safe !== false && u.spendable !== false)
      .map((u) => ({ txid: u.txid, vout: u.vout, value: btcToSats(u.amount), script: hex.decode(u.scriptPubKey) }));
  }

  async feeRate(blocks = 2): Promise<number> {
    const r = await this.rpc<{ feerate?: number; errors?: string[] }>("estimatesmartfee", [blocks]);
    if (!r.feerate) throw new BackendError(this.url, 200, `estimatesmartfee: ${(r.errors ?? ["no estimate"]).join("; ")}`);
    return Math.ceil(r.feerate * 1e5 * 1000) / 1000; // BTC/kvB → sat/vB
  }

  async broadcast(txHexes: string[]): Promise<string[]> {
    // Both must pass policy before either is sent.
    const tests = await this.rpc<{ txid: string; allowed?: boolean; "reject-reason"?: string; "package-error"?: string }[]>(
      "testmempoolaccept",
      [txHexes],
    );
    const bad = tests.find((t) => !t.allowed);
    if (bad)
      throw new BackendError(
        this.url,
        200,
        `testmempoolaccept rejected ${bad.txid}: ${bad["reject-reason"] ?? bad["package-error"] ?? "not allowed"}`,
      );
    if (txHexes.length > 1) {
      try {
        const r = await this.rpc<{ package_msg: string }>("submitpackage", [txHexes]);
        if (r.package_msg !== "success") throw new BackendError(this.url, 200, `submitpackage: ${r.package_msg}`);
        return tests.map((t) => t.txid);
      } catch (e) {
        if (!(e instanceof CoreRpcError && e.rpcCode === -32601)) throw e; // older Core: no submitpackage
      }
    }
    const ids: string[] = [];
    for (const h of txHexes) ids.push(await this.rpc<string>("sendrawtransaction", [h]));
    return ids;
  }

  async txStatus(txid: string): Promise<TxStatus> {
    try {
      await this.rpc("getmempoolentry", [txid]);
      return { seen: true, confirmed: false };
    } catch (e) {
      if (!(e instanceof CoreRpcError && e.rpcCode === -5)) throw e;
    }
    try {
      const t = await this.rpc<{ confirmations?: number; blockhash?: string }>("getrawtransaction", [txid, true]);
      return { seen: true, confirmed: (t.confirmations ?? 0) > 0 };
    } catch (e) {
      if (e instanceof CoreRpcError && e.rpcCode === -5) return { seen: false, confirmed: false };
      throw e;
    }
  }

  async tipHeight(): Promise<number> {
    return this.rpc<number>("getblockcount", []);
  }

  async chain(): Promise<{ chain: ChainName | null; evidence: string }> {
    const info = await this.rpc<{ chain?: unknown }>("getblockchaininfo", []);
    const name = String(info?.chain);
    return { chain: chainOfCore(name), evidence: `getblockchaininfo says chain ${JSON.stringify(name).slice(0, 40)}` };
  }
}

export class CoreRpcError extends BackendError {
  constructor(
    url: string,
    status: number,
    readonly method: string,
    readonly rpcCode: number,
    message: string,
  ) {
    super(url, status, `${method}: RPC error ${rpcCode}: ${message}`);
    this.name = "CoreRpcError";
  }
}

export function btcToSats(amount: number): bigint {
  // JSON numbers with ≤ 8 decimals: go through the decimal string, not float multiplication.
  const [i, f = ""] = amount.toFixed(8).split(".");
  return BigInt(i!) * 100_000_000n + BigInt(f.padEnd(8, "0").slice(0, 8)) * (amount < 0 ? -1n : 1n);
}

/** Something that can add signatures to a PSBT for the inputs it controls. */
export interface Signer {
  /** The funding/change address on `network`, or null when the signer does not have one (Core). */
  address(network: NetworkName): string | null;
  /** Where change goes when `address` is null and the caller named none (Core: a fresh wallet change address). */
  changeAddress?(network: NetworkName): Promise<string>;
  /** The untweaked x-only key for P2TR key-path inputs, if any. */
  readonly tapInternalKey?: Uint8Array;
  signPsbt(psbt: Uint8Array): Promise<Uint8Array>;
}

export type KeyKind = "p2tr" | "p2wpkh";

/** A local secret key. The key is held in a private field and never printed. */
export class KeySigner implements Signer {
  #secret: Uint8Array;
  readonly kind: KeyKind;
  readonly tapInternalKey?: Uint8Array;
  private readonly pub: Uint8Array;
  constructor(secret: Uint8Array, kind: KeyKind = "p2tr") {
    if (secret.length !== 32) throw new InscribeError("bad-input", "secret key must be 32 bytes");
    this.#secret = secret;
    this.kind = kind;
    if (kind === "p2tr") this.pub = this.tapInternalKey = btc.utils.pubSchnorr(secret);
    else this.pub = secp256k1.getPublicKey(secret, true);
  }

  /** Parses a WIF or 64-hex secret, e.g. from a key file or an environment variable. */
  static fromString(text: string, kind: KeyKind = "p2tr", network: NetworkName = "mainnet"): KeySigner {
    const t = text.trim();
    if (/^[0-9a-fA-F]{64}$/.test(t)) return new KeySigner(hex.decode(t.toLowerCase()), kind);
    try {
      return new KeySigner(btc.WIF(networkOf(network)).decode(t), kind);
    } catch {
      throw new InscribeError("bad-input", `the key is neither 64 hex characters nor a ${network} WIF (contents not shown)`);
    }
  }

  address(network: NetworkName): string {
    const net = networkOf(network);
    return this.kind === "p2tr" ? btc.p2tr(this.pub, undefined, net).address! : btc.p2wpkh(this.pub, net).address!;
  }

  script(): Uint8Array {
    return this.kind === "p2tr" ? btc.p2tr(this.pub).script : btc.p2wpkh(this.pub).script;
  }

  async signPsbt(psbt: Uint8Array): Promise<Uint8Array> {
    const tx = btc.Transaction.fromPSBT(psbt, {
      allowUnknownInputs: true,
      allowUnknownOutputs: true,
      disableScriptCheck: true,
      lowR: true,
    });
    const mine = this.script();
    for (let i = 0; i < tx.inputsLength; i++) {
      const inp = tx.getInput(i);
      if (!inp.witnessUtxo || !equal(inp.witnessUtxo.script, mine)) continue;
      if (this.kind === "p2tr" && !inp.tapInternalKey) tx.updateInput(i, { tapInternalKey: this.pub });
      tx.signIdx(this.#secret, i);
    }
    return tx.toPSBT();
  }

  toJSON(): string {
    return "[KeySigner]";
  }
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Core's wallet signs (`walletprocesspsbt`); funding comes from its `listunspent`, change goes to a
 * fresh `getrawchangeaddress` of the same wallet (its own address type), so it stays Core's money.
 */
export class CoreWalletSigner implements Signer {
  constructor(readonly core: CoreRpcBackend) {}
  address(): null {
    return null;
  }
  async changeAddress(): Promise<string> {
    return this.core.rpc<string>("getrawchangeaddress", [], true);
  }
  async signPsbt(psbt: Uint8Array): Promise<Uint8Array> {
    const r = await this.core.rpc<{ psbt: string; complete: boolean }>("walletprocesspsbt", [base64.encode(psbt), true, "DEFAULT"], true);
    return base64.decode(r.psbt);
  }
}

/**
 * Watch-only: a hardware wallet (or any external tool) signs. `exchange` receives the unsigned PSBT
 * and resolves with the signed one; the CLI implements it as "write a file, read the signed file".
 */
export class ExternalSigner implements Signer {
  constructor(
    private readonly addr: string,
    private readonly exchange: (unsigned: Uint8Array) => Promise<Uint8Array>,
    readonly tapInternalKey?: Uint8Array,
  ) {}
  address(): string {
    return this.addr;
  }
  signPsbt(psbt: Uint8Array): Promise<Uint8Array> {
    return this.exchange(psbt);
  }
}
