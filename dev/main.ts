// CLI for the local ord-compatible server: `bun run dev [folder] [--port N] [--host H]
// [--no-sat-index] [--csp-origin O] [--decompress]`. Runtime glue only; the server is dev/ord/.

import { existsSync } from "node:fs";
import { startOrdServer, type OrdServerOptions } from "./ord/server.ts";

const USAGE = `Usage: bun run dev [folder] [options]

Serves the inscriptions listed in <folder>/manifest.json (default: the current folder, if it has one) the way
\`ord server\` does, so an inscription can be developed against /content, /r/... recursion
and the sandboxed /preview iframe before it is inscribed. See docs/ord-server.md.

Options:
  --port N          port to listen on (default 8080; 0 = any free port)
  --host H          address to listen on (default 127.0.0.1)
  --no-sat-index    behave like ord without --index-sats: every /r/sat* route is 404
  --csp-origin O    like ord's --csp-origin: one CSP header naming O on /content
  --decompress      like ord's --decompress: serve br content decoded to clients without br
  --help            this text
`;

export function parseArgs(argv: string[]): OrdServerOptions | "help" {
  const opts: OrdServerOptions = { port: 8080 };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") return "help";
    else if (a === "--port") {
      const p = Number(value(i++, a));
      if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`--port: not a port: ${argv[i]}`);
      opts.port = p;
    } else if (a === "--host") opts.host = value(i++, a);
    else if (a === "--no-sat-index") opts.satIndex = false;
    else if (a === "--csp-origin") opts.cspOrigin = value(i++, a);
    else if (a === "--decompress") opts.decompress = true;
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else if (opts.dir === undefined) opts.dir = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  // Without a folder, the current one is served if it has a manifest; else the server starts empty.
  if (opts.dir === undefined && existsSync("manifest.json")) opts.dir = ".";
  return opts;
}

async function main(): Promise<void> {
  let opts: OrdServerOptions | "help";
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`dev: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts === "help") {
    console.log(USAGE);
    return;
  }
  let server;
  try {
    server = await startOrdServer(opts);
  } catch (e) {
    console.error(`dev: ${(e as Error).message}`);
    process.exit(1);
  }
  console.log(`ord dev server on ${server.url}  (sat index ${opts.satIndex === false ? "off" : "on"})`);
  for (const i of server.store.list) {
    const enc = i.content_encoding ? ` ${i.content_encoding}` : "";
    const size = i.body ? `${i.body.length} B` : "no body";
    console.log(`  #${i.number}  ${server.url}/inscription/${i.id}  ${i.content_type ?? "-"}${enc}  ${size}  sat ${i.sat ?? "-"}`);
  }
  if (server.store.list.length === 0) console.log("  (no inscriptions: add a manifest.json, see docs/ord-server.md)");
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (import.meta.main) await main();
