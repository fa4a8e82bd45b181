// Self-registration: the relay inscribes its own signed record on a sat it holds and reinscribes
// that sat when its address, port or certificate changes (DESIGN §3, layer 2; docs/register.md).
//
//   needsRegistration(record, registration.json)  pure: 'fresh' | 'reinscribe' | 'none'
//   registerRelay(opts)                            survey funds → plan → (broadcast) → registration.json
//   autoRegister(opts, log)                        serve mode: the same in the background, logged
//
// Which sat: a new inscription lands on the first sat of the commit's first input (inscribe/tx.ts).
// For a fresh registration the first input is the first vetted funding UTXO, whose sat ranges the
// ord server reports, so the sat is known before anything is signed and the very first record
// already carries `sat`. Every later version reinscribes that sat (the UTXO holding it goes first).
// The inscription and the change go back to the relay's own address, so what is spent is the two
// fees; the postage stays with the inscription and is recycled by each reinscription.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isIP } from "node:net";
import {
  backendFromOptions,
  broadcast,
  checkNetwork,
  fundAndSign,
  outpoint,
  planInscription,
  vetUtxos,
  InscribeError,
  OrdClient,
  type Backend,
  type KeySigner,
  type NetworkName,
  type Plan,
  type Utxo,
} from "../inscribe/index.ts";
import type { RelayState } from "./state.ts";
import { relayRecord } from "./state.ts";
import type { RelayRecord } from "./record.ts";
import { loadBitcoinKey } from "./wallet.ts";

export const REGISTRATION_FILE = "registration.json";
/**
 * Postage of the inscription output. 546 is the smallest value every wallet and relay policy treats
 * as non-dust for any output type (P2PKH's dust limit; P2TR's is 330), so the record's UTXO stays
 * standard even if dust rules tighten a little. More would only lock more of the operator's sats:
 * nothing here needs a fee-bumping reserve in that output, and each reinscription spends it
 * into the next one anyway. ord's default of 10,000 guards wallets that might spend an inscribed
 * UTXO as fee; this wallet vets every UTXO with ord first.
 */
export const DEFAULT_POSTAGE = 546n;
export const CONTENT_TYPE = "application/json";
export const METAPROTOCOL = "lumamesh";

export interface Registration {
  network: NetworkName;
  sat: number;
  inscriptionId: string;
  /** Where the sat is after the reveal: `<reveal txid>:0`. */
  outpoint: string;
  commitTxid: string;
  revealTxid: string;
  record: RelayRecord;
  /** ms since the epoch, from the injected clock. */
  registeredAt: number;
}

export type RegistrationAction = "fresh" | "reinscribe" | "none";

/** Sans-IO: does the relay's current record differ from what is inscribed? */
export function needsRegistration(
  current: Pick<RelayRecord, "addr" | "fp" | "id"> & Partial<RelayRecord>,
  registration: Pick<Registration, "record"> | null,
): RegistrationAction {
  if (!registration) return "fresh";
  const r = registration.record;
  return r.addr === current.addr && r.fp === current.fp && r.id === current.id ? "none" : "reinscribe";
}

export function readRegistration(dir: string): Registration | null {
  const path = join(dir, REGISTRATION_FILE);
  if (!existsSync(path)) return null;
  const r = JSON.parse(readFileSync(path, "utf8")) as Registration;
  if (!r || !Number.isSafeInteger(r.sat) || typeof r.inscriptionId !== "string" || !r.record)
    throw new RegisterError("bad-state", `${path} is not a registration file`);
  return r;
}

function writeRegistration(dir: string, r: Registration): void {
  const path = join(dir, REGISTRATION_FILE);
  writeFileSync(path + ".tmp", JSON.stringify(r, null, 2) + "\n", { mode: 0o644 });
  renameSync(path + ".tmp", path); // atomic: a crash leaves the old or the new file, never half
}

export class RegisterError extends Error {
  constructor(
    readonly code: "no-sat-index" | "sat-moved" | "bad-state" | "not-public" | "wrong-network",
    message: string,
  ) {
    super(`register: ${message}`);
    this.name = "RegisterError";
  }
}

