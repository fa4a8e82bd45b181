// The library flow end to end over the stand-ins: vetting against ord, reinscription through ord,
// signers (local key, Core wallet, external PSBT), recovery file before broadcast, and the CLI.
import { afterAll, describe, expect, test } from 'bun:test';
import * as btc from '@scure/btc-signer';
import { hex, utf8, base64 } from '@scure/base';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWitness } from 'micro-ordinals';
import {
  CoreRpcBackend,
  CoreWalletSigner,
  EsploraBackend,
  ExternalSigner,
  InscribeError,
  KeySigner,
  OrdClient,
  broadcast,
  fundAndSign,
  waitForReveal,
  type InscribeRequest,
} from '../../inscribe/index.ts';
import { MemoryChain } from '../../inscribe/testing/chain.ts';
import { startEsplora } from '../../inscribe/testing/esplora-server.ts';
import { startCoreRpc } from '../../inscribe/testing/core-rpc-server.ts';
import { startOrdServer, type OrdServer } from '../../dev/ord-server.ts';

const KEY = new Uint8Array(32).fill(7);
const signer = new KeySigner(KEY, 'p2tr');
const ADDR = signer.address('regtest');
const dir = mkdtempSync(join(tmpdir(), 'inscribe-test-'));
const stops: (() => unknown)[] = [];
afterAll(() => Promise.all(stops.map((s) => s())));

/** A chain, Esplora over it, and the ord server indexing the same chain. */
async function world() {
  const chain = new MemoryChain();
  const es = startEsplora({ chain });
  const ord = await startOrdServer({ chain });
  stops.push(es.stop, ord.stop);
  return { chain, es, ord, backend: new EsploraBackend(es.url), ordc: new OrdClient(ord.url) };
}

/**
 * Funds the signer (sats from `satStart` when given) in a confirmed output, which the ord server
 * then knows from the chain; `inscriptions` are put on its first sats, one sat each, in order.
 */
function fund(chain: MemoryChain, ord: OrdServer, value: bigint, inscriptions: string[] = [], satStart?: number) {
  const u = chain.fund(signer.script(), value, satStart !== undefined ? { sat: satStart } : {});
  inscriptions.forEach((id, k) => ord.add({ id, sat: u.sat_ranges[0]![0] + k, body: '' }));
  return u;
}

const req = (extra: Partial<InscribeRequest> = {}): InscribeRequest => ({
  network: 'regtest',
  inscription: { contentType: 'application/json', body: utf8.decode('{"relays":[]}') },
  destination: ADDR,
  feeRate: 2,
  ...extra,
});

