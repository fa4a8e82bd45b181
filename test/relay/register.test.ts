// Self-registration end to end over one in-memory chain: the relay's own wallet is funded on a
// MemoryChain, registerRelay plans, signs and broadcasts through the Esplora stand-in, and the dev
// ord server (wired to the same chain) indexes the mined reveal, as a browser would read it through
// /r/sat/<sat>/at/-1/content. Then a port change reinscribes the same sat, and the CLI is driven as
// an operator would, with the bitcoin.key checked to appear in no output.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as btc from "@scure/btc-signer";
import { hex } from "@scure/base";
import { EsploraBackend, OrdClient } from "../../inscribe/index.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";
import { startEsplora, type EsploraStandIn } from "../../inscribe/testing/esplora-server.ts";
import { startOrdServer, type OrdServer } from "../../dev/ord-server.ts";
import { loadState, type RelayState } from "../../relay/state.ts";
import { loadBitcoinKey } from "../../relay/wallet.ts";
import { checkRecord, type RelayRecord } from "../../relay/record.ts";
import { parseConfig, ConfigError, REGISTER_FLAGS, USAGE } from "../../relay/config.ts";
import { needsRegistration, readRegistration, registerRelay, isPublicIp, type Clock, type RegisterResult } from "../../relay/register.ts";

const MAIN = join(import.meta.dir, "../../relay/main.ts");
const IP = "127.0.0.1";

let chain: MemoryChain;
let es: EsploraStandIn;
let ord: OrdServer;
const posts = () => es.log.filter((l) => l.startsWith("POST /tx")).length;

beforeAll(async () => {
  chain = new MemoryChain();
  es = startEsplora({ chain });
  ord = await startOrdServer({ chain, runeIndex: true });
});
afterAll(async () => {
  es.stop();
  await ord.stop();
});

/** A clock that never really sleeps: each sleep advances time and can run a hook (funds arriving). */
function fakeClock(onSleep?: (n: number) => void): Clock & { sleeps: number } {
  let t = 1_750_000_000_000;
  const c = {
    sleeps: 0,
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
      c.sleeps++;
      onSleep?.(c.sleeps);
    },
  };
  return c;
}

