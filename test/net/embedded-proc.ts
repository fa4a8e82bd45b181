// Test helper process: dev/embedded.ts (relay + ord-compatible server with the library, bootstrap
// config and examples) on one address, for running inside a test namespace. The ord server runs as
// with ord's --decompress: browsers ask for br only from secure origins, and a LAN address on plain
// HTTP is not one (without it the brotli-inscribed library gets 406). Prints one JSON line
// {record, ord, urls, ids} once serving; stops on SIGTERM/SIGINT.
//   bun test/net/embedded-proc.ts <host> <scratch dir>
import { join } from "node:path";
import { EXAMPLES, startEmbedded } from "../../dev/embedded.ts";

const [host, dir] = process.argv.slice(2);
if (!host || !dir) throw new Error("usage: bun test/net/embedded-proc.ts <host> <scratch dir>");
const e = await startEmbedded({
  host,
  relayPort: 0,
  ordPort: 0,
  dataDir: join(dir, "relay"),
  outDir: join(dir, "dist"),
  logLevel: "warn",
  decompress: true,
});
const urls = Object.fromEntries(Object.keys(EXAMPLES).map((n) => [n, e.url(n as keyof typeof EXAMPLES)]));
console.log(JSON.stringify({ record: e.record, ord: e.ord.url, urls, ids: e.ids }));
const stop = async () => (await e.stop(), process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
