#!/usr/bin/env bun
// `npm start`: the whole embedded default on this machine. Builds the library, starts a relay and
// a local ord-compatible server holding the library, a bootstrap config naming that relay, the
// examples and (--serve DIR) your own files, and prints what to open. Runtime glue only: options,
// addresses and the banner are dev/start.ts, the folder dev/ord/folder.ts. `npm start -- --help`.
import { SATS } from "../build.ts";
import { machineRelayAddress } from "../dev/address.ts";
import { startEmbedded, EXAMPLES, type Embedded } from "../dev/embedded.ts";
import { readFolder, type Folder } from "../dev/ord/folder.ts";
import { listenAddresses, parseStartArgs, START_USAGE, startBanner, type ServedFile } from "../dev/start.ts";

let opts;
let folder: Folder | null = null;
try {
  opts = parseStartArgs(process.argv.slice(2));
  if (opts !== "help" && opts.serve !== null) folder = await readFolder(opts.serve);
} catch (e) {
  console.error(`npm start: ${(e as Error).message}\n\n${START_USAGE}`);
  process.exit(2);
}
if (opts === "help") {
  console.log(START_USAGE);
  process.exit(0);
}
const listen = listenAddresses(opts.host, machineRelayAddress());
const tryStart = (relayPort: number, ordPort: number) =>
  startEmbedded({ host: listen.ordHost, relayHost: listen.relayHost, relayPort, ordPort, logLevel: "info", decompress: listen.decompress });
let e: Embedded;
try {
  e = await tryStart(opts.relayPort, opts.ordPort);
} catch (err: any) {
  if (err?.code !== "EADDRINUSE") throw err;
  console.log(`(a default port is taken; using free ones)`);
  e = await tryStart(0, 0);
}
let served: ServedFile[] = [];
try {
  served = (folder?.entries ?? []).map((f) => {
    const i = e.ord.add(f.input);
    return { file: f.file, id: i.id, sat: i.sat };
  });
} catch (err) {
  console.error(`npm start: --serve ${opts.serve}: ${(err as Error).message}`);
  await e.stop();
  process.exit(2);
}
console.log(
  startBanner({
    relayAddr: e.record.addr,
    relayWhy: listen.relayWhy,
    ordUrl: e.ord.url,
    sats: { lib: SATS.lib, boot: SATS.boot },
    examples: Object.keys(EXAMPLES).map((n) => [n, e.url(n as keyof typeof EXAMPLES)]),
    served: folder && { dir: opts.serve!, from: folder.from, files: served, skipped: folder.skipped },
    record: e.record,
  }),
);
await new Promise<void>((r) => {
  process.once("SIGINT", r);
  process.once("SIGTERM", r);
});
await e.stop();
process.exit(0);
