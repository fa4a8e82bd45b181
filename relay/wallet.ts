// The relay's Bitcoin key: one secp256k1 secret in `<data dir>/bitcoin.key` (64 hex chars, mode
// 0600), created on first need. It pays for the relay's own registration inscription and holds the
// sat that carries its record, on a P2TR key-path address (BIP-86 style: no script tree), so any
// wallet that imports `tr(KEY)` sees the same address. One key for every network; the address
// differs by network (bc1p…, tb1p…, bcrt1p…).
//
// The file is also a valid `--key-file` for `npm run inscribe` (it accepts 64-hex secrets), which
// is how an operator moves the funds or the inscription elsewhere (docs/register.md).
// The secret never leaves this module except inside a KeySigner, which does not print it.
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { KeySigner, type NetworkName } from "../inscribe/index.ts";

export const BITCOIN_KEY_FILE = "bitcoin.key";

export class WalletError extends Error {}

/** Loads the relay's Bitcoin key, creating it (mode 0600, fsynced, never overwritten) if missing. */
export function loadBitcoinKey(dir: string): { signer: KeySigner; created: boolean } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, BITCOIN_KEY_FILE);
  let created = false;
  if (!existsSync(path)) {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600); // two relays starting at once: the loser reads the winner's key
      try {
        writeSync(fd, Buffer.from(secret).toString("hex") + "\n");
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    secret.fill(0);
  }
  chmodSync(path, 0o600);
  const text = readFileSync(path, "utf8").trim();
  // Validate without echoing the contents (a stray WIF or PEM would otherwise end up in a log).
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new WalletError(`${path} is not a 64-hex secret key (contents not shown)`);
  return { signer: KeySigner.fromString(text, "p2tr"), created };
}

/** The relay's funding (and inscription-holding) address on `network`. */
export function relayAddress(dir: string, network: NetworkName): string {
  return loadBitcoinKey(dir).signer.address(network);
}
