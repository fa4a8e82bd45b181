// The embedded default behind `npm start` (and the inscription tests): builds the library, runs a
// relay and a local ord-compatible server that holds the library, its crypto fallback, a bootstrap
// config naming that relay, and the examples, each on the sat it would have on-chain.
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { buildLibrary, DEFAULT_BUILD, SATS, type BuildConfig } from "../build.ts";
import { loadState, relayRecord, type RelayRecord } from "../relay/state.ts";
import { startRelay, type RunningRelay } from "../relay/socket.ts";
import { createLogger, type Level } from "../relay/log.ts";
import { startOrdServer, type OrdServer } from "./ord/server.ts";
import type { InscriptionInput, OrdChainView } from "./ord/store.ts";
import { brotli } from "./ord/manifest.ts";

const ROOT = join(import.meta.dir, "..");

/** Example inscriptions and the sats they sit on (any free sats would do). */
export const EXAMPLES = {
  chat: { file: "examples/chat.html", sat: 25483050765718 },
  cursors: { file: "examples/cursors.html", sat: 25483050765719 },
};

export interface EmbeddedOptions {
  /** Where the ord server listens, and the relay unless `relayHost` is given (default 127.0.0.1). */
  host?: string;
  /** Where the relay listens; the record and the bootstrap config name this address. */
  relayHost?: string;
  relayPort?: number;
  ordPort?: number;
  dataDir?: string;
  /** Where the built library goes (default dist/). */
  outDir?: string;
  logLevel?: Level;
  /** ord without --index-sats: every /r/sat* route is 404. */
  satIndex?: boolean;
  /** Replace the bootstrap inscription's body (tests of bad configs); null = no bootstrap inscription. */
  bootstrapBody?: string | null;
  /** Relays compiled into the library (default none: the bootstrap sat is the source). */
  compiledRelays?: "relay" | BuildConfig["relays"];
  /** Store the library brotli-compressed (Content-Encoding: br), as it would be inscribed. */
  compress?: boolean;
  /** Like ord's --decompress: br content decoded for clients that do not accept br (browsers
   * send Accept-Encoding: br only to secure origins, so plain HTTP on a LAN address needs it). */
  decompress?: boolean;
  /** Extra inscriptions (tests). */
  extra?: InscriptionInput[];
  /** Index this chain too (relays registering themselves on an in-memory regtest chain). */
  chain?: OrdChainView;
}

export interface Embedded {
  relay: RunningRelay;
  state: Awaited<ReturnType<typeof loadState>>;
  dataDir: string;
  record: RelayRecord;
  ord: OrdServer;
  /** id of each example and of the library, bootstrap and fallback inscriptions */
  ids: Record<string, string>;
  url(name: keyof typeof EXAMPLES): string;
  stop(): Promise<void>;
}

export async function startEmbedded(o: EmbeddedOptions = {}): Promise<Embedded> {
  const host = o.host ?? "127.0.0.1";
  const dataDir = o.dataDir ?? join(ROOT, ".lumamesh", "relay");
  mkdirSync(dataDir, { recursive: true });
  const state = await loadState(dataDir);
  const log = createLogger(o.logLevel ?? "warn");
  const relayHost = o.relayHost ?? host;
  const relay = await startRelay({ host: relayHost, port: o.relayPort ?? 0, cert: state.cert, log });
  const record = relayRecord(state, relayHost, relay.port);
  const cfg: BuildConfig = {
    ...DEFAULT_BUILD,
    relays: o.compiledRelays === "relay" ? [{ addr: record.addr, fp: record.fp }] : (o.compiledRelays ?? []),
  };
  const lib = await buildLibrary(o.outDir ?? join(ROOT, "dist"), cfg);
  const bootstrap = JSON.stringify({ lumamesh: 1, relays: [{ addr: record.addr, fp: record.fp, id: record.id }] });
  // As `ord wallet inscribe --compress` would store it: brotli only when smaller.
  const js = (body: Uint8Array): InscriptionInput => {
    const br = o.compress === false ? null : brotli(body, "text");
    return br ? { body: br, content_encoding: "br", content_type: "text/javascript" } : { body, content_type: "text/javascript" };
  };
  const named: [string, InscriptionInput][] = [
    ["lumamesh.js", { ...js(lib["lumamesh.js"]), sat: SATS.lib }],
    ["lumamesh-fallback.js", { ...js(lib["lumamesh-fallback.js"]), sat: SATS.fallback }],
    ...(o.bootstrapBody === null
      ? []
      : [
          ["bootstrap.json", { body: o.bootstrapBody ?? bootstrap, content_type: "application/json", sat: SATS.boot }] as [
            string,
            InscriptionInput,
          ],
        ]),
    ...Object.entries(EXAMPLES).map(
      ([name, e]) =>
        [name, { body: readFileSync(join(ROOT, e.file)), content_type: "text/html;charset=utf-8", sat: e.sat }] as [
          string,
          InscriptionInput,
        ],
    ),
  ];
  let ord: OrdServer;
  try {
    ord = await startOrdServer({
      host,
      port: o.ordPort ?? 0,
      satIndex: o.satIndex ?? true,
      decompress: o.decompress,
      ...(o.chain && { chain: o.chain }),
    });
  } catch (e) {
    await relay.stop(); // e.g. the ord port is taken: leave nothing bound behind
    throw e;
  }
  const ids: Record<string, string> = {};
  for (const [name, i] of named) ids[name] = ord.add(i).id;
  for (const i of o.extra ?? []) ord.add(i);
  return {
    relay,
    record,
    ord,
    ids,
    state,
    dataDir,
    url: (name) => `${ord.url}/inscription/${ids[name]}`,
    async stop() {
      await ord.stop();
      await relay.stop();
    },
  };
}
