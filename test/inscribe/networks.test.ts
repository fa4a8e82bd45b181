// inscribe/networks.ts: the genesis hashes re-derived from the genesis block headers (Bitcoin Core
// chainparams.cpp CreateGenesisBlock arguments), the chain names Core and ord use, and the stand-ins
// answering the endpoints the network check reads.
import { describe, expect, test } from "bun:test";
import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "@scure/base";
import {
  CORE_CHAIN,
  GENESIS,
  NETWORKS,
  ORD_CHAIN,
  REGTEST,
  chainOfCore,
  chainOfGenesis,
  chainOfOrd,
  networkOf,
  type ChainName,
} from "../../inscribe/networks.ts";
import { CoreRpcBackend, EsploraBackend, KeySigner } from "../../inscribe/fund.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";
import { startEsplora } from "../../inscribe/testing/esplora-server.ts";
import { startCoreRpc } from "../../inscribe/testing/core-rpc-server.ts";

// The coinbase message differs on testnet4, hence its own merkle root.
const MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";
const HEADERS: Record<ChainName, { merkle: string; time: number; bits: number; nonce: number }> = {
  mainnet: { merkle: MERKLE, time: 1231006505, bits: 0x1d00ffff, nonce: 2083236893 },
  testnet3: { merkle: MERKLE, time: 1296688602, bits: 0x1d00ffff, nonce: 414098458 },
  testnet4: {
    merkle: "7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e",
    time: 1714777860,
    bits: 0x1d00ffff,
    nonce: 393743547,
  },
  signet: { merkle: MERKLE, time: 1598918400, bits: 0x1e0377ae, nonce: 52613770 },
  regtest: { merkle: MERKLE, time: 1296688602, bits: 0x207fffff, nonce: 2 },
};

/** Block hash = double SHA-256 of the 80-byte header, shown byte-reversed. */
function blockHash(h: (typeof HEADERS)[ChainName]): string {
  const b = new Uint8Array(80);
  const v = new DataView(b.buffer);
  v.setUint32(0, 1, true); // version 1, previous block all zero
  b.set(hex.decode(h.merkle).reverse(), 36);
  v.setUint32(68, h.time, true);
  v.setUint32(72, h.bits, true);
  v.setUint32(76, h.nonce, true);
  return hex.encode(sha256(sha256(b)).reverse());
}

describe("networks", () => {
  test("each genesis hash is the hash of that chain’s genesis header", () => {
    for (const c of Object.keys(HEADERS) as ChainName[]) {
      expect(GENESIS[c]).toBe(blockHash(HEADERS[c]));
      expect(chainOfGenesis(GENESIS[c].toUpperCase() + "\n")).toBe(c);
    }
    expect(chainOfGenesis("00".repeat(32))).toBeNull();
  });

  test("Core and ord chain names both ways; address parameters", () => {
    expect(chainOfCore("main")).toBe("mainnet");
    expect(chainOfCore("test")).toBe("testnet3");
    expect(chainOfCore("mainnet")).toBeNull(); // Core says "main"
    expect(chainOfOrd("testnet")).toBe("testnet3");
    expect(chainOfOrd("main")).toBeNull(); // ord says "mainnet"
    for (const n of NETWORKS) {
      expect(chainOfCore(CORE_CHAIN[n])).toBe(n);
      expect(chainOfOrd(ORD_CHAIN[n])).toBe(n);
    }
    expect(networkOf("regtest")).toBe(REGTEST);
    expect(REGTEST.bech32).toBe("bcrt");
    expect(() => networkOf("testnet3" as never)).toThrow(RangeError);
  });

  test("the stand-ins answer what the check reads: Esplora block 0, Core getblockchaininfo; other networks’ addresses are refused", async () => {
    const chain = new MemoryChain();
    const es = startEsplora({ chain });
    const core = startCoreRpc({ chain });
    try {
      expect(await (await fetch(`${es.url}/block-height/0`)).text()).toBe(GENESIS.regtest);
      const past = await fetch(`${es.url}/block-height/${chain.height + 1}`);
      expect(past.status).toBe(404);
      expect(await past.text()).toBe("Block not found");
      expect((await new EsploraBackend(es.url).chain()).chain).toBe("regtest");
      expect((await new CoreRpcBackend(core.url, { user: "user", password: "pass" }).chain()).chain).toBe("regtest");
      // A node of one network does not know another's addresses.
      const key = new KeySigner(new Uint8Array(32).fill(7));
      chain.fund(key.script(), 1_000n);
      const mainnetAddr = key.address("mainnet"); // the same script, spelled for mainnet
      expect(await new EsploraBackend(es.url).utxos(key.address("regtest"), "regtest")).toHaveLength(1);
      expect((await fetch(`${es.url}/address/${mainnetAddr}/utxo`)).status).toBe(400);
      const err = await new CoreRpcBackend(core.url, { user: "user", password: "pass" }).utxos(mainnetAddr, "mainnet").catch((e) => e);
      expect(err.rpcCode).toBe(-5);
    } finally {
      es.stop();
      core.stop();
    }
  });
});
