// main.ts: `bun run inscribe <file> [options]`: the CLI shell around index.ts. Dry run unless
// --broadcast; keys come from a file or an environment variable and are never printed.
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { hex, base64 } from '@scure/base';
import {
  CoreRpcBackend,
  CoreWalletSigner,
  EsploraBackend,
  ExternalSigner,
  InscribeError,
  KeySigner,
  OrdClient,
  broadcast,
  buildRecoveryTx,
  compressBody,
  fundAndSign,
  jsonToCbor,
  mediaForPath,
  modeForContentType,
  waitForReveal,
  type Backend,
  type InscriptionFields,
  type NetworkName,
  type RecoveryInfo,
  type Signer,
  type Utxo,
} from './index.ts';

const HELP = `Usage: bun run inscribe <file> [options]
       bun run inscribe --recover <recovery file> --to ADDRESS --fee-rate R [backend] [--broadcast]

Inscribes <file> with a commit/reveal pair, as ord does. By default it is a dry run: it checks
every UTXO with the ord server, signs both transactions and prints the plan (future inscription
id, content bytes before/after compression, size and fee of each transaction, total cost), and
broadcasts nothing. With --broadcast it first writes a recovery file (mode 0600), then sends
commit and reveal.

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
  --destination ADDRESS     receiver of the inscription (default: the signer's address)
  --postage SATS            sats in the inscription output (default 10000, as ord)
  --fee-rate SAT_PER_VB     fee rate for both transactions
  --fee-target BLOCKS       without --fee-rate: the backend's estimate for this target (default 2)
  --network NAME            mainnet | testnet4 | signet | regtest (default mainnet)
  --sat N                   reinscribe sat N: the UTXO holding it must be the signer's and carry
                            no other inscriptions or runes; N stays at the destination
Backends (one of --esplora / --core-rpc, and always --ord)
  --ord URL                 ord server with --index-sats for --sat; every UTXO is checked with it,
                            and one carrying inscriptions or runes is never spent
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
  --core-wallet-sign        fund from and sign with the Core wallet (walletprocesspsbt)
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
Output
  --json                    print the plan as one JSON object (nothing else on stdout)
  -h, --help

Exit codes: 0 done (or dry run), 1 error (one line on stderr), 2 unsigned PSBT written.

Example (dry run, then for real):
  bun run inscribe record.json --compress --network signet --esplora URL --ord URL --key-env KEY
  bun run inscribe record.json --compress --network signet --esplora URL --ord URL --key-env KEY --broadcast
`;

type Args = ReturnType<typeof parse>['values'];
function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'content-type': { type: 'string' },
      compress: { type: 'boolean' },
      metadata: { type: 'string' },
      metaprotocol: { type: 'string' },
      parent: { type: 'string', multiple: true },
      delegate: { type: 'string' },
      pointer: { type: 'string' },
      destination: { type: 'string' },
      postage: { type: 'string' },
      'fee-rate': { type: 'string' },
      'fee-target': { type: 'string' },
      network: { type: 'string' },
      sat: { type: 'string' },
      ord: { type: 'string' },
      esplora: { type: 'string' },
      'core-rpc': { type: 'string' },
      'core-user': { type: 'string' },
      'core-password-env': { type: 'string' },
      'core-cookie': { type: 'string' },
      'core-wallet': { type: 'string' },
      'key-file': { type: 'string' },
      'key-env': { type: 'string' },
      'key-type': { type: 'string' },
      'core-wallet-sign': { type: 'boolean' },
      'watch-only': { type: 'string' },
      'internal-key': { type: 'string' },
      'psbt-out': { type: 'string' },
      'signed-psbt': { type: 'string' },
      state: { type: 'string' },
      broadcast: { type: 'boolean' },
      'recovery-file': { type: 'string' },
      wait: { type: 'string' },
      recover: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

class NeedsSignature extends Error {}

const NETWORKS: NetworkName[] = ['mainnet', 'testnet4', 'signet', 'regtest'];
const sats = (n: bigint) => `${n.toLocaleString('en-US')} sats`;

