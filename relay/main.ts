#!/usr/bin/env bun
// lumamesh-relay: the command-line entry. Parses flags, loads the data directory, runs the socket loop.
import pkg from "../package.json" with { type: "json" };
import { parseConfig, givenFlags, advertisedIp, USAGE, ConfigError } from "./config.ts";
import { readServing, writeServing, advertised, network, isLoopback, SERVING_FILE, type Serving, type Learned } from "./serving.ts";
import { loadState, relayRecord } from "./state.ts";
import { startRelay } from "./socket.ts";
import { createLogger } from "./log.ts";
import { autoRegister, registerCommand, readRegistration, needsRegistration } from "./register.ts";
import { relayAddress } from "./wallet.ts";
import { EsploraBackend, OrdClient } from "../inscribe/index.ts";
import { startPeering, type Peering } from "./peering.ts";
import { discoverRelays, writeCache, type SourceReport } from "./discover.ts";
import { formatStatus } from "./status.ts";
import { encode, T } from "../protocol/frames.ts";
import { parseAddr } from "../protocol/addr.ts";
import { join } from "node:path";

const hostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]` : ip) + ":" + port;

let stopLookup = () => {};

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
  if (c.command === "help") return (process.stdout.write(USAGE), 0);
  if (c.command === "version") return (process.stdout.write(`lumamesh-relay ${pkg.version}\n`), 0);
  // record, address and register describe the relay serving from this data dir (relay/serving.ts).
  const given = givenFlags(argv, process.env);
  const read = c.command === "serve" ? null : readServing(c.dataDir);
  if (read && "problem" in read)
    process.stderr.write(
      `lumamesh-relay: note: ${join(c.dataDir, SERVING_FILE)}: ${read.problem}; using the flags given and the defaults\n`,
    );
  const saved = read && !("problem" in read) ? read : null;
  if (c.command === "address") return (process.stdout.write(relayAddress(c.dataDir, network(c, given, saved)) + "\n"), 0);
  if (c.command === "status") {
    if (!saved) {
      process.stderr.write(`lumamesh-relay: no relay has served from ${c.dataDir} yet (${join(c.dataDir, SERVING_FILE)} is missing)\n`);
      return 1;
    }
    return (process.stdout.write(formatStatus(c.dataDir, saved)), 0);
  }
  const state = await loadState(c.dataDir);
  if (c.command === "record" || c.command === "register") {
    const at = advertised(c, given, saved);
    if (saved && (at.ip !== saved.ip || at.port !== (saved.publicPort ?? saved.port)))
      process.stderr.write(
        `lumamesh-relay: note: the relay serving from ${c.dataDir} advertises ${hostPort(saved.ip, saved.publicPort ?? saved.port)}; this record has ${hostPort(at.ip, at.port)} from the flags given\n`,
      );
    if (c.command === "record") return (process.stdout.write(JSON.stringify(relayRecord(state, at.ip, at.port), null, 2) + "\n"), 0);
    return registerCommand(
      { dataDir: c.dataDir, state, ip: at.ip, port: at.port, config: { ...c.register!, network: network(c, given, saved) } },
      (l) => process.stdout.write(l + "\n"),
    );
  }
  const log = createLogger(c.logLevel, { showAddresses: c.logAddresses });
  if (state.created) log("info", "state.created", { dataDir: c.dataDir, fp: state.cert.fingerprint });
  let peering: Peering | undefined;
  const relay = await startRelay({
    host: c.host,
    port: c.port,
    cert: state.cert,
    log,
    recordFrames: c.recordFrames,
    limits: { idleTimeoutMs: c.idleTimeout * 1000, ...c.limits },
    onRecords: (json, from) => peering?.fromSession(json, from),
    onMapped: (from, mapped) => peering?.pong(from, mapped),
    onSessionClosed: (key) => peering?.sessionClosed(key),
  });
  // Signed once per run, and again when the relay learns a new address: a newer `seq` replaces older
  // records of this relay wherever they travel. A registered relay's record carries its sat, so
  // browsers can check it on-chain; when the inscribed record is still current it is passed on
  // exactly as inscribed.
  const reg = (() => {
    try {
      return readRegistration(c.dataDir);
    } catch {
      return null;
    }
  })();
  // The address: --public-ip as given; a bound address (--host) until relays say otherwise; with a
  // wildcard bind, nothing until other relays say what they see (127.0.0.1 meanwhile, unconfirmed).
  const wildcard = c.host === "0.0.0.0" || c.host === "::";
  let source: Learned["source"] = c.publicIp ? "flag" : wildcard ? "none" : "host";
  let self = relayRecord(state, advertisedIp(c), relay.port, reg?.sat);
  if (reg && needsRegistration(self, reg) === "none") self = reg.record;
  relay.core.records = encode({ t: T.RECORDS, json: JSON.stringify([self]) });
  const started = new Date().toISOString();
  let sources: SourceReport[] = [];
  let confirmed = false;
  // Remembered for `status`, `record`, `address` and `register`; serving goes on if the data dir is read-only.
  let unsaved = false;
  // At most once a second (status changes with every relay reached), the last state always written.
  let savedAt = 0,
    saveLater: ReturnType<typeof setTimeout> | undefined;
  const save = () => {
    const wait = savedAt + 1000 - Date.now();
    if (wait > 0) return void (saveLater ??= setTimeout(() => ((saveLater = undefined), save()), wait));
    savedAt = Date.now();
    writeNow();
  };
  const writeNow = () => {
    const at = parseAddr(self.addr)!;
    const st = peering?.status();
    const serving: Serving = {
      host: c.host,
      port: relay.port,
      ip: at.ip,
      started,
      ...(c.register?.registerEsplora && { network: c.register.registerNetwork }),
      ...(at.port !== relay.port && { publicPort: at.port }),
      learned: {
        pid: process.pid,
        updated: new Date().toISOString(),
        source,
        confirmed,
        confirmedBy: st?.confirmedBy ?? [],
        reports: st?.reports ?? [],
        sources,
        links: st?.links ?? 0,
        vouched: st?.vouched ?? 0,
        known: st?.known ?? 0,
        pending: st?.pending ?? 0,
      },
    };
    try {
      writeServing(c.dataDir, serving);
      unsaved = false;
    } catch (e) {
      if (!unsaved)
        log("warn", "relay.serving-unsaved", {
          dataDir: c.dataDir,
          error: (e as Error).message,
          hint: "status, record, address and register will not know this relay's address and port: pass them the same flags",
        });
      unsaved = true;
    }
  };
  save();
  if (source !== "none" && isLoopback(parseAddr(self.addr)!.ip))
    log("warn", "relay.advertise-loopback", {
      addr: self.addr,
      host: c.host,
      hint: "browsers on other machines cannot reach a loopback address, and Firefox never uses one: bind another address, or pass --public-ip ADDR (the address browsers reach this machine at)",
    });
  log("info", "relay.listening", {
    version: pkg.version,
    host: c.host,
    port: relay.port,
    record: self,
    address: source === "none" ? "unknown until other relays answer" : source,
  });
  // Self-registration in the background: serving never waits for it, unfunded just logs
  // (docs/register.md). An address still to be learned is registered once a relay confirmed it.
  const r = c.register;
  let registering = false;
  const register = () => {
    if (!r?.registerEsplora || registering) return;
    registering = true;
    const at = parseAddr(self.addr)!;
    void autoRegister(
      {
        dataDir: c.dataDir,
        state,
        ip: at.ip,
        port: at.port,
        network: r.registerNetwork,
        backend: new EsploraBackend(r.registerEsplora),
        ord: new OrdClient(r.registerOrd!),
        ...(r.feeRate !== undefined && { feeRate: r.feeRate }),
        postage: BigInt(r.postage),
        allowUnindexedRunes: r.allowUnindexedRunes,
      },
      log,
    ).then((res) => {
      if ((res?.status === "registered" || res?.status === "current") && res.record.addr === self.addr) {
        self = res.record;
        peering?.core.setSelf(self);
      }
    });
  };
  if (source !== "none") register();
  // Other relays: --peer as given, else found the way a page finds them (relay/discover.ts).
  let cacheAt = 0;
  const startGossip = (peers: { addr: string; fp: string }[]) => {
    peering = startPeering({
      relay,
      cert: state.cert,
      log,
      self,
      peers,
      addressKnown: source !== "none",
      fixedAddress: source === "flag",
      resign(addr) {
        const a = parseAddr(addr)!;
        self = relayRecord(state, a.ip, a.port, reg?.sat, Math.max(self.seq + 1, Math.floor(Date.now() / 1000)));
        source = "relays";
        confirmed = false;
        return self;
      },
      onStatus(st, list) {
        if (st.addressKnown && source === "none") source = "relays";
        if (st.confirmed && !confirmed) register();
        confirmed = st.confirmed;
        save();
        // The relays it vouches for, for its next start (a page keeps them in localStorage).
        if (list.length > 1 && Date.now() - cacheAt > 60_000) {
          cacheAt = Date.now();
          try {
            writeCache(c.dataDir, list.slice(1));
          } catch {}
        }
      },
    });
  };
  if (c.peers.length) {
    sources = [{ source: "--peer", relays: c.peers.length }];
    startGossip(c.peers);
  } else {
    startGossip([]);
    const look = async () => {
      const found = await discoverRelays({ ord: c.ord ? [c.ord] : [], dataDir: c.dataDir });
      sources = found.sources;
      log(found.relays.length ? "info" : "warn", "relay.discovered", {
        relays: found.relays.length,
        sources: found.sources,
        ...(!found.relays.length && {
          hint: "no other relay found: this relay serves alone and cannot learn its public address (pass --peer ADDR,FP or --public-ip ADDR)",
        }),
      });
      peering?.addPeers(found.relays);
      save();
      return found.relays.length;
    };
    // Looked up again every 10 minutes while nothing was found (an ord server down for a while).
    const again = async () =>
      (await look()) || peering?.core.status(performance.now()).vouched ? undefined : (lookup = setTimeout(again, 600_000));
    let lookup: ReturnType<typeof setTimeout> | undefined;
    void again();
    stopLookup = () => clearTimeout(lookup);
  }
  const stats =
    c.statsInterval > 0
      ? setInterval(() => {
          const g = peering!.status();
          log("info", "relay.stats", {
            sessions: relay.sessions(),
            ...relay.core.router.stats(),
            counters: relay.core.counters,
            gossip: {
              addr: g.addr,
              source,
              confirmed: g.confirmed,
              links: g.links,
              vouched: g.vouched,
              known: g.known,
              pending: g.pending,
              probing: g.probing,
            },
          });
          save();
        }, c.statsInterval * 1000)
      : undefined;
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log("info", "relay.stopping", { signal: sig });
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  clearInterval(stats);
  clearTimeout(saveLater);
  stopLookup();
  peering!.stop();
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
