// vet.ts: asks the ord server about every candidate UTXO before anything may spend it (the inscribe
// tool's fundAndSign and the relay's registration both call this). A UTXO is spendable only when ord
// has indexed it and says it carries no inscription and no rune. When ord cannot say (unreachable,
// or it does not index inscriptions, or runes: `null` in /r/utxo, ord src/api.rs UtxoRecursive),
// nothing is spent, unless the operator said runes may go unchecked (`allowUnindexedRunes`).
import { InscribeError, outpoint, type Utxo } from "./tx.ts";
import { OrdError, type OrdClient } from "./ord.ts";

export interface VetOptions {
  /** Spend UTXOs although ord does not index runes (runes in them would be moved or burned). */
  allowUnindexedRunes?: boolean;
}

export interface Vetted {
  /** Indexed by ord, no inscriptions, no runes: spendable. `firstSat` when ord indexes sats. */
  cardinal: { utxo: Utxo; firstSat: number | null }[];
  /** Carrying inscriptions or runes: never funding (a reinscription target or parent is picked from here). */
  inscribed: { utxo: Utxo; inscriptions: string[]; runes: string[] }[];
  /** ord answered 404: unconfirmed, or ord is behind the backend. Not spendable yet. */
  unindexed: Utxo[];
  /** True when ord does not index runes and the caller allowed that: runes were not checked. */
  runesUnchecked: boolean;
}

export async function vetUtxos(utxos: Utxo[], ord: OrdClient, opts: VetOptions = {}): Promise<Vetted> {
  const out: Vetted = { cardinal: [], inscribed: [], unindexed: [], runesUnchecked: false };
  for (const u of utxos) {
    let info;
    try {
      info = await ord.utxo(outpoint(u));
    } catch (e) {
      if (e instanceof OrdError && e.status === 404) {
        out.unindexed.push(u);
        continue;
      }
      if (e instanceof OrdError)
        throw new InscribeError("unchecked", `cannot check ${outpoint(u)} for inscriptions and runes: ${e.message}`);
      throw e;
    }
    if (info.inscriptions === null)
      throw new InscribeError(
        "unchecked",
        `ord server ${ord.base} does not index inscriptions (/r/utxo/${outpoint(u)} says inscriptions: null); refusing to spend unchecked UTXOs`,
      );
    if (info.runes === null) {
      if (!opts.allowUnindexedRunes)
        throw new InscribeError(
          "unchecked",
          `ord server ${ord.base} does not index runes (/r/utxo/${outpoint(u)} says runes: null), so runes in a UTXO would be spent unchecked; ` +
            "run ord with --index-runes, or pass --allow-unindexed-runes to spend anyway",
        );
      out.runesUnchecked = true;
    }
    const runes = Object.keys(info.runes ?? {});
    if (info.inscriptions.length || runes.length) out.inscribed.push({ utxo: u, inscriptions: info.inscriptions, runes });
    else if (BigInt(info.value) !== u.value)
      throw new InscribeError("bad-input", `ord and the backend disagree on the value of ${outpoint(u)}`);
    else out.cardinal.push({ utxo: u, firstSat: info.sat_ranges?.[0]?.[0] ?? null });
  }
  return out;
}
