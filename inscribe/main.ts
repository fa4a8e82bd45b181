// main.ts: `npm run inscribe -- <file> [options]`: the CLI shell around index.ts. Dry run unless
// --broadcast; keys come from a file or an environment variable and are never printed.
// `--regtest-sandbox` runs it against inscribe/testing/sandbox.ts instead of real services.
import { parseArgs } from "node:util";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { hex, base64 } from "@scure/base";
import {
  CoreRpcBackend,
  CoreWalletSigner,
  ExternalSigner,
  InscribeError,
  KeySigner,
  NETWORKS,
  OrdClient,
  backendFromOptions,
  broadcast,
  buildRecoveryTx,
  checkNetwork,
  compressBody,
  fundAndSign,
  jsonToCbor,
  mediaForPath,
  modeForContentType,
  waitForReveal,
  type InscriptionFields,
  type NetworkName,
  type RecoveryInfo,
  type Signer,
  type Utxo,
} from "./index.ts";
import { SANDBOX_FUNDS, SANDBOX_PORTS, SANDBOX_WALLET, SANDBOX_WALLET_FUNDS, startSandbox, type Sandbox } from "./testing/sandbox.ts";

const HELP = `Usage: npm run inscribe -- <file> [options]
       npm run inscribe -- --recover <recovery file> --to ADDRESS --fee-rate R [backend] [--broadcast]
       npm run inscribe -- --regtest-sandbox [<file> [options]]

Inscribes <file> with a commit/reveal pair, as ord does. By default it is a dry run: it checks
that the backend and the ord server are on --network, checks every UTXO with the ord server, signs
both transactions and prints the plan (future inscription id, content bytes before/after
compression, size and fee of each transaction, total cost), and broadcasts nothing. With
--broadcast it first writes a recovery file (mode 0600), then sends commit and reveal.

Content
  --content-type TYPE       MIME type; default from the extension (.json .html .js .txt .svg .png ...)
  --compress                brotli (quality 11, window 24, as ord); kept only when smaller
                            (then Content-Encoding: br)
  --metadata FILE.json      JSON metadata, stored as CBOR (tag 5)
  --metaprotocol NAME       tag 7
  --parent ID               parent inscription (repeatable); its UTXO must be the signer's
  --delegate ID             tag 11: serve that inscription's content instead
  --pointer N               tag 2: output sat offset the inscription lands on
Where and how much
  --destination ADDRESS     receiver of the inscription (default: the signer's address; required
                            with --core-wallet-sign: Core's wallet does not know inscriptions)
  --change-address ADDRESS  where change goes (default: the signer's address; with
                            --core-wallet-sign a fresh getrawchangeaddress of that wallet)
  --postage SATS            sats in the inscription output (default 10000, as ord)
  --fee-rate SAT_PER_VB     fee rate for both transactions
  --fee-target BLOCKS       without --fee-rate: the backend's estimate for this target (default 2)
  --network NAME            mainnet | testnet4 | signet | regtest (default mainnet); the backend
                            and the ord server must be on it, or nothing is planned
  --sat N                   reinscribe sat N: the UTXO holding it must be the signer's and carry
                            no other inscriptions or runes; N stays at the destination
Backends (one of --esplora / --core-rpc, and always --ord)
  --ord URL                 ord server with --index-runes (and --index-sats for --sat); every UTXO
                            is checked with it, and one carrying inscriptions or runes is never spent
  --allow-unindexed-runes   spend although the ord server does not index runes (runes: null);
                            without it such a server stops everything before planning
  --esplora URL             Esplora HTTP API: UTXOs, fee estimates, broadcast
  --core-rpc URL            Bitcoin Core JSON-RPC instead
  --core-user NAME          RPC user, with
  --core-password-env VAR     the environment variable holding the RPC password
  --core-cookie FILE        or Core's .cookie file
  --core-wallet NAME        wallet for wallet RPCs (/wallet/NAME)
Keys (never printed)
  --key-file PATH           file holding a WIF or 64-hex secret key
  --key-env VAR             environment variable holding it
  --key-type p2tr|p2wpkh    address type of that key (default p2tr)
  --core-wallet-sign        fund from and sign with the Core wallet (listunspent, walletprocesspsbt)
  --watch-only ADDRESS      no key here: write the unsigned commit PSBT and stop (exit code 2)
  --internal-key HEX        x-only internal key of a P2TR --watch-only address
  --psbt-out FILE           where that unsigned PSBT goes (base64)
  --state FILE              the plan state the first watch-only run writes and the second reads
  --signed-psbt FILE        second run: the signed PSBT (base64 or binary), with --state FILE
Broadcast and recovery
  --broadcast               really send (after writing the recovery file)
  --recovery-file PATH      default ./inscribe-recovery-<commit txid>.json; never overwritten
  --wait SECONDS            after broadcast, wait this long for the reveal to be seen (default 60)
  --recover FILE            sweep the commit output by key path with a recovery file, if the
  --to ADDRESS                reveal never confirmed: to this address, at --fee-rate
Trying it out
  --regtest-sandbox         an in-memory regtest chain served as Esplora, Core RPC (with a wallet)
                            and ord (sats and runes indexed), a funded throwaway key, every
                            transaction mined at once. With <file>: one run against it (backend,
                            --ord, --network and the key filled in), then it stops. Without: it
                            serves on ports ${SANDBOX_PORTS.esplora}, ${SANDBOX_PORTS.core}, ${SANDBOX_PORTS.ord} (free ones if taken) and prints
                            commands to try, until Ctrl-C
  --sandbox-dir DIR         where the sandbox writes its key and Core cookie (serving: default
                            .lumamesh/sandbox; one run: a temporary directory, removed after)
Output
  --json                    print the plan as one JSON object (nothing else on stdout)
  -h, --help

Exit codes: 0 done (or dry run), 1 error (one line on stderr), 2 unsigned PSBT written.

Examples (a dry run on the sandbox; a dry run on signet, then for real):
  npm run inscribe -- README.md --regtest-sandbox
  npm run inscribe -- record.json --compress --network signet --esplora URL --ord URL --key-env KEY
  npm run inscribe -- record.json --compress --network signet --esplora URL --ord URL --key-env KEY --broadcast
`;