describe('fundAndSign + broadcast', () => {
  test('happy path: recovery file first (0600), both txs accepted, reveal seen', async () => {
    const { chain, es, ord, backend, ordc } = await world();
    fund(chain, ord, 100_000n);
    const signed = await fundAndSign(req(), backend, signer, ordc);
    expect(es.log.filter((l) => l.startsWith('POST'))).toEqual([]); // nothing sent while planning
    const recoveryFile = join(dir, 'happy.json');
    const r = await broadcast(signed, backend, { recoveryFile });
    expect(statSync(recoveryFile).mode & 0o777).toBe(0o600);
    const rec = JSON.parse(readFileSync(recoveryFile, 'utf8'));
    expect(rec.commitTxid).toBe(r.commitTxid);
    expect(rec.inscriptionId).toBe(r.inscriptionId);
    expect(r.inscriptionId).toBe(`${r.revealTxid}i0`);
    expect(await waitForReveal(backend, r.revealTxid, { timeoutMs: 1000, intervalMs: 10 })).toBe(true);
    const revealHex = chain.txs.get(r.revealTxid)!.hex;
    const w = btc.Transaction.fromRaw(hex.decode(revealHex), { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true }).getInput(0).finalScriptWitness!;
    expect(parseWitness(w)![0]!.tags.contentType).toBe('application/json');
    // Broadcasting the same plan twice is refused before any network call: the recovery file exists.
    await expect(broadcast(signed, backend, { recoveryFile })).rejects.toThrow(/EEXIST/);
  });

  test('a UTXO carrying an inscription is never spent', async () => {
    const { chain, ord, backend, ordc } = await world();
    const inscribed = fund(chain, ord, 500_000n, ['ee'.repeat(32) + 'i0']);
    const cardinal = fund(chain, ord, 60_000n);
    const signed = await fundAndSign(req(), backend, signer, ordc);
    const spent = signed.plan.commit.inputs.map((u) => u.txid);
    expect(spent).toEqual([cardinal.txid]);
    expect(spent).not.toContain(inscribed.txid);
  });

  test('only inscribed UTXOs: insufficient funds, nothing broadcast', async () => {
    const { chain, es, ord, backend, ordc } = await world();
    fund(chain, ord, 500_000n, ['ee'.repeat(32) + 'i0']);
    const err = await fundAndSign(req(), backend, signer, ordc).catch((e) => e);
    expect(err).toBeInstanceOf(InscribeError);
    expect(err.code).toBe('insufficient-funds');
    expect(es.log.some((l) => l.startsWith('POST'))).toBe(false);
  });

  test('ord does not know a UTXO (not synced) or is unreachable: refuse', async () => {
    const { chain, backend, ord, ordc } = await world();
    chain.fund(signer.script(), 100_000n, { confirmed: false }); // in the mempool: not in ord's index yet
    const err = await fundAndSign(req(), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe('inscribed-utxo');
    expect(err.message).toContain('HTTP 404');
    await ord.stop();
    const err2 = await fundAndSign(req(), backend, signer, ordc).catch((e) => e);
    expect(err2.code).toBe('inscribed-utxo');
    expect(err2.message).toContain('unreachable');
  });

  test('unreachable backend', async () => {
    const { ordc } = await world();
    const s = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') });
    const url = `http://127.0.0.1:${s.port}`;
    s.stop(true);
    const err = await fundAndSign(req(), new EsploraBackend(url), signer, ordc).catch((e) => e);
    expect(err.code).toBe('backend');
  });

  test('wrong-network destination', async () => {
    const { chain, ord, backend, ordc } = await world();
    fund(chain, ord, 100_000n);
    const err = await fundAndSign(req({ destination: signer.address('mainnet') }), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe('wrong-network');
  });
});

describe('reinscription on a chosen sat', () => {
  const SAT = 7_000_000_000;
  const OLD = 'aa'.repeat(32) + 'i0';

  test('the new inscription lands on S and S stays at the destination', async () => {
    const { chain, ord, backend, ordc } = await world();
    const holder = fund(chain, ord, 10_000n, [OLD], SAT); // S is the first sat, carrying OLD
    fund(chain, ord, 80_000n);
    const signed = await fundAndSign(req({ sat: BigInt(SAT) }), backend, signer, ordc);
    const p = signed.plan;
    expect(p.commit.inputs[0]!.txid).toBe(holder.txid); // S's UTXO first
    expect(p.commit.commitVout).toBe(0);
    const r = await broadcast(signed, backend, { recoveryFile: join(dir, 'reinscribe.json') });
    // S = first sat of commit input 0 → commit output 0 offset 0 → reveal output 0 offset 0 (destination).
    const reveal = btc.Transaction.fromRaw(hex.decode(chain.txs.get(r.revealTxid)!.hex), { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true });
    expect(hex.encode(reveal.getOutput(0).script!)).toBe(hex.encode(signer.script()));
    expect(reveal.getOutput(0).amount).toBe(10_000n);
  });

  test('refuses when S is in a UTXO the signer does not control', async () => {
    const { chain, ord, backend, ordc } = await world();
    const other = chain.fund(new KeySigner(new Uint8Array(32).fill(3)).script(), 10_000n, { sat: SAT });
    ord.add({ id: OLD, sat: SAT, body: '' });
    fund(chain, ord, 80_000n);
    const err = await fundAndSign(req({ sat: BigInt(SAT) }), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe('not-controlled');
    expect(err.message).toContain(`${other.txid}:0`);
  });

  test('refuses when S shares its UTXO with other inscriptions', async () => {
    const { chain, ord, backend, ordc } = await world();
    fund(chain, ord, 10_000n, [OLD, 'bb'.repeat(32) + 'i0'], SAT); // OLD on S, the other on S + 1
    fund(chain, ord, 80_000n);
    const err = await fundAndSign(req({ sat: BigInt(SAT) }), backend, signer, ordc).catch((e) => e);
    expect(err.code).toBe('inscribed-utxo');
  });
});

describe('other signers', () => {
  test('watch-only: external signer round trip; a broken or foreign PSBT is refused', async () => {
    const { chain, ord, backend, ordc } = await world();
    fund(chain, ord, 100_000n);
    const secret = new Uint8Array(32).fill(4);
    let seen: Uint8Array | null = null;
    const hw = new ExternalSigner(ADDR, async (unsigned) => ((seen = unsigned), signer.signPsbt(unsigned)), signer.tapInternalKey);
    const ok = await fundAndSign(req({ revealSecret: secret }), backend, hw, ordc);
    expect(seen).not.toBeNull();
    expect(btc.Transaction.fromPSBT(seen!).id).toBe(ok.plan.commit.txid);

    const broken = new ExternalSigner(ADDR, async () => utf8.decode('not a psbt'));
    expect((await fundAndSign(req(), backend, broken, ordc).catch((e) => e)).code).toBe('bad-psbt');
    const unsigned = new ExternalSigner(ADDR, async (u) => u);
    expect((await fundAndSign(req(), backend, unsigned, ordc).catch((e) => e)).code).toBe('bad-psbt');
    const foreign = new ExternalSigner(ADDR, async (u) => {
      const tx = btc.Transaction.fromPSBT(u);
      tx.updateOutput(0, { amount: tx.getOutput(0).amount! - 1n });
      return tx.toPSBT();
    });
    const err = await fundAndSign(req(), backend, foreign, ordc).catch((e) => e);
    expect(err.code).toBe('bad-psbt');
    expect(err.message).toContain('different transaction');
  });

  test('Core wallet: funds from listunspent, signs with walletprocesspsbt, broadcasts as a package', async () => {
    const chain = new MemoryChain();
    const core = startCoreRpc({ chain, walletKey: KEY, walletScripts: [signer.script()] });
    const ord = await startOrdServer({ chain });
    stops.push(core.stop, ord.stop);
    const backend = new CoreRpcBackend(core.url, { user: 'user', password: 'pass' }, 'maint');
    fund(chain, ord, 100_000n);
    const s = new CoreWalletSigner(backend);
    const signed = await fundAndSign(req({ changeAddress: ADDR, utxos: await backend.walletUtxos() }), backend, s, new OrdClient(ord.url));
    const r = await broadcast(signed, backend, { recoveryFile: join(dir, 'core.json') });
    expect(core.calls).toContain('walletprocesspsbt');
    expect(core.calls).toContain('submitpackage');
    expect(chain.txs.has(r.revealTxid)).toBe(true);
  });
});

describe('CLI', () => {
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const p = Bun.spawn([process.execPath, 'run', 'inscribe/main.ts', ...args], { cwd: join(import.meta.dir, '../..'), env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { out, err, code };
  };
  const WIF = btc.WIF(btc.TEST_NETWORK).encode(KEY);

  test('--help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: bun run inscribe <file>');
    expect(r.out).toContain('--broadcast');
    // Every option the parser takes is documented on a line of its own.
    for (const o of ['--core-user', '--core-password-env', '--core-cookie', '--core-wallet', '--recover', '--to', '--state', '--json', '--sat', '--compress'])
      expect(r.out).toMatch(new RegExp(`^  ${o} `, 'm'));
    expect(r.out).toContain('Exit codes');
  });

  test('dry run prints the plan, broadcasts nothing, never prints the key', async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 100_000n);
    const file = join(dir, 'boot.json');
    writeFileSync(file, JSON.stringify({ relays: [{ addr: '203.0.113.7:443', fp: 'ab'.repeat(32) }] }).repeat(20));
    const r = await run([file, '--compress', '--network', 'regtest', '--esplora', es.url, '--ord', ord.url, '--key-env', 'TEST_KEY', '--fee-rate', '3'], { TEST_KEY: WIF });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/inscription id +[0-9a-f]{64}i0/);
    expect(r.out).toMatch(/application\/json \(br\): \d+ bytes → \d+ bytes/);
    expect(r.out).toMatch(/^  commit +[0-9a-f]{64} +\d+ vB +fee [\d,]+ sats/m);
    expect(r.out).toMatch(/^  reveal +[0-9a-f]{64} +\d+ vB +fee [\d,]+ sats/m);
    expect(r.out).toMatch(/^  total cost +[\d,]+ sats +\(fees [\d,]+ sats \+ postage 10,000 sats\)/m);
    expect(r.out).toContain('Dry run: nothing was broadcast');
    // --json: stdout is one JSON object whose numbers add up.
    const j = await run([file, '--compress', '--network', 'regtest', '--esplora', es.url, '--ord', ord.url, '--key-env', 'TEST_KEY', '--fee-rate', '3', '--json'], { TEST_KEY: WIF });
    expect(j.code).toBe(0);
    const plan = JSON.parse(j.out);
    expect(plan.inscriptionId).toBe(`${plan.reveal.txid}i0`);
    expect(plan.contentBytes.after).toBeLessThan(plan.contentBytes.before);
    expect(plan.totalCost).toBe(plan.commit.fee + plan.reveal.fee + plan.postage);
    expect(plan.broadcast).toBe(false);
    expect(r.out).not.toContain(WIF);
    expect(r.out).not.toContain(hex.encode(KEY));
    expect(es.log.some((l) => l.startsWith('POST'))).toBe(false);
  });

  test('--broadcast writes the recovery file and sends both', async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 100_000n);
    const file = join(dir, 'hello.txt');
    writeFileSync(file, 'hello');
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, hex.encode(KEY));
    const rec = join(dir, 'cli-recovery.json');
    const r = await run([file, '--network', 'regtest', '--esplora', es.url, '--ord', ord.url, '--key-file', keyFile, '--fee-rate', '2', '--broadcast', '--recovery-file', rec, '--wait', '2']);
    expect(r.err).toBe('');
    expect(r.out).toContain('Reveal seen by esplora');
    expect(existsSync(rec)).toBe(true);
    expect(es.log.filter((l) => l === 'POST /tx')).toHaveLength(2);
    expect(r.out).not.toContain(hex.encode(KEY));
  });

  test('errors are one clear line and exit 1', async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 5_000n);
    const file = join(dir, 'x.txt');
    writeFileSync(file, 'x');
    const poor = await run([file, '--network', 'regtest', '--esplora', es.url, '--ord', ord.url, '--key-env', 'TEST_KEY', '--fee-rate', '2'], { TEST_KEY: WIF });
    expect(poor.code).toBe(1);
    expect(poor.err).toMatch(/^inscribe: need \d+ sats/);
    const noType = await run([join(dir, 'key'), '--ord', ord.url, '--esplora', es.url]);
    expect(noType.err).toContain('pass --content-type');
    const wrongNet = await run([file, '--network', 'regtest', '--esplora', es.url, '--ord', ord.url, '--key-env', 'TEST_KEY', '--fee-rate', '2', '--destination', signer.address('mainnet')], { TEST_KEY: WIF });
    expect(wrongNet.err).toContain('is not a valid regtest address');
    expect(es.log.some((l) => l.startsWith('POST'))).toBe(false);
  });

  test('watch-only: writes an unsigned PSBT + state, then takes the signed PSBT back', async () => {
    const { chain, es, ord } = await world();
    fund(chain, ord, 100_000n);
    const file = join(dir, 'w.txt');
    writeFileSync(file, 'watch');
    const psbt = join(dir, 'commit.psbt');
    const state = join(dir, 'state.json');
    const common = [file, '--network', 'regtest', '--esplora', es.url, '--ord', ord.url, '--watch-only', ADDR, '--internal-key', hex.encode(signer.tapInternalKey!), '--fee-rate', '2'];
    const first = await run([...common, '--psbt-out', psbt, '--state', state]);
    expect(first.code).toBe(2);
    expect(first.out).toContain('Unsigned commit PSBT written');
    // The "hardware wallet":
    const signedPsbt = join(dir, 'commit.signed.psbt');
    writeFileSync(signedPsbt, base64.encode(await signer.signPsbt(base64.decode(readFileSync(psbt, 'utf8').trim()))));
    const second = await run([...common, '--signed-psbt', signedPsbt, '--state', state, '--broadcast', '--recovery-file', join(dir, 'w-rec.json'), '--wait', '2']);
    expect(second.err).toBe('');
    expect(second.out).toContain('Reveal seen');
    // A corrupted signed PSBT is refused.
    writeFileSync(signedPsbt, 'garbage!!');
    const bad = await run([...common, '--signed-psbt', signedPsbt, '--state', state]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('PSBT');
  });
});
