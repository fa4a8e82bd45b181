#!/usr/bin/env bun
// lumamesh-relay: the command-line entry. Parses flags, loads the data directory, runs the socket loop.
import pkg from "../package.json" with { type: "json" };
import { parseConfig, givenFlags, advertisedIp, USAGE, ConfigError } from "./config.ts";
import { readServing, writeServing, advertised, network, isLoopback, SERVING_FILE, type Serving } from "./serving.ts";
import { loadState, relayRecord } from "./state.ts";
import { startRelay } from "./socket.ts";
import { createLogger } from "./log.ts";
import { autoRegister, registerCommand, readRegistration, needsRegistration } from "./register.ts";
import { relayAddress } from "./wallet.ts";
import { EsploraBackend, OrdClient } from "../inscribe/index.ts";
import { startGossip } from "./gossip.ts";
import { encode, T } from "../protocol/frames.ts";
import { join } from "node:path";

const hostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]` : ip) + ":" + port;

async function main(argv: string[]): Promise<number> {
  let c;
  try {
    c = parseConfig(argv, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`lumamesh-relay: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (c.command == "help") return process.stdout.write(USAGE), 0;
  if (c.command == "version") return process.stdout.write(`lumamesh-relay ${pkg.version}\n`), 0;
  // record, address and register describe the relay serving from this data dir (relay/serving.ts).
  const given = givenFlags(argv, process.env);
  const read = c.command == "serve" ? null : readServing(c.dataDir);
  if (read && "problem" in read) process.stderr.write(`lumamesh-relay: note: ${join(c.dataDir, SERVING_FILE)}: ${read.problem}; using the flags given and the defaults\n`);
  const saved = read && !("problem" in read) ? read : null;
  if (c.command == "address") return process.stdout.write(relayAddress(c.dataDir, network(c, given, saved)) + "\n"), 0;
  const state = await loadState(c.dataDir);
  if (c.command == "record" || c.command == "register") {
    const at = advertised(c, given, saved);
    if (saved && (at.ip != saved.ip || at.port != saved.port))
      process.stderr.write(`lumamesh-relay: note: the relay serving from ${c.dataDir} advertises ${hostPort(saved.ip, saved.port)}; this record has ${hostPort(at.ip, at.port)} from the flags given\n`);
    if (c.command == "record") return process.stdout.write(JSON.stringify(relayRecord(state, at.ip, at.port), null, 2) + "\n"), 0;
    return registerCommand({ dataDir: c.dataDir, state, ip: at.ip, port: at.port, config: { ...c.register!, network: network(c, given, saved) } }, (l) => process.stdout.write(l + "\n"));
  }
  const log = createLogger(c.logLevel, { showAddresses: c.logAddresses });
  if (state.created) log("info", "state.created", { dataDir: c.dataDir, fp: state.cert.fingerprint });
  let gossip: ReturnType<typeof startGossip> | undefined;
  const relay = await startRelay({
    host: c.host, port: c.port, cert: state.cert, log, recordFrames: c.recordFrames, limits: { idleTimeoutMs: c.idleTimeout * 1000, ...c.limits },
    onRecords: (json, from) => gossip?.fromSession(json, from),
  });
  // Signed once per run: a newer `seq` replaces older records of this relay wherever they travel.
  // A registered relay's record carries its sat, so browsers can check it on-chain; when the
  // inscribed record is still current it is passed on exactly as inscribed.
  const reg = (() => {
    try {
      return readRegistration(c.dataDir);
    } catch {
      return null;
    }
  })();
  let self = relayRecord(state, advertisedIp(c), relay.port, reg?.sat);
  if (reg && needsRegistration(self, reg) == "none") self = reg.record;
  const setRecords = (json: string) => (relay.core.records = encode({ t: T.RECORDS, json }));
  setRecords(JSON.stringify([self]));
  gossip = startGossip({ self: () => self, cert: state.cert, log, peers: c.peers, onChange: (l) => setRecords(JSON.stringify(l)) });
  // Remembered for `record`, `address` and `register`; serving goes on if the data dir is read-only.
  const serving: Serving = { host: c.host, port: relay.port, ip: advertisedIp(c), started: new Date().toISOString(), ...(c.register?.registerEsplora && { network: c.register.registerNetwork }) };
  try {
    writeServing(c.dataDir, serving);
  } catch (e) {
    log("warn", "relay.serving-unsaved", { dataDir: c.dataDir, error: (e as Error).message, hint: "record, address and register will not know this relay's address and port: pass them the same flags" });
  }
  if (isLoopback(serving.ip))
    log("warn", "relay.advertise-loopback", {
      addr: self.addr, host: c.host,
      hint: "browsers on other machines cannot reach a loopback address, and Firefox never uses one: pass --public-ip ADDR (the address browsers reach this machine at)",
    });
  log("info", "relay.listening", { version: pkg.version, host: c.host, port: relay.port, record: self });
  // Self-registration in the background: serving never waits for it, unfunded just logs (docs/register.md).
  const r = c.register;
  if (r?.registerEsplora)
    void autoRegister({ dataDir: c.dataDir, state, ip: advertisedIp(c), port: relay.port, network: r.registerNetwork, backend: new EsploraBackend(r.registerEsplora), ord: new OrdClient(r.registerOrd!), ...(r.feeRate !== undefined && { feeRate: r.feeRate }), postage: BigInt(r.postage), allowUnindexedRunes: r.allowUnindexedRunes }, log).then((res) => {
      if (res?.status == "registered" || res?.status == "current") {
        self = res.record;
        setRecords(JSON.stringify(gossip!.list()));
      }
    });
  const stats = c.statsInterval > 0 ? setInterval(() => log("info", "relay.stats", { sessions: relay.sessions(), ...relay.core.router.stats(), counters: relay.core.counters }), c.statsInterval * 1000) : undefined;
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log("info", "relay.stopping", { signal: sig });
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  clearInterval(stats);
  gossip.stop();
  await relay.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`lumamesh-relay: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