/** Every option the parser takes (the --help test checks each has a line in HELP). */
export const OPTIONS = {
  "content-type": { type: "string" },
  compress: { type: "boolean" },
  metadata: { type: "string" },
  metaprotocol: { type: "string" },
  parent: { type: "string", multiple: true },
  delegate: { type: "string" },
  pointer: { type: "string" },
  destination: { type: "string" },
  "change-address": { type: "string" },
  postage: { type: "string" },
  "fee-rate": { type: "string" },
  "fee-target": { type: "string" },
  network: { type: "string" },
  sat: { type: "string" },
  ord: { type: "string" },
  "allow-unindexed-runes": { type: "boolean" },
  esplora: { type: "string" },
  "core-rpc": { type: "string" },
  "core-user": { type: "string" },
  "core-password-env": { type: "string" },
  "core-cookie": { type: "string" },
  "core-wallet": { type: "string" },
  "key-file": { type: "string" },
  "key-env": { type: "string" },
  "key-type": { type: "string" },
  "core-wallet-sign": { type: "boolean" },
  "watch-only": { type: "string" },
  "internal-key": { type: "string" },
  "psbt-out": { type: "string" },
  "signed-psbt": { type: "string" },
  state: { type: "string" },
  broadcast: { type: "boolean" },
  "recovery-file": { type: "string" },
  wait: { type: "string" },
  recover: { type: "string" },
  to: { type: "string" },
  "regtest-sandbox": { type: "boolean" },
  "sandbox-dir": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Args = ReturnType<typeof parse>["values"];
function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    throw new InscribeError("bad-input", `${(e as Error).message} (see --help)`);
  }
}

class NeedsSignature extends Error {}

const sats = (n: bigint) => `${n.toLocaleString("en-US")} sats`;

