// testing/sandbox.ts: the regtest sandbox behind `npm run inscribe -- --regtest-sandbox`: one
// in-memory chain (chain.ts) served as Esplora (esplora-server.ts), as Bitcoin Core RPC
// (core-rpc-server.ts, with a wallet) and as an ord server (dev/ord-server.ts, sats and runes indexed),
// a throwaway key and a Core cookie file written to `dir`, both funded, and every accepted
// transaction mined at once. The stand-ins live in inscribe/ rather than under test/ because this
// command runs them; the tests use them too.
import * as btc from "@scure/btc-signer";
import { hex } from "@scure/base";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startOrdServer, type OrdServer } from "../../dev/ord-server.ts";
import { MemoryChain } from "./chain.ts";
import { startCoreRpc, type CoreStandIn } from "./core-rpc-server.ts";
import { startEsplora, type EsploraStandIn } from "./esplora-server.ts";

/** Where the sandbox listens when asked for its usual ports: electrs' and bitcoind's regtest defaults, and one for ord. */
export const SANDBOX_PORTS = { esplora: 3002, core: 18443, ord: 18480 } as const;
export const SANDBOX_WALLET = "sandbox";
/** The key's funds: two UTXOs, so a plan can show more than one input. */
export const SANDBOX_FUNDS = [100_000_000n, 50_000_000n] as const;
export const SANDBOX_WALLET_FUNDS = 100_000_000n;

export interface Sandbox {
  chain: MemoryChain;
  esplora: EsploraStandIn;
  core: CoreStandIn;
  ord: OrdServer;
  /** The directory holding `key` and `.cookie`. */
  dir: string;
  /** 64-hex secret key (mode 0600): a `--key-file` whose P2TR address holds SANDBOX_FUNDS. */
  keyFile: string;
  address: string;
  /** Core's cookie file for the RPC stand-in. */
  cookieFile: string;
  /** The Core wallet's own address (its change address too); it holds SANDBOX_WALLET_FUNDS. */
  walletAddress: string;
  /** Ports that were taken, so a free one was used instead. */
  moved: string[];
  stop(): Promise<void>;
}

const isInUse = (e: unknown) => (e as { code?: string })?.code === "EADDRINUSE";

/** Starts the sandbox. `usualPorts`: SANDBOX_PORTS, each falling back to a free port when taken; else free ports. */
export async function startSandbox(opts: { dir: string; usualPorts?: boolean }): Promise<Sandbox> {
  // Paths stay as given (relative ones print shorter and work from the same directory).
  const dir = opts.dir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const walletKey = crypto.getRandomValues(new Uint8Array(32));
  const password = hex.encode(crypto.getRandomValues(new Uint8Array(32)));
  const keyFile = join(dir, "key");
  const cookieFile = join(dir, ".cookie");
  // A fresh throwaway key each start: its coins exist only in this process's memory.
  writeFileSync(keyFile, hex.encode(secret) + "\n", { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  writeFileSync(cookieFile, `__cookie__:${password}\n`, { mode: 0o600 });
  chmodSync(cookieFile, 0o600);

  const chain = new MemoryChain("regtest");
  const p2tr = (k: Uint8Array) => btc.p2tr(btc.utils.pubSchnorr(k), undefined, chain.network);
  const mine = p2tr(secret);
  const wallet = p2tr(walletKey);
  // Sats as ordinal theory numbers the first coinbase outputs: block 1's first sat is 5,000,000,000.
  const sats = [5_000_000_000, 10_000_000_000, 15_000_000_000];
  SANDBOX_FUNDS.forEach((v, k) => chain.fund(mine.script, v, { sat: sats[k]! }));
  chain.fund(wallet.script, SANDBOX_WALLET_FUNDS, { sat: sats[2]! });
  chain.mine();
  chain.autoMine = true;

  const moved: string[] = [];
  const stops: (() => unknown)[] = [];
  async function listen<T>(name: keyof typeof SANDBOX_PORTS, start: (port: number) => T | Promise<T>): Promise<T> {
    if (!opts.usualPorts) return start(0);
    try {
      return await start(SANDBOX_PORTS[name]);
    } catch (e) {
      if (!isInUse(e)) throw e;
      moved.push(`${name} port ${SANDBOX_PORTS[name]} is taken; using a free one`);
      return start(0);
    }
  }
  try {
    const esplora = await listen("esplora", (port) => startEsplora({ chain, port }));
    stops.push(esplora.stop);
    const core = await listen("core", (port) =>
      startCoreRpc({ chain, port, user: "__cookie__", password, walletKey, walletScripts: [wallet.script] }),
    );
    stops.push(core.stop);
    const ord = await listen("ord", (port) => startOrdServer({ chain, port, host: "127.0.0.1", satIndex: true, runeIndex: true }));
    stops.push(ord.stop);
    return {
      chain,
      esplora,
      core,
      ord,
      dir,
      keyFile,
      cookieFile,
      moved,
      address: mine.address!,
      walletAddress: wallet.address!,
      stop: async () => {
        for (const s of stops.reverse()) await s();
      },
    };
  } catch (e) {
    for (const s of stops.reverse()) await s();
    throw e;
  }
}
