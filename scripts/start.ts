#!/usr/bin/env bun
// `npm start`: the whole embedded default on this machine. Builds the library, starts a relay and
// a local ord-compatible server holding the library, a bootstrap config naming that relay and the
// examples, and prints what to open. Usage: npm start [-- --host ADDR] [--relay-port N] [--ord-port N]
import { startEmbedded, EXAMPLES } from "../dev/embedded.ts";
import { SATS } from "../build.ts";

const args = process.argv.slice(2);
if (args.includes("--help")) {
  console.log("npm start [-- --host ADDR] [--relay-port N] [--ord-port N]\n  Runs a local relay and a local ord server with the library and examples (defaults: 127.0.0.1, relay 4884/udp, ord 8080).");
  process.exit(0);
}
const arg = (name: string, d: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : d);
const host = arg("--host", "127.0.0.1");
// Off loopback the pages are not a secure context: browsers then neither send Accept-Encoding: br
// nor have crypto.subtle, so the ord server decodes br (ord's --decompress) and pages load the fallback.
const loopback = /^(127\.|::1$|localhost$)/.test(host);
const tryStart = async (relayPort: number, ordPort: number) => startEmbedded({ host, relayPort, ordPort, logLevel: "info", decompress: !loopback });
let e;
try {
  e = await tryStart(Number(arg("--relay-port", "4884")), Number(arg("--ord-port", "8080")));
} catch (err: any) {
  if (err?.code != "EADDRINUSE") throw err;
  console.log(`(a default port is taken; using free ones)`);
  e = await tryStart(0, 0);
}
const lines = [
  "",
  "Lumamesh is running on this machine:",
  `  relay      udp://${e.record.addr}   (record below; data in .lumamesh/relay)`,
  `  ord server ${e.ord.url}   (library on sat ${SATS.lib}, bootstrap config on sat ${SATS.boot})`,
  "",
  "Open one of these in TWO browser tabs and watch them meet:",
  ...Object.keys(EXAMPLES).map((n) => `  ${n.padEnd(8)} ${e.url(n as keyof typeof EXAMPLES)}`),
  "",
  "Each page is an inscription in ord's sandboxed iframe, under ord's CSP; it imports the library from",
  `/r/sat/${SATS.lib}/at/-1/content and finds the relay from /r/sat/${SATS.boot}/at/-1/content.`,
  "",
  "Relay record:",
  JSON.stringify(e.record, null, 2),
  "",
  "Ctrl-C stops both.",
];
console.log(lines.join("\n"));
await new Promise<void>((r) => {
  process.once("SIGINT", r);
  process.once("SIGTERM", r);
});
await e.stop();
process.exit(0);