function num(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InscribeError("bad-input", `--${what} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

const backendFrom = (a: Args) =>
  backendFromOptions({
    esplora: a.esplora,
    coreRpc: a["core-rpc"],
    coreUser: a["core-user"],
    corePasswordEnv: a["core-password-env"],
    coreCookie: a["core-cookie"],
    coreWallet: a["core-wallet"],
  });

function keyText(a: Args): string | null {
  if (a["key-file"] && a["key-env"]) throw new InscribeError("bad-input", "choose one of --key-file and --key-env");
  if (a["key-file"]) return readFileSync(a["key-file"], "utf8");
  if (a["key-env"]) {
    const v = process.env[a["key-env"]];
    if (!v) throw new InscribeError("bad-input", `environment variable ${a["key-env"]} is not set`);
    return v;
  }
  return null;
}

export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  const { values: a, positionals } = parse(argv);
  if (a.help) {
    out(HELP);
    return 0;
  }
  if (a["regtest-sandbox"]) return sandbox(argv, a, positionals, out);
  const network = (a.network ?? "mainnet") as NetworkName;
  if (!NETWORKS.includes(network)) throw new InscribeError("bad-input", `--network must be one of ${NETWORKS.join(", ")}`);

  if (a.recover) return recover(a, network, out);

  const file = positionals[0];
  if (!file) throw new InscribeError("bad-input", "no file given (see --help)");
  if (!a.ord) throw new InscribeError("bad-input", "--ord URL is required: UTXOs are checked for inscriptions before anything is spent");
  const raw = new Uint8Array(readFileSync(file));
  const media = mediaForPath(file);
  const contentType = a["content-type"] ?? media?.contentType;
  if (!contentType) throw new InscribeError("bad-input", `cannot guess the content type of ${basename(file)}: pass --content-type`);
  const body = a.compress ? compressBody(raw, media && !a["content-type"] ? media.mode : modeForContentType(contentType)) : { body: raw };
  const fields: InscriptionFields = { contentType, body: body.body };
  if (body.encoding) fields.contentEncoding = body.encoding;
  if (a.metaprotocol) fields.metaprotocol = a.metaprotocol;
  if (a.parent?.length) fields.parents = a.parent;
  if (a.delegate) fields.delegate = a.delegate;
  if (a.pointer !== undefined) {
    if (!/^\d+$/.test(a.pointer)) throw new InscribeError("bad-input", "--pointer must be a non-negative integer");
    fields.pointer = BigInt(a.pointer);
  }
  if (a.metadata) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(a.metadata, "utf8"));
    } catch (e) {
      throw new InscribeError("bad-input", `--metadata ${a.metadata} is not JSON: ${(e as Error).message}`);
    }
    fields.metadata = jsonToCbor(json);
  }

  const ord = new OrdClient(a.ord);
  const backend = backendFrom(a);
  let signer: Signer;
  let utxos: Utxo[] | undefined;
  let revealSecret: Uint8Array | undefined;
  let feeRate = num(a["fee-rate"], "fee-rate");
  let feeSource = feeRate === undefined ? "" : "given";
  let lastFeeRate = 0;
  const key = keyText(a);
  if (key !== null) signer = KeySigner.fromString(key, (a["key-type"] ?? "p2tr") as "p2tr" | "p2wpkh", network);
  else if (a["core-wallet-sign"]) {
    if (!(backend instanceof CoreRpcBackend)) throw new InscribeError("bad-input", "--core-wallet-sign needs --core-rpc");
    signer = new CoreWalletSigner(backend);
    utxos = await backend.walletUtxos();
  } else if (a["watch-only"]) {
    const addr = a["watch-only"];
    const internal = a["internal-key"] ? hex.decode(a["internal-key"]) : undefined;
    if (a["signed-psbt"]) {
      if (!a.state) throw new InscribeError("bad-input", "--signed-psbt needs --state FILE from the first run");
      const st = JSON.parse(readFileSync(a.state, "utf8")) as {
        utxos: { txid: string; vout: number; value: string; script: string }[];
        feeRate: number;
        revealSecret: string;
      };
      utxos = st.utxos.map((u) => ({ txid: u.txid, vout: u.vout, value: BigInt(u.value), script: hex.decode(u.script) }));
      feeRate = st.feeRate;
      feeSource = "from --state";
      revealSecret = hex.decode(st.revealSecret);
      const signedPath = a["signed-psbt"];
      signer = new ExternalSigner(addr, async () => readPsbt(signedPath), internal);
    } else {
      if (!a["psbt-out"] || !a.state) throw new InscribeError("bad-input", "--watch-only needs --psbt-out FILE and --state FILE");
      const psbtOut = a["psbt-out"];
      const statePath = a.state;
      revealSecret = crypto.getRandomValues(new Uint8Array(32));
      const secretForState = revealSecret;
      signer = new ExternalSigner(
        addr,
        async (unsigned) => {
          writeFileSync(psbtOut, base64.encode(unsigned) + "\n");
          const usedUtxos = (await backend.utxos(addr, network)).map((u) => ({
            txid: u.txid,
            vout: u.vout,
            value: u.value.toString(),
            script: hex.encode(u.script),
          }));
          writeFileSync(
            statePath,
            JSON.stringify({ utxos: usedUtxos, feeRate: lastFeeRate, revealSecret: hex.encode(secretForState) }, null, 2),
            { mode: 0o600, flag: "wx" },
          );
          throw new NeedsSignature();
        },
        internal,
      );
    }
  } else throw new InscribeError("bad-input", "no signer: pass --key-file, --key-env, --core-wallet-sign or --watch-only ADDRESS");

  const destination = a.destination ?? signer.address(network);
  if (!destination) throw new InscribeError("bad-input", "--destination is required with this signer");
  if (feeRate === undefined) {
    const target = num(a["fee-target"], "fee-target") ?? 2;
    feeRate = await backend.feeRate(target);
    feeSource = `${backend.name} estimate for ${target} block(s)`;
  }
  lastFeeRate = feeRate;
  let signed;
  try {
    signed = await fundAndSign(
      {
        network,
        inscription: fields,
        destination,
        feeRate,
        ...(a.postage !== undefined ? { postage: BigInt(a.postage) } : {}),
        ...(a.sat !== undefined ? { sat: BigInt(a.sat) } : {}),
        ...(revealSecret ? { revealSecret } : {}),
        ...(utxos ? { utxos } : {}),
        ...(a["change-address"] ? { changeAddress: a["change-address"] } : {}),
        ...(a["allow-unindexed-runes"] ? { allowUnindexedRunes: true } : {}),
      },
      backend,
      signer,
      ord,
    );
  } catch (e) {
    if (e instanceof NeedsSignature) {
      out(`Unsigned commit PSBT written to ${a["psbt-out"]} and plan state to ${a.state}.`);
      out(`Sign it with the wallet of ${a["watch-only"]}, then rerun with --signed-psbt FILE --state ${a.state}.`);
      return 2;
    }
    throw e;
  }
  const p = signed.plan;
  if (a.json) {
    out(
      JSON.stringify({
        inscriptionId: p.inscriptionId,
        commit: { txid: p.commit.txid, vsize: p.commit.vsize, fee: Number(p.commit.fee) },
        reveal: { txid: p.reveal.txid, vsize: p.reveal.vsize, fee: Number(p.reveal.fee) },
        contentBytes: { before: raw.length, after: p.bodyBytes },
        postage: Number(p.postage),
        totalCost: Number(p.totalCost),
        feeRate,
        broadcast: !!a.broadcast,
        warnings: signed.warnings,
      }),
    );
  } else {
    for (const w of signed.warnings) out(`Warning: ${w}`);
    out(`Plan (${network}, ${feeRate} sat/vB${feeSource ? `, ${feeSource}` : ""})`);
    out(`  inscription id   ${p.inscriptionId}  (once the reveal is mined)`);
    const how = !a.compress
      ? " (not compressed; --compress tries brotli)"
      : fields.contentEncoding
        ? ""
        : " (compression did not help; stored raw)";
    out(`  content          ${contentType}${fields.contentEncoding ? " (br)" : ""}: ${raw.length} bytes → ${p.bodyBytes} bytes${how}`);
    out(`  destination      ${destination}${a.sat !== undefined ? ` (reinscribing sat ${a.sat})` : ""}`);
    out(`  commit           ${p.commit.txid}  ${p.commit.vsize} vB  fee ${sats(p.commit.fee)}  (${p.commit.inputs.length} input(s))`);
    out(`  reveal           ${p.reveal.txid}  ${p.reveal.vsize} vB  fee ${sats(p.reveal.fee)}`);
    out(`  postage          ${sats(p.postage)}`);
    out(`  total cost       ${sats(p.totalCost)}  (fees ${sats(p.commit.fee + p.reveal.fee)} + postage ${sats(p.postage)})`);
  }
  if (!a.broadcast) {
    if (!a.json) out("Dry run: nothing was broadcast. Add --broadcast to send.");
    return 0;
  }
  const recoveryFile = a["recovery-file"] ?? `inscribe-recovery-${p.commit.txid}.json`;
  if (existsSync(recoveryFile)) throw new InscribeError("bad-input", `recovery file ${recoveryFile} already exists; refusing to overwrite`);
  const r = await broadcast(signed, backend, { recoveryFile });
  out(`Recovery file: ${recoveryFile}`);
  out(`Broadcast commit ${r.commitTxid}`);
  out(`Broadcast reveal ${r.revealTxid}`);
  const seen = await waitForReveal(backend, r.revealTxid, { timeoutMs: (num(a.wait, "wait") ?? 60) * 1000, intervalMs: 1000 });
  out(seen ? `Reveal seen by ${backend.name}: ${r.inscriptionId}` : `Reveal not seen yet; keep ${recoveryFile} until it confirms.`);
  return 0;
}

const SANDBOX_OWN = ["esplora", "core-rpc", "core-user", "core-password-env", "core-cookie", "core-wallet", "ord"] as const;

/**
 * --regtest-sandbox. With a file: start the sandbox on free ports, run this same command against it
 * (its backend, ord server, regtest and its key unless another signer is named), stop it. Without:
 * serve it on the usual ports and print what to try, until SIGINT or SIGTERM.
 */
async function sandbox(argv: string[], a: Args, positionals: string[], out: (s: string) => void): Promise<number> {
  if (a.network !== undefined && a.network !== "regtest")
    throw new InscribeError("bad-input", "--regtest-sandbox is regtest: leave out --network or say --network regtest");
  const taken = SANDBOX_OWN.filter((k) => a[k] !== undefined);
  if (taken.length)
    throw new InscribeError("bad-input", `--regtest-sandbox provides the backend and ord server itself; leave out --${taken.join(", --")}`);
  const file = positionals[0];
  if (!file && !a.recover) return serveSandbox(await startSandbox({ dir: a["sandbox-dir"] ?? ".lumamesh/sandbox", usualPorts: true }), out);
  // One run: its key and cookie live only as long as the run does (unless --sandbox-dir keeps them).
  const tmp = a["sandbox-dir"] ? null : mkdtempSync(join(tmpdir(), "inscribe-sandbox-"));
  const sb = await startSandbox({ dir: a["sandbox-dir"] ?? tmp! });
  try {
    const rest: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === "--regtest-sandbox") continue;
      if (argv[i] === "--sandbox-dir") i++;
      else if (!argv[i]!.startsWith("--sandbox-dir=")) rest.push(argv[i]!);
    }
    const backend = a["core-wallet-sign"]
      ? ["--core-rpc", sb.core.url, "--core-cookie", sb.cookieFile, "--core-wallet", SANDBOX_WALLET]
      : ["--esplora", sb.esplora.url];
    const signer = a["key-file"] || a["key-env"] || a["watch-only"] || a["core-wallet-sign"] ? [] : ["--key-file", sb.keyFile];
    const destination = a["core-wallet-sign"] && !a.destination && !a.recover ? ["--destination", sb.address] : [];
    // The recovery file of a sandbox broadcast is as throwaway as the sandbox.
    const recovery = a.broadcast && !a["recovery-file"] ? ["--recovery-file", join(sb.dir, "inscribe-recovery.json")] : [];
    if (!a.json)
      out(
        `Regtest sandbox for this run: ${a["core-wallet-sign"] ? `Core RPC ${sb.core.url} (wallet "${SANDBOX_WALLET}", funded)` : `Esplora ${sb.esplora.url}`}, ord ${sb.ord.url}${signer.length ? `; funded key → ${sb.address}` : ""}`,
      );
    return await main([...rest, "--network", "regtest", "--ord", sb.ord.url, ...backend, ...signer, ...destination, ...recovery], out);
  } finally {
    await sb.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

async function serveSandbox(sb: Sandbox, out: (s: string) => void): Promise<number> {
  const sats = (n: bigint) => n.toLocaleString("en-US");
  const total = SANDBOX_FUNDS.reduce((x, y) => x + y, 0n);
  const esplora = `--esplora ${sb.esplora.url} --ord ${sb.ord.url}`;
  const lines = [
    "Regtest sandbox (in memory: nothing is kept; every transaction is mined at once; Ctrl-C stops it)",
    ...sb.moved.map((m) => `  (${m})`),
    `  Esplora   ${sb.esplora.url}`,
    `  Core RPC  ${sb.core.url}   cookie ${sb.cookieFile}, wallet "${SANDBOX_WALLET}" holding ${sats(SANDBOX_WALLET_FUNDS)} sats`,
    `  ord       ${sb.ord.url}   (sats and runes indexed)`,
    `  key       ${sb.keyFile}   (mode 0600) → ${sb.address} holding ${sats(total)} sats in ${SANDBOX_FUNDS.length} UTXOs`,
    "",
    "Try, from this checkout in another terminal:",
    `  npm run inscribe -- README.md --network regtest ${esplora} --key-file ${sb.keyFile} --fee-rate 2`,
    `  npm run inscribe -- README.md --network regtest --core-rpc ${sb.core.url} --core-cookie ${sb.cookieFile} --core-wallet ${SANDBOX_WALLET} --core-wallet-sign --destination ${sb.address} --ord ${sb.ord.url} --fee-rate 2`,
    `  npm run relay -- register --data-dir ${sb.dir}/relay --network regtest ${esplora} --fee-rate 2 --no-wait`,
    "Add --broadcast to send; then open the ord server in a browser to see the inscription.",
  ];
  out(lines.join("\n"));
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await sb.stop();
  return 0;
}

function readPsbt(path: string): Uint8Array {
  const data = readFileSync(path);
  const text = data.toString("utf8").trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    try {
      return base64.decode(text.replace(/\s+/g, ""));
    } catch {
      // fall through: binary
    }
  }
  return new Uint8Array(data);
}

async function recover(a: Args, network: NetworkName, out: (s: string) => void): Promise<number> {
  if (!a.to) throw new InscribeError("bad-input", "--recover needs --to ADDRESS");
  const feeRate = num(a["fee-rate"], "fee-rate");
  if (feeRate === undefined) throw new InscribeError("bad-input", "--recover needs --fee-rate");
  const info = JSON.parse(readFileSync(a.recover!, "utf8")) as RecoveryInfo;
  if (a.network !== undefined && info.network !== network)
    throw new InscribeError("wrong-network", `--network ${network}, but ${a.recover} is for ${info.network}`);
  const tx = buildRecoveryTx(info, a.to, feeRate);
  out(`Recovery tx ${tx.txid}: ${tx.vsize} vB, fee ${sats(tx.fee)}, to ${a.to}`);
  if (!a.broadcast) {
    out(tx.tx.hex);
    out("Dry run: nothing was broadcast. Add --broadcast to send.");
    return 0;
  }
  const backend = backendFrom(a);
  await checkNetwork(info.network, backend);
  const [id] = await backend.broadcast([tx.tx.hex]);
  out(`Broadcast ${id}`);
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