const newRelay = async () => {
  const dir = mkdtempSync(join(tmpdir(), "lumamesh-register-"));
  const state = await loadState(dir);
  return { dir, state, signer: loadBitcoinKey(dir).signer };
};
const opts = (dir: string, state: RelayState, port: number, extra: object = {}) => ({
  dataDir: dir,
  state,
  ip: IP,
  port,
  network: "regtest" as const,
  backend: new EsploraBackend(es.url),
  ord: new OrdClient(ord.url),
  feeRate: 2,
  clock: fakeClock(),
  ...extra,
});
const get = (path: string) => fetch(ord.url + path);
/** `lumamesh-relay …` as a separate process (async: the stand-ins answer from this one). */
async function runRelay(...args: string[]) {
  const p = Bun.spawn([process.execPath, MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LUMAMESH_DATA_DIR: "" },
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

describe("needsRegistration (sans-IO)", () => {
  const base: RelayRecord = { lumamesh: 1, addr: "203.0.113.5:4884", fp: "AB:CD", id: "aa".repeat(32), seq: 1, sig: "x", sat: 5 };
  test("no registration → fresh; same addr/fp/id → none (seq and sig do not matter); any change → reinscribe", () => {
    const rec: RelayRecord = base;
    expect(needsRegistration(rec, null)).toBe("fresh");
    expect(needsRegistration({ ...rec, seq: 9, sig: "y" }, { record: rec })).toBe("none");
    expect(needsRegistration({ ...rec, addr: "203.0.113.5:4885" }, { record: rec })).toBe("reinscribe");
    expect(needsRegistration({ ...rec, addr: "203.0.113.6:4884" }, { record: rec })).toBe("reinscribe");
    expect(needsRegistration({ ...rec, fp: "AB:CE" }, { record: rec })).toBe("reinscribe");
    expect(needsRegistration({ ...rec, id: "bb".repeat(32) }, { record: rec })).toBe("reinscribe");
  });
  test("isPublicIp refuses loopback, private and link-local ranges", () => {
    for (const ip of [
      "127.0.0.1",
      "10.1.2.3",
      "192.168.1.1",
      "172.16.0.1",
      "100.64.0.1",
      "169.254.1.1",
      "::1",
      "fd00::1",
      "fe80::1",
      "0.0.0.0",
      "nonsense",
    ])
      expect(isPublicIp(ip)).toBe(false);
    for (const ip of ["203.0.113.5", "8.8.8.8", "172.32.0.1", "2001:db8::1"]) expect(isPublicIp(ip)).toBe(true);
  });
});

describe("registerRelay against MemoryChain + Esplora stand-in + dev ord server", () => {
  let relay: Awaited<ReturnType<typeof newRelay>>;
  const SAT = 4_000_000_000;
  let first: Extract<RegisterResult, { status: "registered" }>;

  beforeAll(async () => {
    relay = await newRelay();
  });

  test("(1) unfunded, no wait: shows the funding address and the cost, broadcasts nothing", async () => {
    const before = posts();
    const r = await registerRelay(opts(relay.dir, relay.state, 4884));
    expect(r.status).toBe("unfunded");
    if (r.status !== "unfunded") return;
    expect(r.action).toBe("fresh");
    expect(r.address).toBe(relay.signer.address("regtest"));
    expect(r.address).toStartWith("bcrt1p");
    expect(r.have).toBe(0);
    // ~300 bytes of JSON; one P2TR input, commit + change outputs; postage 546.
    expect(r.cost.bodyBytes).toBeGreaterThan(250);
    expect(r.cost.bodyBytes).toBeLessThan(350);
    expect(r.cost.postage).toBe(546);
    expect(r.cost.commitVsize).toBe(154);
    expect(r.cost.revealVsize).toBeGreaterThan(150);
    expect(r.cost.commitFee).toBe(r.cost.commitVsize * 2);
    expect(r.cost.revealFee).toBe(r.cost.revealVsize * 2);
    expect(r.cost.need).toBe(r.cost.fees + 546);
    expect(posts()).toBe(before);
    expect(existsSync(join(relay.dir, "registration.json"))).toBe(false);
    const key = statSync(join(relay.dir, "bitcoin.key"));
    expect(key.mode & 0o777).toBe(0o600);
  });

  test("waiting: polls with progress until funds are mined, then a dry run signs but sends nothing", async () => {
    const events: string[] = [];
    const clock = fakeClock((n) => {
      if (n === 2) chain.fund(relay.signer.script(), 50_000n, { sat: SAT, confirmed: false }); // seen, not indexed
      if (n === 3) chain.mine();
    });
    const before = posts();
    const r = await registerRelay(
      opts(relay.dir, relay.state, 4884, {
        clock,
        wait: true,
        timeoutMs: 3_600_000,
        pollMs: 30_000,
        progress: (e: string, f: Record<string, unknown>) => events.push(`${e} ${JSON.stringify(f.unconfirmed ?? "")}`),
      }),
    );
    expect(r.status).toBe("planned");
    expect(clock.sleeps).toBe(3);
    expect(events.filter((e) => e.startsWith("register.waiting"))).toEqual([
      "register.waiting 0",
      "register.waiting 0",
      "register.waiting 50000",
    ]);
    expect(events.at(-1)).toStartWith("register.funded");
    if (r.status === "planned") expect(r.sat).toBe(SAT);
    expect(posts()).toBe(before);
  });

  test("(2) funded: commit and reveal signed and submitted; once mined the record is on its sat and verifies", async () => {
    const before = posts();
    const r = await registerRelay(opts(relay.dir, relay.state, 4884, { broadcast: true }));
    expect(r.status).toBe("registered");
    if (r.status !== "registered") throw new Error(r.status);
    first = r;
    expect(posts() - before).toBe(2);
    expect(r.sat).toBe(SAT);
    expect(r.record.sat).toBe(SAT);
    // The recovery file is in the data dir, private; registration.json names the sat.
    expect(statSync(r.recoveryFile).mode & 0o777).toBe(0o600);
    expect(r.recoveryFile.startsWith(relay.dir)).toBe(true);
    const reg = readRegistration(relay.dir)!;
    expect(reg).toMatchObject({
      network: "regtest",
      sat: SAT,
      inscriptionId: r.inscriptionId,
      outpoint: `${r.revealTxid}:0`,
      record: r.record,
    });
    // ord reads blocks: nothing until mined.
    expect((await get(`/r/sat/${SAT}/at/-1/content`)).status).toBe(404);
    chain.mine();
    const res = await get(`/r/sat/${SAT}/at/-1/content`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const rec = checkRecord(await res.json());
    if (typeof rec === "string") throw new Error(rec);
    expect(rec.addr).toBe(`${IP}:4884`);
    expect(rec.fp).toBe(relay.state.cert.fingerprint);
    expect(rec.id).toBe(relay.state.id);
    expect(rec.sat).toBe(SAT);
    const info = await new OrdClient(ord.url).inscription(r.inscriptionId);
    expect(info.sat).toBe(SAT);
    expect(info.value).toBe(546);
    expect(info.address).toBe(r.address);
    // Measured sizes and fees at 2 sat/vB (reported in docs/register.md).
    console.log(
      `fresh registration: body ${r.cost.bodyBytes} B, commit ${r.cost.commitVsize} vB / ${r.cost.commitFee} sats, reveal ${r.cost.revealVsize} vB / ${r.cost.revealFee} sats, postage ${r.cost.postage}`,
    );
  });

  test("nothing changed → 'current', nothing sent", async () => {
    const before = posts();
    const r = await registerRelay(opts(relay.dir, relay.state, 4884, { broadcast: true }));
    expect(r.status).toBe("current");
    expect(posts()).toBe(before);
  });

  test("(3) the port changes → the SAME sat is reinscribed; /at/-1/content shows the new port, /r/sat lists 2 ids", async () => {
    const r = await registerRelay(opts(relay.dir, relay.state, 5000, { broadcast: true }));
    expect(r.status).toBe("registered");
    if (r.status !== "registered") throw new Error(r.status);
    expect(r.action).toBe("reinscribe");
    expect(r.sat).toBe(SAT);
    expect(r.record.seq).toBeGreaterThan(first.record.seq);
    // The UTXO holding the sat went first into the commit.
    const commit = btc.Transaction.fromRaw(hex.decode(chain.txs.get(r.commitTxid)!.hex), { allowUnknownOutputs: true });
    expect(hex.encode(commit.getInput(0).txid!)).toBe(first.revealTxid);
    // Before mining, a second attempt waits for the reveal rather than double-spending.
    const again = await registerRelay(opts(relay.dir, relay.state, 5001, { broadcast: true }));
    expect(again.status).toBe("pending");
    chain.mine();
    const rec = checkRecord(await (await get(`/r/sat/${SAT}/at/-1/content`)).json());
    if (typeof rec === "string") throw new Error(rec);
    expect(rec.addr).toBe(`${IP}:5000`);
    expect(rec.sat).toBe(SAT);
    expect(await (await get(`/r/sat/${SAT}`)).json()).toEqual({ ids: [first.inscriptionId, r.inscriptionId], more: false, page: 0 });
    expect(readRegistration(relay.dir)!.inscriptionId).toBe(r.inscriptionId);
    console.log(
      `reinscription: commit ${r.cost.commitVsize} vB / ${r.cost.commitFee} sats, reveal ${r.cost.revealVsize} vB / ${r.cost.revealFee} sats, fees ${r.cost.fees}`,
    );
  });

  test("(4) insufficient funds: a clear shortfall, nothing broadcast", async () => {
    const poor = await newRelay();
    const est = await registerRelay(opts(poor.dir, poor.state, 4884));
    if (est.status !== "unfunded") throw new Error(est.status);
    // `need` is for one funding UTXO with change, an upper bound; 300 sats short is short for sure.
    chain.fund(poor.signer.script(), BigInt(est.cost.need - 300), { sat: 6_000_000_000 });
    chain.mine();
    const before = posts();
    const r = await registerRelay(opts(poor.dir, poor.state, 4884, { broadcast: true }));
    expect(r.status).toBe("unfunded");
    if (r.status === "unfunded") {
      expect(r.have).toBe(est.cost.need - 300);
      expect(r.cost.need).toBe(est.cost.need);
    }
    // Waiting runs into its timeout the same way.
    const clock = fakeClock();
    const w = await registerRelay(
      opts(poor.dir, poor.state, 4884, { broadcast: true, wait: true, timeoutMs: 90_000, pollMs: 30_000, clock }),
    );
    expect(w.status).toBe("unfunded");
    expect(clock.sleeps).toBe(3);
    expect(posts()).toBe(before);
    expect(readdirSync(poor.dir).filter((f) => f.startsWith("register-recovery") || f === "registration.json")).toEqual([]);
    // Topped up (a second input costs ~58 vB more), it goes through.
    chain.fund(poor.signer.script(), 1_000n, { sat: 6_100_000_000 });
    chain.mine();
    const ok = await registerRelay(opts(poor.dir, poor.state, 4884, { broadcast: true }));
    expect(ok.status).toBe("registered");
  });

  test("runes unknown → refuse: an ord without --index-runes (runes: null) stops registration unless allowUnindexedRunes (before: spent unchecked)", async () => {
    const noRunes = await startOrdServer({ chain }); // the dev server's default, like ord without --index-runes
    try {
      const r = await newRelay();
      chain.fund(r.signer.script(), 30_000n, { sat: 9_000_000_000 });
      chain.mine();
      const before = posts();
      const err = await registerRelay({ ...opts(r.dir, r.state, 4884, { broadcast: true }), ord: new OrdClient(noRunes.url) }).catch(
        (e) => e,
      );
      expect(err.code).toBe("unchecked");
      expect(err.message).toContain(`ord server ${noRunes.url} does not index runes`);
      expect(posts()).toBe(before);
      expect(existsSync(join(r.dir, "registration.json"))).toBe(false);
      const ok = await registerRelay({ ...opts(r.dir, r.state, 4884), ord: new OrdClient(noRunes.url), allowUnindexedRunes: true });
      expect(ok.status).toBe("planned");
      // The CLI: the same refusal as one line and exit 1; the flag lets it through.
      const cli = (...extra: string[]) =>
        runRelay(
          "register",
          "--data-dir",
          r.dir,
          "--port",
          "4884",
          "--no-wait",
          "--esplora",
          es.url,
          "--ord",
          noRunes.url,
          "--network",
          "regtest",
          "--fee-rate",
          "2",
          ...extra,
        );
      const refused = await cli();
      expect(refused.code).toBe(1);
      expect(refused.err).toContain("does not index runes");
      expect(refused.err).toContain("--allow-unindexed-runes");
      const allowed = await cli("--allow-unindexed-runes");
      expect(allowed.code).toBe(0);
      expect(allowed.out).toMatch(/Dry run: would inscribe [0-9a-f]{64}i0 on sat 9000000000/);
      expect(posts()).toBe(before);
    } finally {
      await noRunes.stop();
    }
  });

  test("the backend's chain is checked against the network before anything else is asked", async () => {
    const r = await newRelay();
    const err = await registerRelay({ ...opts(r.dir, r.state, 4884), network: "signet", ip: "203.0.113.5" }).catch((e) => e);
    expect(err.code).toBe("wrong-network");
    expect(err.message).toBe(
      `inscribe: --network signet, but the esplora backend at ${es.url} is on regtest (its block 0 is 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206)`,
    );
  });

  test("mainnet refuses to publish a loopback address", async () => {
    await expect(registerRelay({ ...opts(relay.dir, relay.state, 4884), network: "mainnet" })).rejects.toThrow(
      /registration.json is for regtest/,
    );
    const fresh = await newRelay();
    await expect(registerRelay({ ...opts(fresh.dir, fresh.state, 4884), network: "mainnet" })).rejects.toThrow(/not a public address/);
  });
});

describe("(5) the CLI as an operator runs it", () => {
  const TEXT = new TextDecoder();
  const outputs: string[] = [];
  async function run(...args: string[]) {
    const r = await runRelay(...args);
    outputs.push(r.out, r.err);
    return r;
  }
  const backendArgs = () => ["--esplora", es.url, "--ord", ord.url, "--network", "regtest", "--fee-rate", "2"];
  /** The key in every spelling it could leak in: hex, and WIF for each network. */
  function secrets(dir: string): string[] {
    const h = readFileSync(join(dir, "bitcoin.key"), "utf8").trim();
    const k = hex.decode(h);
    return [h, h.toUpperCase(), btc.WIF(btc.NETWORK).encode(k), btc.WIF(btc.TEST_NETWORK).encode(k)];
  }

  test("address: created once (0600), stable, per network", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lumamesh-register-cli-"));
    const a = await run("address", "--data-dir", dir, "--network", "regtest");
    expect(a.code).toBe(0);
    expect(a.out).toBe(loadBitcoinKey(dir).signer.address("regtest") + "\n");
    expect(a.out).toStartWith("bcrt1p");
    expect(statSync(join(dir, "bitcoin.key")).mode & 0o777).toBe(0o600);
    expect((await run("address", "--data-dir", dir, "--network", "regtest")).out).toBe(a.out);
    expect((await run("address", "--data-dir", dir)).out).toStartWith("bc1p");
    expect((await run("address", "--data-dir", dir, "--network", "testnet4")).out).toStartWith("tb1p");
    expect((await run("address", "--data-dir", dir, "--network", "moon")).code).toBe(2);
    for (const s of secrets(dir)) for (const o of outputs) expect(o).not.toContain(s);
  });

  test("register: --no-wait shows address and cost; dry run when funded; --broadcast sends; underfunded --broadcast fails; the key never appears", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lumamesh-register-cli-"));
    const before = posts();
    const a = await run("register", "--data-dir", dir, "--port", "4999", "--no-wait", ...backendArgs());
    expect(a.code).toBe(0);
    const addr = loadBitcoinKey(dir).signer.address("regtest");
    expect(a.out).toContain(`Funding address: ${addr}`);
    expect(a.out).toMatch(
      /Cost at 2 sat\/vB: commit 154 vB \(308 sats\) \+ reveal \d+ vB \([\d,]+ sats\) = [\d,]+ sats in fees; 546 sats of postage/,
    );
    expect(a.out).toContain("Not funded yet");
    expect(a.out).toContain("Relay record: 127.0.0.1:4999");
    expect(posts()).toBe(before);

    // Underfunded and asked to broadcast: exit 3, nothing sent.
    chain.fund(loadBitcoinKey(dir).signer.script(), 600n, { sat: 7_000_000_000 });
    chain.mine();
    const b = await run("register", "--data-dir", dir, "--port", "4999", "--no-wait", "--broadcast", ...backendArgs());
    expect(b.code).toBe(3);
    expect(b.out).toContain(`Nothing broadcast: not enough funds at ${addr}: have 600 sats spendable`);
    expect(posts()).toBe(before);

    chain.fund(loadBitcoinKey(dir).signer.script(), 20_000n, { sat: 7_100_000_000 });
    chain.mine();
    const c = await run("register", "--data-dir", dir, "--port", "4999", "--no-wait", ...backendArgs());
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/Dry run: would inscribe [0-9a-f]{64}i0 on sat 7100000000/); // the largest UTXO goes first
    expect(posts()).toBe(before);

    const d = await run("register", "--data-dir", dir, "--port", "4999", "--no-wait", "--broadcast", ...backendArgs());
    expect(d.err).toBe("");
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/Registered: inscription [0-9a-f]{64}i0 on sat 7100000000/);
    expect(posts()).toBe(before + 2);
    chain.mine();
    const rec = checkRecord(await (await get("/r/sat/7100000000/at/-1/content")).json());
    expect(typeof rec === "string" ? rec : rec.addr).toBe("127.0.0.1:4999");

    const e = await run("register", "--data-dir", dir, "--port", "4999", "--no-wait", "--broadcast", ...backendArgs());
    expect(e.out).toContain("Registered and current");

    // Neither the output nor any file beside the key holds it.
    const files = readdirSync(dir)
      .filter((f) => f !== "bitcoin.key")
      .map((f) => readFileSync(join(dir, f), "utf8"));
    expect(files.length).toBeGreaterThan(3);
    for (const s of secrets(dir)) for (const o of [...outputs, ...files]) expect(o).not.toContain(s);
  });

  test("serve with --register-*: unfunded logs relay.unregistered and serves; funded registers in the background", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lumamesh-register-serve-"));
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const serve = async (until: string) => {
      const p = Bun.spawn(
        [
          process.execPath,
          MAIN,
          "--data-dir",
          dir,
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--stats-interval",
          "0",
          "--ord",
          "none",
          "--register-esplora",
          es.url,
          "--register-ord",
          ord.url,
          "--register-network",
          "regtest",
          "--fee-rate",
          "2",
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      const lines: string[] = [];
      let buf = "";
      const deadline = Date.now() + 15_000;
      const reader = p.stdout.getReader();
      while (!lines.some((l) => l.includes(until)) && Date.now() < deadline) {
        const { value, done } = await Promise.race([reader.read(), Bun.sleep(15_000).then(() => ({ value: undefined, done: true }))]);
        if (done) break;
        buf += TEXT.decode(value);
        const parts = buf.split("\n");
        buf = parts.pop()!;
        lines.push(...parts);
      }
      p.kill("SIGTERM");
      await p.exited;
      outputs.push(lines.join("\n"), await new Response(p.stderr).text());
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const a = await serve("relay.unregistered");
    const events = a.map((l) => l.event);
    expect(events).toContain("relay.listening");
    expect(events.indexOf("relay.listening")).toBeLessThan(events.indexOf("relay.unregistered"));
    const un = a.find((l) => l.event === "relay.unregistered")!;
    expect(un).toMatchObject({ level: "warn", address: loadBitcoinKey(dir).signer.address("regtest"), have: 0, action: "fresh" });
    expect(un.need).toBeGreaterThan(1000);

    chain.fund(loadBitcoinKey(dir).signer.script(), 30_000n, { sat: 8_000_000_000 });
    chain.mine();
    const before = posts();
    const b = await serve("relay.registered");
    expect(b.find((l) => l.event === "relay.registered")).toMatchObject({ sat: 8_000_000_000, action: "fresh" });
    expect(posts()).toBe(before + 2);
    chain.mine();
    const rec = checkRecord(await (await get("/r/sat/8000000000/at/-1/content")).json());
    expect(typeof rec === "string" ? rec : rec.addr).toBe(`127.0.0.1:${port}`);
    for (const s of secrets(dir)) for (const o of outputs) expect(o).not.toContain(s);
  });
});

describe("registration flags (relay/config.ts)", () => {
  const HOME = { HOME: "/h" };
  const fails = (argv: string[]) => {
    try {
      parseConfig(argv, HOME);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    return "did not throw";
  };
  test("defaults, env, validation; a plain relay's config has no register section", () => {
    expect(parseConfig([], HOME).register).toBeUndefined();
    expect(parseConfig(["address"], HOME).register).toMatchObject({
      network: "mainnet",
      postage: 546,
      timeout: 3600,
      noWait: false,
      broadcast: false,
      feeRate: undefined,
      allowUnindexedRunes: false,
    });
    expect(
      parseConfig(
        [
          "register",
          "--esplora",
          "http://127.0.0.1:1",
          "--ord",
          "http://127.0.0.1:2",
          "--network=signet",
          "--fee-rate",
          "1.5",
          "--postage",
          "10000",
          "--no-wait",
          "--broadcast",
          "--timeout",
          "0",
        ],
        HOME,
      ).register,
    ).toMatchObject({
      network: "signet",
      esplora: "http://127.0.0.1:1",
      ord: "http://127.0.0.1:2",
      feeRate: 1.5,
      postage: 10000,
      noWait: true,
      broadcast: true,
      timeout: 0,
    });
    expect(
      parseConfig([], {
        ...HOME,
        LUMAMESH_REGISTER_ESPLORA: "http://e",
        LUMAMESH_REGISTER_ORD: "http://o",
        LUMAMESH_REGISTER_NETWORK: "regtest",
      }).register,
    ).toMatchObject({ registerEsplora: "http://e", registerOrd: "http://o", registerNetwork: "regtest" });
    // Runes unchecked only when the operator says so, on the command line or in the environment.
    expect(
      parseConfig(["register", "--esplora", "http://e", "--ord", "http://o", "--allow-unindexed-runes"], HOME).register!
        .allowUnindexedRunes,
    ).toBe(true);
    expect(
      parseConfig([], {
        ...HOME,
        LUMAMESH_REGISTER_ESPLORA: "http://e",
        LUMAMESH_REGISTER_ORD: "http://o",
        LUMAMESH_ALLOW_UNINDEXED_RUNES: "1",
      }).register!.allowUnindexedRunes,
    ).toBe(true);
    expect(fails(["register", "--ord", "http://o"])).toBe("register needs one backend: --esplora URL or --core-rpc URL");
    expect(fails(["register", "--esplora", "http://e", "--core-rpc", "http://c", "--ord", "http://o"])).toBe(
      "register needs one backend: --esplora URL or --core-rpc URL",
    );
    expect(fails(["register", "--esplora", "http://e"])).toContain("register needs --ord URL");
    expect(fails(["address", "--network", "testnet3"])).toContain("--network must be one of mainnet, testnet4, signet, regtest");
    expect(fails(["address", "--postage", "545"])).toContain("--postage");
    expect(fails(["address", "--postage", "10001"])).toContain("--postage must be an integer 546..10000");
    expect(fails(["address", "--fee-rate", "0"])).toContain("--fee-rate must be > 0");
    expect(fails(["--register-esplora", "http://e"])).toBe("--register-esplora and --register-ord go together");
    for (const f of REGISTER_FLAGS) expect(USAGE).toContain(`[${f.env}]`);
  });
});
