// A local, ord-compatible HTTP server: the development tool for anyone writing inscriptions
// with Lumamesh, and the fixture the browser tests load inscriptions from. This file is the HTTP
// shell; the answers come from routes.ts over the store (store.ts).
//
// It serves an in-memory store of inscriptions with the same routes, status codes, header
// names/values and JSON shapes as `ord server` (ordinals/ord, read at commit 5241ef3):
//   src/subcommand/server.rs        routes, layers (CSP default, HSTS, CORS), fallback, /preview, /static, /favicon.ico
//   src/subcommand/server/r.rs      recursive endpoints and content_response()
//   src/subcommand/server/error.rs  400 / 404 (Cache-Control: no-store) / 406 bodies
//   src/subcommand/server/accept_encoding.rs   Accept-Encoding matching
//   src/subcommand/server/server_config.rs     preview CSPs and --csp-origin
//   src/api.rs                      JSON key order and shapes
//   src/templates/iframe.rs, templates/preview-*.html, templates/inscription.html, templates/page.html
// Path-parameter errors reproduce axum 0.8's `Path` rejection texts ("Invalid URL: ...").
//
// The server runs on node:http rather than Bun.serve: Bun.serve folds two headers of the same
// name into one comma-joined line, and ord sends its two Content-Security-Policy headers as two
// separate lines (r.rs content_response). node:http (Bun's implementation) keeps them apart.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { readManifest } from "./manifest.ts";
import { createRouter } from "./routes.ts";
import { Store, type Inscription, type InscriptionInput, type OrdChainView } from "./store.ts";

export interface OrdServerOptions {
  host?: string;
  /** 0 (default) picks an ephemeral port. */
  port?: number;
  /** Folder holding a manifest.json (see docs/ord-server.md). */
  dir?: string;
  /** In-memory alternative (or addition) to `dir`, added after the folder's entries. */
  inscriptions?: InscriptionInput[];
  /** false = ord without --index-sats: every /r/sat* route answers 404. Default true. */
  satIndex?: boolean;
  /** ord's --csp-origin. */
  cspOrigin?: string;
  /** ord's --decompress: serve br content decompressed to clients that do not accept br. */
  decompress?: boolean;
  /** Starting chain height (a block is "mined" per inscription added without a height). */
  height?: number;
  /** Index this chain too (outputs, sat ranges, reveals in mined transactions). */
  chain?: OrdChainView;
  /** ord's --index-runes: `runes` is `{}` (no rune is ever etched here) instead of null. */
  runeIndex?: boolean;
}

export interface OrdServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  add(inscription: InscriptionInput): Inscription;
  store: Store;
  /** Paths requested, in order (query strings included). */
  log: string[];
}

/** Starts the server. Inscriptions come from `dir`'s manifest, then `inscriptions`, then `add()`. */
export async function startOrdServer(opts: OrdServerOptions = {}): Promise<OrdServer> {
  let fromDir: InscriptionInput[] = [];
  let height = opts.height;
  if (opts.dir !== undefined) {
    const manifest = await readManifest(opts.dir);
    fromDir = manifest.inscriptions;
    height ??= manifest.height;
  }
  const store = new Store(height ?? 0, opts.chain ?? null);
  for (const entry of fromDir) store.add(entry);
  for (const entry of opts.inscriptions ?? []) store.add(entry);
  const route = createRouter(store, {
    satIndex: opts.satIndex ?? true,
    cspOrigin: opts.cspOrigin ?? null,
    decompress: opts.decompress ?? false,
    runeIndex: opts.runeIndex ?? false,
  });
  const log: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    log.push(req.url ?? "/");
    const header = (name: string): string | null => {
      const v = req.headers[name];
      return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
    };
    const reply = route(req.method ?? "GET", req.url ?? "/", header);
    const body = Buffer.from(reply.body);
    const grouped = new Map<string, string[]>();
    for (const [k, v] of reply.headers) grouped.set(k, [...(grouped.get(k) ?? []), v]);
    for (const [k, vs] of grouped) res.setHeader(k, vs.length === 1 ? vs[0]! : vs);
    res.setHeader("content-length", String(body.length));
    res.writeHead(reply.status);
    res.end(req.method === "HEAD" ? undefined : body);
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : (opts.port ?? 0);
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    store,
    log,
    add: (inscription) => (store.sync(), store.add(inscription)),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
