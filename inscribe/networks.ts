// networks.ts: the four networks the inscribe tool and the relay know, written once: address and
// WIF parameters, genesis block hashes, and the names Bitcoin Core and ord give them. Pure data.
import * as btc from "@scure/btc-signer";

export type NetworkName = "mainnet" | "testnet4" | "signet" | "regtest";
export type BtcNetwork = typeof btc.NETWORK;

export const NETWORKS: readonly NetworkName[] = /* @__PURE__ */ Object.freeze(["mainnet", "testnet4", "signet", "regtest"] as const);

/** Regtest's address and WIF prefixes (Bitcoin Core chainparams.cpp, CRegTestParams). */
export const REGTEST: BtcNetwork = /* @__PURE__ */ Object.freeze({ bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef });

export function networkOf(name: NetworkName): BtcNetwork {
  switch (name) {
    case "mainnet":
      return btc.NETWORK;
    case "testnet4":
    case "signet":
      return btc.TEST_NETWORK;
    case "regtest":
      return REGTEST;
    default:
      throw new RangeError(`inscribe: unknown network ${JSON.stringify(name)}`);
  }
}

/** A chain a backend can be on: ours, or testnet3 (which this tool does not support). */
export type ChainName = NetworkName | "testnet3";

/**
 * Block 0 of each chain, as Esplora's `GET /block-height/0` answers it (Bitcoin Core
 * chainparams.cpp; checked against the genesis headers in test/inscribe/networks.test.ts).
 * Every signet shares one genesis block, so a custom signet reads as `signet`.
 */
export const GENESIS: Readonly<Record<ChainName, string>> = /* @__PURE__ */ Object.freeze({
  mainnet: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
  testnet3: "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
  testnet4: "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
  signet: "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
  regtest: "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
});

/** `getblockchaininfo`'s `chain` (Bitcoin Core RPC help: main, test, testnet4, signet, regtest). */
export const CORE_CHAIN: Readonly<Record<ChainName, string>> = /* @__PURE__ */ Object.freeze({
  mainnet: "main",
  testnet3: "test",
  testnet4: "testnet4",
  signet: "signet",
  regtest: "regtest",
});
/** ord's `/status` JSON `chain` (ord src/chain.rs, serde kebab-case). */
export const ORD_CHAIN: Readonly<Record<ChainName, string>> = /* @__PURE__ */ Object.freeze({
  mainnet: "mainnet",
  testnet3: "testnet",
  testnet4: "testnet4",
  signet: "signet",
  regtest: "regtest",
});

const lookup = (table: Readonly<Record<ChainName, string>>, value: string) =>
  (Object.keys(table) as ChainName[]).find((c) => table[c] === value) ?? null;
export const chainOfGenesis = (hash: string): ChainName | null => lookup(GENESIS, hash.trim().toLowerCase());
export const chainOfCore = (chain: string): ChainName | null => lookup(CORE_CHAIN, chain);
export const chainOfOrd = (chain: string): ChainName | null => lookup(ORD_CHAIN, chain);