export interface Cost {
  feeRate: number;
  commitVsize: number;
  revealVsize: number;
  commitFee: number;
  revealFee: number;
  postage: number;
  /** commit + reveal fee: what leaves the relay's wallet. */
  fees: number;
  /** Spendable sats the wallet must hold (fees + new postage, less the postage a reinscription recycles). */
  need: number;
  /** Bytes of the record as inscribed. */
  bodyBytes: number;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export type Progress = (event: string, fields: Record<string, unknown>) => void;

export interface RegisterOptions {
  dataDir: string;
  state: RelayState;
  /** Address and port to publish. */
  ip: string;
  port: number;
  network: NetworkName;
  backend: Backend;
  ord: OrdClient;
  /** sat/vB; default: the backend's 2-block estimate, taken once at the start. */
  feeRate?: number;
  postage?: bigint;
  /** Send for real (else a dry run that signs and shows the plan). */
  broadcast?: boolean;
  /** Spend although the ord server does not index runes (inscribe/vet.ts); refused otherwise. */
  allowUnindexedRunes?: boolean;
  /** Poll for funds until `timeoutMs` (default: check once). */
  wait?: boolean;
  timeoutMs?: number;
  pollMs?: number;
  clock?: Clock;
  progress?: Progress;
}

interface Common {
  action: RegistrationAction;
  address: string;
  record: RelayRecord;
}
export type RegisterResult =
  | (Common & { status: "current"; registration: Registration })
  | (Common & { status: "unfunded"; cost: Cost; have: number; unconfirmed: number })
  | (Common & { status: "pending"; registration: Registration })
  | (Common & { status: "planned"; cost: Cost; sat: number; inscriptionId: string; commitTxid: string; revealTxid: string })
  | (Common & {
      status: "registered";
      cost: Cost;
      sat: number;
      inscriptionId: string;
      commitTxid: string;
      revealTxid: string;
      registration: Registration;
      recoveryFile: string;
    });

const PLACEHOLDER_SAT = 2_099_999_997_689_999; // the last sat: as many digits as any real one
const DUMMY_TXID = "11".repeat(32);

// Sats as numbers (all fit in 2^53): results go to JSON logs, which cannot take bigints.
function costOf(plan: Plan, feeRate: number, recycled: bigint): Cost {
  const fees = plan.commit.fee + plan.reveal.fee;
  return {
    feeRate,
    commitVsize: plan.commit.vsize,
    revealVsize: plan.reveal.vsize,
    commitFee: Number(plan.commit.fee),
    revealFee: Number(plan.reveal.fee),
    postage: Number(plan.postage),
    fees: Number(fees),
    need: Number(fees + plan.postage - recycled),
    bodyBytes: plan.bodyBytes,
  };
}

/** The envelope fields of a record. */
export function inscriptionOf(record: RelayRecord) {
  return { contentType: CONTENT_TYPE, metaprotocol: METAPROTOCOL, body: new TextEncoder().encode(JSON.stringify(record)) };
}

/** Loopback, private, link-local, CGNAT and documentation ranges cannot be reached from the internet. */
export function isPublicIp(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) {
    const [a, b] = ip.split(".").map(Number) as [number, number];
    return !(
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b < 128) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  if (v === 6) {
    const l = ip.toLowerCase();
    return !(l === "::" || l === "::1" || /^f[cd]/.test(l) || /^fe[89ab]/.test(l) || /^ff/.test(l));
  }
  return false;
}

interface Survey {
  cardinal: { utxo: Utxo; firstSat: number | null }[];
  all: Utxo[];
  have: number;
  /** In the backend but not yet indexed by ord (unconfirmed): not spendable yet. */
  unconfirmed: number;
}

/** The wallet's UTXOs as ord sees them (inscribe/vet.ts): only indexed, uninscribed, rune-free ones are spendable. */
async function survey(
  backend: Backend,
  ord: OrdClient,
  address: string,
  network: NetworkName,
  allowUnindexedRunes: boolean,
): Promise<Survey> {
  const all = await backend.utxos(address, network);
  const v = await vetUtxos(all, ord, { allowUnindexedRunes });
  // Largest first: fewest inputs, and the first one is where a fresh inscription lands.
  const cardinal = [...v.cardinal].sort((a, b) => (a.utxo.value < b.utxo.value ? 1 : a.utxo.value > b.utxo.value ? -1 : 0));
  const sum = (us: Utxo[]) => us.reduce((n, u) => n + Number(u.value), 0);
  return { cardinal, all, have: sum(cardinal.map((c) => c.utxo)), unconfirmed: sum(v.unindexed) };
}

export async function registerRelay(o: RegisterOptions): Promise<RegisterResult> {
  const clock = o.clock ?? realClock;
  const progress = o.progress ?? (() => {});
  const postage = o.postage ?? DEFAULT_POSTAGE;
  const { signer } = loadBitcoinKey(o.dataDir);
  const address = signer.address(o.network);
  const prev = readRegistration(o.dataDir);
  if (prev && prev.network !== o.network)
    throw new RegisterError("wrong-network", `${REGISTRATION_FILE} is for ${prev.network}, not ${o.network}; use another --data-dir`);
  if (o.network !== "regtest" && !isPublicIp(o.ip))
    throw new RegisterError("not-public", `${o.ip} is not a public address; set --public-ip`);
  if (o.port === 0) throw new RegisterError("not-public", "port 0 changes on every start; set --port");

  const seqFor = () => Math.max(Math.floor(clock.now() / 1000), (prev?.record.seq ?? -1) + 1);
  const sign = (sat: number | undefined) => relayRecord(o.state, o.ip, o.port, sat, seqFor());
  const preview = sign(prev?.sat);
  const action = needsRegistration(preview, prev);
  if (action === "none") return { status: "current", action, address, record: prev!.record, registration: prev! };

  await checkNetwork(o.network, o.backend, o.ord);
  // A reinscription spends the sat's UTXO, which only exists once the previous reveal is mined.
  if (prev) {
    const st = await o.backend.txStatus(prev.revealTxid);
    if (!st.confirmed) return { status: "pending", action, address, record: preview, registration: prev };
  }

  const feeRate = o.feeRate ?? (await o.backend.feeRate(2));
  const recycled = prev ? postage : 0n; // approximated by the new postage until the real UTXO is known
  const dummy = (n: number, value: bigint): Utxo => ({
    txid: DUMMY_TXID,
    vout: n,
    value,
    script: signer.script(),
    tapInternalKey: signer.tapInternalKey!,
  });
  const plan = (utxos: Utxo[], record: RelayRecord, reinscribe?: { utxo: Utxo; offset: bigint }) =>
    planInscription({
      network: o.network,
      inscription: inscriptionOf(record),
      destination: address,
      changeAddress: address,
      postage,
      feeRate,
      utxos,
      revealSecret: new Uint8Array(32).fill(1),
      ...(reinscribe && { reinscribe }),
    });
  // What it costs with one funding UTXO: shown before any funds arrive.
  const estimate = costOf(
    plan(
      [dummy(1, 21_000_000n * 100_000_000n)],
      sign(prev?.sat ?? PLACEHOLDER_SAT),
      prev ? { utxo: dummy(0, postage), offset: 0n } : undefined,
    ),
    feeRate,
    recycled,
  );
  progress("register.plan", { action, address, network: o.network, cost: estimate, record: preview });

  const deadline = clock.now() + (o.wait ? (o.timeoutMs ?? 3_600_000) : 0);
  let ready: { utxos: Utxo[]; sat: number; record: RelayRecord; recycled: bigint } | null = null;
  let s: Survey;
  for (;;) {
    s = await survey(o.backend, o.ord, address, o.network, !!o.allowUnindexedRunes);
    ready = await tryPlan(s);
    if (ready) break;
    if (clock.now() >= deadline)
      return { status: "unfunded", action, address, record: preview, cost: estimate, have: s.have, unconfirmed: s.unconfirmed };
    progress("register.waiting", { address, have: s.have, unconfirmed: s.unconfirmed, need: estimate.need });
    await clock.sleep(o.pollMs ?? 30_000);
  }
  progress("register.funded", { address, have: s.have, sat: ready.sat });

  async function tryPlan(s: Survey) {
    let sat: number,
      reinscribe: { utxo: Utxo; offset: bigint } | undefined,
      recycledNow = 0n;
    if (prev) {
      sat = prev.sat;
      const loc = await o.ord.locateSat(BigInt(sat));
      const utxo = s.all.find((u) => outpoint(u) === loc.outpoint);
      if (!utxo)
        throw new RegisterError(
          "sat-moved",
          `sat ${sat} is in ${loc.outpoint}, which is not the relay's (${address}); it cannot be reinscribed`,
        );
      reinscribe = { utxo, offset: loc.offset };
      recycledNow = utxo.value;
    } else {
      if (!s.cardinal.length) return null;
      const first = s.cardinal[0]!.firstSat;
      if (first === null)
        throw new RegisterError("no-sat-index", `ord server ${o.ord.base} does not index sats (run ord with --index-sats)`);
      sat = first;
    }
    const utxos = s.cardinal.map((c) => c.utxo);
    const record = sign(sat);
    try {
      plan(utxos, record, reinscribe); // pure: throws insufficient-funds until the wallet can pay
      return { utxos: [...(reinscribe ? [reinscribe.utxo] : []), ...utxos], sat, record, recycled: recycledNow };
    } catch (e) {
      if (e instanceof InscribeError && e.code === "insufficient-funds") return null;
      throw e;
    }
  }

  const signed = await fundAndSign(
    {
      network: o.network,
      inscription: inscriptionOf(ready.record),
      destination: address,
      changeAddress: address,
      postage,
      feeRate,
      utxos: ready.utxos,
      ...(prev && { sat: BigInt(prev.sat) }),
      ...(o.allowUnindexedRunes && { allowUnindexedRunes: true }),
    },
    o.backend,
    signer as KeySigner,
    o.ord,
  );
  const p = signed.plan;
  // The sat the record names must be the one the plan puts the inscription on.
  const firstIn = p.commit.inputs[0]!;
  if (!prev && outpoint(firstIn) !== outpoint(ready.utxos[0]!))
    throw new RegisterError("bad-state", "the plan does not start with the UTXO whose first sat the record names");
  const out = {
    action,
    address,
    record: ready.record,
    cost: costOf(p, feeRate, ready.recycled),
    sat: ready.sat,
    inscriptionId: p.inscriptionId,
    commitTxid: p.commit.txid,
    revealTxid: p.reveal.txid,
  };
  if (!o.broadcast) return { status: "planned", ...out };

  const recoveryFile = join(o.dataDir, `register-recovery-${p.commit.txid}.json`);
  progress("register.broadcasting", { inscriptionId: p.inscriptionId, sat: ready.sat, recoveryFile });
  const r = await broadcast(signed, o.backend, { recoveryFile });
  const registration: Registration = {
    network: o.network,
    sat: ready.sat,
    inscriptionId: r.inscriptionId,
    outpoint: `${r.revealTxid}:0`,
    commitTxid: r.commitTxid,
    revealTxid: r.revealTxid,
    record: ready.record,
    registeredAt: clock.now(),
  };
  writeRegistration(o.dataDir, registration);
  progress("register.broadcast", { inscriptionId: r.inscriptionId, sat: ready.sat, commitTxid: r.commitTxid, revealTxid: r.revealTxid });
  return { status: "registered", ...out, registration, recoveryFile };
}

type Log = (level: "debug" | "info" | "warn" | "error", event: string, fields?: Record<string, unknown>) => void;

/**
 * Serve mode: register in the background when the record changed and the wallet is funded; never
 * waits for funds and never throws (the relay serves either way). Everything ends in one log line.
 */
export async function autoRegister(o: Omit<RegisterOptions, "broadcast" | "wait">, log: Log): Promise<RegisterResult | null> {
  try {
    const r = await registerRelay({ ...o, broadcast: true, wait: false, progress: (e, f) => log("debug", e, f) });
    const base = { address: r.address, network: o.network };
    switch (r.status) {
      case "current":
        log("info", "relay.registered", { ...base, sat: r.registration.sat, inscriptionId: r.registration.inscriptionId, current: true });
        break;
      case "registered":
        log("info", "relay.registered", { ...base, action: r.action, sat: r.sat, inscriptionId: r.inscriptionId, fees: r.cost.fees });
        break;
      case "pending":
        log("info", "relay.registration-pending", { ...base, revealTxid: r.registration.revealTxid });
        break;
      case "unfunded":
        log("warn", "relay.unregistered", {
          ...base,
          action: r.action,
          have: r.have,
          unconfirmed: r.unconfirmed,
          need: r.cost.need,
          feeRate: r.cost.feeRate,
        });
        break;
      case "planned":
        break; // not reached: broadcast is on
    }
    return r;
  } catch (e) {
    log("error", "relay.register-failed", { error: e instanceof Error ? e.message : String(e) });
    return null;
  }
}

// --- Command line (`lumamesh-relay address|register`, serve mode's --register-*): formatting only ---

/** What the CLI needs from relay/config.ts's RegisterConfig (kept structural to avoid a cycle). */
export interface RegisterCliConfig {
  network: NetworkName;
  esplora?: string | undefined;
  coreRpc?: string | undefined;
  coreUser?: string | undefined;
  corePasswordEnv?: string | undefined;
  coreCookie?: string | undefined;
  ord?: string | undefined;
  feeRate?: number | undefined;
  postage: number;
  timeout: number;
  noWait: boolean;
  broadcast: boolean;
  allowUnindexedRunes?: boolean | undefined;
}

export function backendFromConfig(r: RegisterCliConfig, env: Record<string, string | undefined> = process.env): Backend {
  return backendFromOptions(
    { esplora: r.esplora, coreRpc: r.coreRpc, coreUser: r.coreUser, corePasswordEnv: r.corePasswordEnv, coreCookie: r.coreCookie },
    env,
  );
}

const sats = (n: number) => `${n.toLocaleString("en-US")} sats`;

export function describeCost(c: Cost): string {
  return (
    `commit ${c.commitVsize} vB (${sats(c.commitFee)}) + reveal ${c.revealVsize} vB (${sats(c.revealFee)}) = ${sats(c.fees)} in fees; ` +
    `${sats(c.postage)} of postage stay with the inscription in the relay's wallet`
  );
}

/** `lumamesh-relay register`. Returns the exit status: 0 done (or dry run, or just shown), 3 not funded, 4 pending. */
export async function registerCommand(
  o: { dataDir: string; state: RelayState; ip: string; port: number; config: RegisterCliConfig; pollMs?: number },
  out: (line: string) => void,
): Promise<number> {
  const r = o.config;
  const { signer, created } = loadBitcoinKey(o.dataDir);
  const address = signer.address(r.network);
  if (created) out(`Created the relay's Bitcoin key: ${join(o.dataDir, "bitcoin.key")} (mode 0600; back it up)`);
  const progress: Progress = (event, f) => {
    if (event === "register.plan") {
      const c = f.cost as Cost;
      const rec = f.record as RelayRecord;
      out(`Relay record: ${rec.addr}  fp ${rec.fp}  id ${rec.id}`);
      out(`Network: ${r.network}`);
      out(`Funding address: ${address}`);
      out(
        f.action === "fresh"
          ? "Action: first registration (the record goes on the first sat of the first funding UTXO)"
          : `Action: reinscribe sat ${rec.sat} (address, port or certificate changed)`,
      );
      out(`Cost at ${c.feeRate} sat/vB: ${describeCost(c)}; record ${c.bodyBytes} bytes, application/json, metaprotocol ${METAPROTOCOL}`);
      out(`Needs ${sats(c.need)} spendable at ${address} (one UTXO; more inputs cost ~58 vB each)`);
    } else if (event === "register.waiting")
      out(
        `Waiting for funds: have ${sats(f.have as number)} spendable, ${sats(f.unconfirmed as number)} unconfirmed, need ${sats(f.need as number)}`,
      );
    else if (event === "register.funded") out(`Funded: ${sats(f.have as number)} spendable`);
    else if (event === "register.broadcasting") out(`Recovery file written: ${f.recoveryFile}; broadcasting…`);
  };
  const res = await registerRelay({
    dataDir: o.dataDir,
    state: o.state,
    ip: o.ip,
    port: o.port,
    network: r.network,
    backend: backendFromConfig(r),
    ord: new OrdClient(r.ord!),
    ...(r.feeRate !== undefined && { feeRate: r.feeRate }),
    postage: BigInt(r.postage),
    broadcast: r.broadcast,
    wait: !r.noWait,
    timeoutMs: r.timeout * 1000,
    ...(o.pollMs !== undefined && { pollMs: o.pollMs }),
    progress,
    ...(r.allowUnindexedRunes && { allowUnindexedRunes: true }),
  });
  switch (res.status) {
    case "current":
      out(
        `Registered and current: inscription ${res.registration.inscriptionId} on sat ${res.registration.sat} says ${res.record.addr}; nothing to do.`,
      );
      return 0;
    case "pending":
      out(`The previous registration (reveal ${res.registration.revealTxid}) is not confirmed yet; run again once it is.`);
      return 4;
    case "unfunded": {
      const short = `not enough funds at ${address}: have ${sats(res.have)} spendable (${sats(res.unconfirmed)} unconfirmed), need ${sats(res.cost.need)}`;
      if (r.noWait && !r.broadcast)
        return (out(`Not funded yet: ${short}. Send the funds, then run again (without --no-wait to wait for them).`), 0);
      out(`Nothing broadcast: ${short}${r.noWait ? "" : ` after waiting ${r.timeout} s`}.`);
      return 3;
    }
    case "planned":
      out(
        `Dry run: would inscribe ${res.inscriptionId} on sat ${res.sat} (commit ${res.commitTxid}, reveal ${res.revealTxid}), ${describeCost(res.cost)}.`,
      );
      out(`Nothing was broadcast. Rerun with --broadcast to send.`);
      return 0;
    case "registered":
      out(`Registered: inscription ${res.inscriptionId} on sat ${res.sat}`);
      out(`  commit ${res.commitTxid}`);
      out(`  reveal ${res.revealTxid}`);
      out(`  recovery file ${res.recoveryFile} (keep it until the reveal confirms)`);
      out(`  ${join(o.dataDir, REGISTRATION_FILE)} updated; browsers read /r/sat/${res.sat}/at/-1/content once it is mined`);
      return 0;
  }
}