function num(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InscribeError('bad-input', `--${what} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

function backendFrom(a: Args): Backend {
  if (a.esplora && a['core-rpc']) throw new InscribeError('bad-input', 'choose one of --esplora and --core-rpc');
  if (a.esplora) return new EsploraBackend(a.esplora);
  if (a['core-rpc']) return coreFrom(a);
  throw new InscribeError('bad-input', 'a backend is needed: --esplora URL or --core-rpc URL');
}

function coreFrom(a: Args): CoreRpcBackend {
  let auth: { user: string; password: string } | null = null;
  if (a['core-cookie']) {
    const [user, password] = readFileSync(a['core-cookie'], 'utf8').trim().split(':');
    auth = { user: user!, password: password ?? '' };
  } else if (a['core-user']) {
    const pw = a['core-password-env'] ? process.env[a['core-password-env']] : undefined;
    if (pw === undefined) throw new InscribeError('bad-input', '--core-user needs --core-password-env VAR naming a set variable');
    auth = { user: a['core-user'], password: pw };
  }
  return new CoreRpcBackend(a['core-rpc']!, auth, a['core-wallet'] ?? null);
}

function keyText(a: Args): string | null {
  if (a['key-file'] && a['key-env']) throw new InscribeError('bad-input', 'choose one of --key-file and --key-env');
  if (a['key-file']) return readFileSync(a['key-file'], 'utf8');
  if (a['key-env']) {
    const v = process.env[a['key-env']];
    if (!v) throw new InscribeError('bad-input', `environment variable ${a['key-env']} is not set`);
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
  const network = (a.network ?? 'mainnet') as NetworkName;
  if (!NETWORKS.includes(network)) throw new InscribeError('bad-input', `--network must be one of ${NETWORKS.join(', ')}`);

  if (a.recover) return recover(a, out);

  const file = positionals[0];
  if (!file) throw new InscribeError('bad-input', 'no file given (see --help)');
  if (!a.ord) throw new InscribeError('bad-input', '--ord URL is required: UTXOs are checked for inscriptions before anything is spent');
  const raw = new Uint8Array(readFileSync(file));
  const media = mediaForPath(file);
  const contentType = a['content-type'] ?? media?.contentType;
  if (!contentType) throw new InscribeError('bad-input', `cannot guess the content type of ${basename(file)}: pass --content-type`);
  const body = a.compress ? compressBody(raw, media && !a['content-type'] ? media.mode : modeForContentType(contentType)) : { body: raw };
  const fields: InscriptionFields = { contentType, body: body.body };
  if (body.encoding) fields.contentEncoding = body.encoding;
  if (a.metaprotocol) fields.metaprotocol = a.metaprotocol;
  if (a.parent?.length) fields.parents = a.parent;
  if (a.delegate) fields.delegate = a.delegate;
  if (a.pointer !== undefined) {
    if (!/^\d+$/.test(a.pointer)) throw new InscribeError('bad-input', '--pointer must be a non-negative integer');
    fields.pointer = BigInt(a.pointer);
  }
  if (a.metadata) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(a.metadata, 'utf8'));
    } catch (e) {
      throw new InscribeError('bad-input', `--metadata ${a.metadata} is not JSON: ${(e as Error).message}`);
    }
    fields.metadata = jsonToCbor(json);
  }

  const ord = new OrdClient(a.ord);
  const backend = backendFrom(a);
  let signer: Signer;
  let utxos: Utxo[] | undefined;
  let revealSecret: Uint8Array | undefined;
  let feeRate = num(a['fee-rate'], 'fee-rate');
  let feeSource = feeRate === undefined ? '' : 'given';
  let lastFeeRate = 0;
  const key = keyText(a);
  if (key !== null) signer = KeySigner.fromString(key, (a['key-type'] ?? 'p2tr') as 'p2tr' | 'p2wpkh', network);
  else if (a['core-wallet-sign']) {
    if (!(backend instanceof CoreRpcBackend)) throw new InscribeError('bad-input', '--core-wallet-sign needs --core-rpc');
    signer = new CoreWalletSigner(backend);
    utxos = await backend.walletUtxos();
  } else if (a['watch-only']) {
    const addr = a['watch-only'];
    const internal = a['internal-key'] ? hex.decode(a['internal-key']) : undefined;
    if (a['signed-psbt']) {
      if (!a.state) throw new InscribeError('bad-input', '--signed-psbt needs --state FILE from the first run');
      const st = JSON.parse(readFileSync(a.state, 'utf8')) as { utxos: { txid: string; vout: number; value: string; script: string }[]; feeRate: number; revealSecret: string };
      utxos = st.utxos.map((u) => ({ txid: u.txid, vout: u.vout, value: BigInt(u.value), script: hex.decode(u.script) }));
      feeRate = st.feeRate;
      feeSource = 'from --state';
      revealSecret = hex.decode(st.revealSecret);
      const signedPath = a['signed-psbt'];
      signer = new ExternalSigner(addr, async () => readPsbt(signedPath), internal);
    } else {
      if (!a['psbt-out'] || !a.state) throw new InscribeError('bad-input', '--watch-only needs --psbt-out FILE and --state FILE');
      const psbtOut = a['psbt-out'];
      const statePath = a.state;
      revealSecret = crypto.getRandomValues(new Uint8Array(32));
      const secretForState = revealSecret;
      signer = new ExternalSigner(
        addr,
        async (unsigned) => {
          writeFileSync(psbtOut, base64.encode(unsigned) + '\n');
          const usedUtxos = (await backend.utxos(addr, network)).map((u) => ({ txid: u.txid, vout: u.vout, value: u.value.toString(), script: hex.encode(u.script) }));
          writeFileSync(statePath, JSON.stringify({ utxos: usedUtxos, feeRate: lastFeeRate, revealSecret: hex.encode(secretForState) }, null, 2), { mode: 0o600, flag: 'wx' });
          throw new NeedsSignature();
        },
        internal,
      );
    }
  } else throw new InscribeError('bad-input', 'no signer: pass --key-file, --key-env, --core-wallet-sign or --watch-only ADDRESS');

  const destination = a.destination ?? signer.address(network);
  if (!destination) throw new InscribeError('bad-input', '--destination is required with this signer');
  if (feeRate === undefined) {
    const target = num(a['fee-target'], 'fee-target') ?? 2;
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
      },
      backend,
      signer,
      ord,
    );
  } catch (e) {
    if (e instanceof NeedsSignature) {
      out(`Unsigned commit PSBT written to ${a['psbt-out']} and plan state to ${a.state}.`);
      out(`Sign it with the wallet of ${a['watch-only']}, then rerun with --signed-psbt FILE --state ${a.state}.`);
      return 2;
    }
    throw e;
  }
  const p = signed.plan;
  if (a.json) {
    out(JSON.stringify({ inscriptionId: p.inscriptionId, commit: { txid: p.commit.txid, vsize: p.commit.vsize, fee: Number(p.commit.fee) }, reveal: { txid: p.reveal.txid, vsize: p.reveal.vsize, fee: Number(p.reveal.fee) }, contentBytes: { before: raw.length, after: p.bodyBytes }, postage: Number(p.postage), totalCost: Number(p.totalCost), feeRate, broadcast: !!a.broadcast }));
  } else {
    out(`Plan (${network}, ${feeRate} sat/vB${feeSource ? `, ${feeSource}` : ''})`);
    out(`  inscription id   ${p.inscriptionId}  (once the reveal is mined)`);
    const how = !a.compress ? ' (not compressed; --compress tries brotli)' : fields.contentEncoding ? '' : ' (compression did not help; stored raw)';
    out(`  content          ${contentType}${fields.contentEncoding ? ' (br)' : ''}: ${raw.length} bytes → ${p.bodyBytes} bytes${how}`);
    out(`  destination      ${destination}${a.sat !== undefined ? ` (reinscribing sat ${a.sat})` : ''}`);
    out(`  commit           ${p.commit.txid}  ${p.commit.vsize} vB  fee ${sats(p.commit.fee)}  (${p.commit.inputs.length} input(s))`);
    out(`  reveal           ${p.reveal.txid}  ${p.reveal.vsize} vB  fee ${sats(p.reveal.fee)}`);
    out(`  postage          ${sats(p.postage)}`);
    out(`  total cost       ${sats(p.totalCost)}  (fees ${sats(p.commit.fee + p.reveal.fee)} + postage ${sats(p.postage)})`);
  }
  if (!a.broadcast) {
    if (!a.json) out('Dry run: nothing was broadcast. Add --broadcast to send.');
    return 0;
  }
  const recoveryFile = a['recovery-file'] ?? `inscribe-recovery-${p.commit.txid}.json`;
  if (existsSync(recoveryFile)) throw new InscribeError('bad-input', `recovery file ${recoveryFile} already exists; refusing to overwrite`);
  const r = await broadcast(signed, backend, { recoveryFile });
  out(`Recovery file: ${recoveryFile}`);
  out(`Broadcast commit ${r.commitTxid}`);
  out(`Broadcast reveal ${r.revealTxid}`);
  const seen = await waitForReveal(backend, r.revealTxid, { timeoutMs: (num(a.wait, 'wait') ?? 60) * 1000, intervalMs: 1000 });
  out(seen ? `Reveal seen by ${backend.name}: ${r.inscriptionId}` : `Reveal not seen yet; keep ${recoveryFile} until it confirms.`);
  return 0;
}

function readPsbt(path: string): Uint8Array {
  const data = readFileSync(path);
  const text = data.toString('utf8').trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    try {
      return base64.decode(text.replace(/\s+/g, ''));
    } catch {
      // fall through: binary
    }
  }
  return new Uint8Array(data);
}

async function recover(a: Args, out: (s: string) => void): Promise<number> {
  if (!a.to) throw new InscribeError('bad-input', '--recover needs --to ADDRESS');
  const feeRate = num(a['fee-rate'], 'fee-rate');
  if (feeRate === undefined) throw new InscribeError('bad-input', '--recover needs --fee-rate');
  const info = JSON.parse(readFileSync(a.recover!, 'utf8')) as RecoveryInfo;
  const tx = buildRecoveryTx(info, a.to, feeRate);
  out(`Recovery tx ${tx.txid}: ${tx.vsize} vB, fee ${sats(tx.fee)}, to ${a.to}`);
  if (!a.broadcast) {
    out(tx.tx.hex);
    out('Dry run: nothing was broadcast. Add --broadcast to send.');
    return 0;
  }
  const [id] = await backendFrom(a).broadcast([tx.tx.hex]);
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
