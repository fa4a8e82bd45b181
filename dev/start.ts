// The plain functions behind `npm start` (scripts/start.ts is the runtime glue): its options,
// where the relay and the ord server listen, and the banner that says what to open.
import type { RelayAddress } from "./address.ts";
import { isLoopback, isUnspecified } from "./address.ts";

export const START_USAGE = `Usage: npm start [-- options]

Runs a local relay and a local ord server holding the library, its fallback, a bootstrap config
naming the relay, and the examples (and with --serve, your own files), each on a sat.

Options:
  --serve DIR       also inscribe DIR's files (its manifest.json, or every file on a sat of its
                    own) and print the URLs of its index.html (docs/ord-server.md)
  --host ADDR       serve both on ADDR (e.g. this machine's LAN address, for other machines; the
                    ord server then decodes br for them, as ord's --decompress)
                    default: the ord server on 127.0.0.1, the relay on this machine's network
                    address (Firefox never uses loopback for WebRTC), loopback when it has none
  --relay-port N    UDP port of the relay (default 4884; a free one if taken)
  --ord-port N      HTTP port of the ord server (default 8080; a free one if taken)
  --help            this text`;

export interface StartOptions {
  /** --host, or null: ord on loopback, relay on the machine's address. */
  host: string | null;
  relayPort: number;
  ordPort: number;
  serve: string | null;
}

/** Parses `npm start` arguments; "help", or throws an Error with a clear message. */
export function parseStartArgs(argv: string[]): StartOptions | "help" {
  const o: StartOptions = { host: null, relayPort: 4884, ordPort: 8080, serve: null };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return v;
  };
  const port = (i: number, flag: string): number => {
    const v = value(i, flag);
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > 65535) throw new Error(`${flag}: not a port: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") return "help";
    else if (a === "--host") o.host = value(i++, a);
    else if (a === "--relay-port") o.relayPort = port(i++, a);
    else if (a === "--ord-port") o.ordPort = port(i++, a);
    else if (a === "--serve") o.serve = value(i++, a);
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.host !== null && isUnspecified(o.host)) {
    // The relay's record and the bootstrap config must name an address browsers can dial.
    throw new Error(`--host ${o.host}: give one address of this machine (the relay advertises it), not a wildcard`);
  }
  return o;
}

export interface Listen {
  ordHost: string;
  relayHost: string;
  /** ord's --decompress: pages from a non-loopback origin are not a secure context, and browsers
   *  send Accept-Encoding: br only to secure ones (docs/ord-server.md). */
  decompress: boolean;
  /** Why the relay listens where it does, for the banner. */
  relayWhy: string;
}

/** Where each part listens, given --host (or null) and this machine's relay address. */
export function listenAddresses(host: string | null, machine: RelayAddress): Listen {
  if (host !== null) {
    const loop = isLoopback(host);
    return {
      ordHost: host,
      relayHost: host,
      decompress: !loop,
      relayWhy: loop ? "--host: loopback, so Chromium only; Firefox never uses loopback for WebRTC" : "--host",
    };
  }
  const relayWhy =
    machine.reason === "loopback-only"
      ? "loopback: this machine has no other address; Chromium reaches it, Firefox will not (it never uses loopback for WebRTC)"
      : `this machine's address on ${machine.iface}, so Firefox reaches it too; reachable from your network while this runs`;
  return { ordHost: "127.0.0.1", relayHost: machine.address, decompress: false, relayWhy };
}

export interface ServedFile {
  file: string | undefined;
  id: string;
  sat: number | null;
}

export interface BannerInput {
  relayAddr: string;
  relayWhy: string;
  ordUrl: string;
  sats: { lib: number; boot: number };
  examples: [string, string][];
  served: { dir: string; from: "manifest" | "files"; files: ServedFile[]; skipped: string[] } | null;
  record: unknown;
}

/** What `npm start` prints once everything runs. Tests read the labelled lines. */
export function startBanner(b: BannerInput): string {
  const lines = [
    "",
    "Lumamesh is running on this machine:",
    `  relay      udp://${b.relayAddr}   (${b.relayWhy})`,
    `  ord server ${b.ordUrl}   (library on sat ${b.sats.lib}, bootstrap config naming the relay on sat ${b.sats.boot})`,
    "",
    "Open one of these in TWO browser tabs (Chromium or Firefox) and watch them meet:",
    ...b.examples.map(([n, url]) => `  ${n.padEnd(8)} ${url}`),
  ];
  if (b.served) {
    const s = b.served;
    const width = Math.max(...s.files.map((f) => (f.file ?? "-").length));
    lines.push(
      "",
      `Your folder ${s.dir} (${s.from === "manifest" ? "its manifest.json" : "every file, each on a sat of its own"}):`,
      ...s.files.map((f) => `  ${(f.file ?? "-").padEnd(width)}  sat ${f.sat ?? "-"}  ${b.ordUrl}/inscription/${f.id}`),
      ...(s.skipped.length
        ? [`  (left out, unknown extension: ${s.skipped.join(", ")}; a manifest.json can give their content_type)`]
        : []),
    );
    const index = s.files.find((f) => f.file === "index.html");
    if (index) {
      lines.push(
        "Open your page in TWO tabs:",
        `  page     ${b.ordUrl}/inscription/${index.id}   (in ord's sandboxed iframe, as on ordinals.com)`,
        `  content  ${b.ordUrl}/content/${index.id}   (the page alone, no sandbox)`,
      );
    } else {
      lines.push("  (no index.html: open a file's /inscription URL above)");
    }
    lines.push("After editing, restart (Ctrl-C, the same command): ids follow the content, sats stay.");
  }
  lines.push(
    "",
    "Each page is an inscription in ord's sandboxed iframe, under ord's CSP; it imports the library from",
    `/r/sat/${b.sats.lib}/at/-1/content and finds the relay from /r/sat/${b.sats.boot}/at/-1/content.`,
    "",
    "Relay record:",
    JSON.stringify(b.record, null, 2),
    "",
    "Ctrl-C stops both.",
  );
  return lines.join("\n");
}
