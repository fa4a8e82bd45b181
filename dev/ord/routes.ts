// The dev ord server's routes: axum patterns from ord's src/subcommand/server.rs (and r.rs) with
// their handlers, compiled ONCE per server into a router (method, path, headers → reply), plus
// ord's fallback (inscription-looking paths redirect) and the outer layers (reply.ts `finish`).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inscriptionJson, inscriptionRecursiveJson, inscriptionsPage, idsPage, satJson } from "./api.ts";
import { content, contentResponse, preview, type Config } from "./content.ts";
import { parseInscriptionId, parseOutPoint, parseRustInt, parseTxid, satInfo } from "./parse.ts";
import {
  badPath,
  finish,
  html,
  idParam,
  intParam,
  internal,
  json,
  notFound,
  preflight,
  Rejection,
  satParam,
  text,
  type Reply,
} from "./reply.ts";
import { blockHash, GENESIS_TIME, hex, unspent, type Inscription, type Store } from "./store.ts";
import { homePage, inscriptionPage, outputPage, satPage } from "./templates.ts";

// server.rs: const PAGE_SIZE: usize = 100; r.rs pages children/parents/sats by 100.
export const PAGE_SIZE = 100;

type Params = Record<string, string>;
interface Request {
  accept: string | null;
  acceptEncoding: string | null;
}
type Handler = (p: Params, req: Request) => Reply;

const INSCRIPTION_ID_RE = /^[0-9a-f]{64}i\d+$/i; // src/re.rs INSCRIPTION_ID (simplified)
const INSCRIPTION_NUMBER_RE = /^-?[0-9]+$/;

/** index.rs *_paginated: skip page*size, take size+1, more = got more than size. */
function paginate<T>(items: T[], page: bigint): { items: T[]; more: boolean } {
  const start = page * BigInt(PAGE_SIZE);
  if (start >= BigInt(items.length)) return { items: [], more: false };
  const slice = items.slice(Number(start), Number(start) + PAGE_SIZE + 1);
  const more = slice.length > PAGE_SIZE;
  return { items: more ? slice.slice(0, PAGE_SIZE) : slice, more };
}

// ord's static/ files this server carries (dev/ord/static/README.md), with mime_guess's types.
const STATIC_DIR = join(import.meta.dir, "static");
const STATIC_TYPES: Record<string, string> = {
  "index.css": "text/css",
  "modern-normalize.css": "text/css",
  "favicon.png": "image/png",
  "favicon.svg": "image/svg+xml",
};

/** server.rs static_asset: the file with its type, or 404 `asset <path> not found`. */
function staticAssets(): (path: string) => Reply {
  const files = new Map(
    Object.entries(STATIC_TYPES).map(([name, type]) => [name, { type, body: new Uint8Array(readFileSync(join(STATIC_DIR, name))) }]),
  );
  return (path) => {
    const f = files.get(path.replace(/^\//, ""));
    return f ? { status: 200, headers: [["content-type", f.type]], body: f.body } : notFound(`asset ${path} not found`);
  };
}

/** The route table for one store and config: [axum pattern, handler]. */
function table(store: Store, config: Config): [string, Handler][] {
  const asset = staticAssets();
  const noSatIndex = () => notFound("this server has no sat index");
  const tipHeight = () => store.height;
  /** index.rs get_utxo_recursive: from the chain when it has the output, else from the store. */
  const utxoOf = (
    outpoint: string,
  ): {
    inscriptions: string[];
    runes: Record<string, never> | null;
    sat_ranges: [number, number][] | null;
    value: number;
    address: string | null;
  } | null => {
    const runes = config.runeIndex ? {} : null; // no rune is ever etched on these chains
    const c = store.chainOutput(outpoint);
    const here = store.inOutput(outpoint);
    if (c) {
      return {
        inscriptions: here.map((i) => i.id),
        runes,
        sat_ranges: config.satIndex ? c.sat_ranges : null,
        value: c.value,
        address: c.address,
      };
    }
    // Without a chain output: the outputs the store's inscriptions sit in. The dev chain only
    // knows inscribed sats: model the output as one range starting at the lowest inscribed sat
    // and `value` sats long (ord's ranges also sum to the value).
    if (here.length === 0) return null;
    const value = here[here.length - 1]!.value;
    const sats = here.map((i) => i.sat).filter((s): s is number => s !== null);
    const first = sats.length ? Math.min(...sats) : null;
    const ranges: [number, number][] | null = config.satIndex ? (first === null ? [] : [[first, first + value]]) : null;
    return { inscriptions: here.map((i) => i.id), runes, sat_ranges: ranges, value, address: here[here.length - 1]!.address };
  };
  // The children/parents routes share their id, page and lookup; only the relation differs.
  const related = (p: Params, paged: boolean, rel: "childrenOf" | "parentsOf") => {
    const id = idParam("inscription_id", p.inscription_id!, !paged);
    const page = paged ? intParam("page", p.page!, 1, 64, false) : 0n;
    const i = store.get(id);
    if (!i) throw new Rejection(notFound(`inscription ${id} not found`));
    return { page, r: paginate(store[rel](i), page) };
  };
  const childIds = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "childrenOf");
    return json(idsPage(r.items, r.more, "page", page));
  };
  const childInscriptions = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "childrenOf");
    return json(inscriptionsPage(store, "children", r.items, r.more, page));
  };
  const parentIds = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "parentsOf");
    // r.rs parents_paginated: u32::try_from(page) fails → anyhow error → 500.
    if (page > 0xffffffffn) return internal();
    return json(idsPage(r.items, r.more, "page_index", page));
  };
  const parentInscriptions = (p: Params, paged: boolean) => {
    const { page, r } = related(p, paged, "parentsOf");
    return json(inscriptionsPage(store, "parents", r.items, r.more, page));
  };
  const satIds = (p: Params, paged: boolean) => {
    const sat = intParam("sat_number", p.sat_number!, paged ? 0 : null, 64, false);
    const page = paged ? intParam("page", p.page!, 1, 64, false) : 0n;
    if (!config.satIndex) return noSatIndex();
    const on = sat > BigInt(Number.MAX_SAFE_INTEGER) ? [] : store.onSat(Number(sat));
    const r = paginate(on, page);
    return json(idsPage(r.items, r.more, "page", page));
  };
  const satAt = (p: Params): { index: bigint; found: Inscription | null; sat: bigint } | Reply => {
    const sat = satParam(p.sat_number!);
    const index = intParam("index", p.index!, 1, 64, true);
    if (!config.satIndex) return noSatIndex();
    const on = store.onSat(Number(sat));
    // index.rs get_inscription_id_by_sat_indexed: negative counts back from the newest (-1 = newest).
    const k = index < 0n ? BigInt(on.length) + index : index;
    const found = k >= 0n && k < BigInt(on.length) ? on[Number(k)]! : null;
    return { index, found, sat };
  };
  const blockhashAt = (p: Params, reply: (hash: string) => Reply) => {
    const h = intParam("height", p.height!, null, 32, false);
    return h > BigInt(tipHeight()) ? notFound("blockhash not found") : reply(blockHash(Number(h)));
  };
  const outpointParam = (p: Params): string => {
    const o = parseOutPoint(p.outpoint!);
    if (!o.ok) throw new Rejection(badPath(`Cannot parse \`outpoint\` with value \`${p.outpoint}\`: ${o.message}`));
    return o.value;
  };

  return [
    ["/", () => html(homePage(store.list, store.height, config.satIndex))],
    ["/favicon.ico", () => asset("/favicon.png")],
    ["/static/{*path}", (p) => asset(p.path!)],
    // r.rs blockheight_string etc.: plain text; /r/blockhash is a JSON string.
    ["/blockheight", () => text(200, String(tipHeight()))],
    ["/blockhash", () => text(200, blockHash(tipHeight()))],
    ["/blockhash/{height}", (p) => blockhashAt(p, (hash) => text(200, hash))],
    ["/blocktime", () => text(200, String(GENESIS_TIME + tipHeight() * 600))],
    ["/r/blockhash", () => json(JSON.stringify(blockHash(tipHeight())))],
    ["/r/blockhash/{height}", (p) => blockhashAt(p, (hash) => json(JSON.stringify(hash)))],
    ["/r/blockheight", () => text(200, String(tipHeight()))],
    ["/r/blocktime", () => text(200, String(GENESIS_TIME + tipHeight() * 600))],
    [
      "/content/{inscription_id}",
      (p, r) => content(store, config, idParam("inscription_id", p.inscription_id!, true), r.acceptEncoding, true),
    ],
    ["/preview/{inscription_id}", (p, r) => preview(store, config, idParam("inscription_id", p.inscription_id!, true), r.acceptEncoding)],
    [
      "/inscription/{inscription_query}",
      (p, r) => {
        const q = p.inscription_query!;
        let i: Inscription | undefined;
        if (INSCRIPTION_ID_RE.test(q)) {
          const id = parseInscriptionId(q);
          if (!id.ok) return badPath(id.message);
          i = store.get(id.value);
        } else if (INSCRIPTION_NUMBER_RE.test(q)) {
          const n = parseRustInt(q, 32, true);
          if (!n.ok) return badPath(n.message);
          i = store.list.find((x) => x.number === Number(n.value));
        } else {
          return badPath(`bad inscription query ${q}`);
        }
        // server.rs inscription_inner: JSON when `Accept: application/json` (exact match).
        if (r.accept === "application/json") {
          return i ? json(inscriptionJson(store, i)) : json("null", [], 404);
        }
        if (!i) return notFound(`inscription ${q} not found`);
        const view = {
          i,
          parents: store.parentsOf(i),
          children: store.childrenOf(i),
          prev: store.list[i.sequence - 1],
          next: store.list[i.sequence + 1],
          satpoint: store.location(i),
        };
        return html(inscriptionPage(view, i.metadata ? hex(i.metadata) : null));
      },
    ],
    [
      "/r/inscription/{inscription_id}",
      (p) => {
        const id = idParam("inscription_id", p.inscription_id!, true);
        const i = store.get(id);
        return i ? json(inscriptionRecursiveJson(store, i)) : notFound(`inscription ${id} not found`);
      },
    ],
    ["/r/children/{inscription_id}", (p) => childIds(p, false)],
    ["/r/children/{inscription_id}/{page}", (p) => childIds(p, true)],
    ["/r/children/{inscription_id}/inscriptions", (p) => childInscriptions(p, false)],
    ["/r/children/{inscription_id}/inscriptions/{page}", (p) => childInscriptions(p, true)],
    ["/r/parents/{inscription_id}", (p) => parentIds(p, false)],
    ["/r/parents/{inscription_id}/{page}", (p) => parentIds(p, true)],
    ["/r/parents/{inscription_id}/inscriptions", (p) => parentInscriptions(p, false)],
    ["/r/parents/{inscription_id}/inscriptions/{page}", (p) => parentInscriptions(p, true)],
    [
      "/r/metadata/{inscription_id}",
      (p) => {
        const id = idParam("inscription_id", p.inscription_id!, true);
        const i = store.get(id);
        if (!i) return notFound(`inscription ${id} not found`);
        if (i.metadata === null) return notFound(`inscription ${id} metadata not found`);
        return json(JSON.stringify(hex(i.metadata)));
      },
    ],
    ["/r/sat/{sat_number}", (p) => satIds(p, false)],
    ["/r/sat/{sat_number}/{page}", (p) => satIds(p, true)],
    [
      "/r/sat/{sat_number}/at/{index}",
      (p) => {
        const r = satAt(p);
        if ("status" in r) return r;
        // r.rs sat_at_index: {"id": ... | null}; a negative index is Cache-Control: no-store.
        const headers: [string, string][] = r.index < 0n ? [["cache-control", "no-store"]] : [];
        return json(JSON.stringify({ id: r.found?.id ?? null }), headers);
      },
    ],
    [
      "/r/sat/{sat_number}/at/{index}/content",
      (p, req) => {
        const r = satAt(p);
        if ("status" in r) return r;
        if (!r.found) return notFound(`inscription on sat ${r.sat} not found`);
        // r.rs sat_at_index_content: cache only when index >= 0.
        return content(store, config, r.found.id, req.acceptEncoding, r.index >= 0n);
      },
    ],
    [
      "/r/tx/{txid}",
      (p) => {
        const t = parseTxid(p.txid!);
        if (!t.ok) return badPath(`Cannot parse \`txid\` with value \`${p.txid}\`: ${t.message}`);
        // r.rs tx: the raw transaction as a JSON hex string (ord asks bitcoind, mempool included).
        for (const tx of store.chain?.transactions() ?? []) if (tx.txid === t.value) return json(JSON.stringify(tx.hex));
        return notFound(`transaction ${t.value} not found`); // the dev chain alone keeps no transactions
      },
    ],
    [
      "/output/{outpoint}",
      (p, r) => {
        const outpoint = outpointParam(p);
        const u = utxoOf(outpoint);
        if (!u) return notFound(`output ${outpoint} not found`);
        const c = store.chainOutput(outpoint);
        // api.rs Output, fields in declaration order; HTML unless `Accept: application/json`.
        const body = {
          address: c ? c.address : u.address,
          confirmations: c && c.height !== null ? tipHeight() - c.height + 1 : 0,
          indexed: true,
          inscriptions: u.inscriptions,
          outpoint,
          runes: u.runes,
          sat_ranges: u.sat_ranges,
          script_pubkey: c ? c.script_pubkey : "",
          spent: c ? !unspent(c) : false,
          transaction: outpoint.split(":")[0],
          value: u.value,
        };
        if (r.accept === "application/json") return json(JSON.stringify(body));
        return html(
          outputPage({
            outpoint,
            inscriptions: u.inscriptions,
            value: u.value,
            address: body.address,
            spent: body.spent,
            sat_ranges: u.sat_ranges,
          }),
        );
      },
    ],
    [
      "/sat/{sat}",
      (p, r) => {
        const sat = satParam(p.sat!);
        const info = satInfo(sat);
        const indexable = config.satIndex && sat <= BigInt(Number.MAX_SAFE_INTEGER);
        const on = indexable ? store.onSat(Number(sat)) : [];
        const satpoint = indexable ? store.chainSatpoint(Number(sat)) : null;
        const address = satpoint === null ? null : (store.chainOutput(satpoint.split(":").slice(0, 2).join(":"))?.address ?? null);
        // api.rs Sat; HTML unless `Accept: application/json`.
        if (r.accept === "application/json") return json(satJson(sat, info, address, satpoint, on));
        return html(satPage(sat, info, satpoint, on));
      },
    ],
    [
      "/r/undelegated-content/{inscription_id}",
      (p, r) => {
        const id = idParam("inscription_id", p.inscription_id!, true);
        const i = store.get(id);
        if (!i) return notFound(`inscription ${id} not found`);
        return contentResponse(i, r.acceptEncoding, config, true) ?? notFound(`inscription ${id} content not found`);
      },
    ],
    [
      "/r/utxo/{outpoint}",
      (p) => {
        const outpoint = outpointParam(p);
        const c = store.chainOutput(outpoint);
        // index.rs get_utxo_recursive reads the UTXO table: a spent output is gone from it.
        const u = c && !unspent(c) ? null : utxoOf(outpoint);
        if (!u) return notFound(`output ${outpoint} not found`);
        const { inscriptions, runes, sat_ranges, value } = u;
        return json(JSON.stringify({ inscriptions, runes, sat_ranges, value }));
      },
    ],
  ];
}

/** A compiled pattern: its segments, and how many are parameters (a catch-all counts most). */
interface Route {
  segments: string[];
  rank: number;
  handler: Handler;
}

function compile(pattern: string, handler: Handler): Route {
  const segments = pattern.split("/");
  const rank = segments.reduce((n, s) => n + (s.startsWith("{*") ? 1000 : s.startsWith("{") ? 1 : 0), 0);
  return { segments, rank, handler };
}

function match(route: Route, xs: string[]): Params | null {
  const ps = route.segments;
  const params: Params = {};
  for (let k = 0; k < ps.length; k++) {
    const p = ps[k]!;
    if (p.startsWith("{*")) {
      // matchit's catch-all: the rest of the path, not empty.
      const rest = xs.slice(k).join("/");
      if (rest === "") return null;
      params[p.slice(2, -1)] = rest;
      return params;
    }
    if (k >= xs.length) return null;
    const x = xs[k]!;
    if (p.startsWith("{")) {
      if (x === "") return null;
      params[p.slice(1, -1)] = x;
    } else if (p !== x) return null;
  }
  return ps.length === xs.length ? params : null;
}

/** The route whose pattern has the fewest parameters wins, as matchit prefers static segments. */
function findRoute(routes: Route[], path: string): [Handler, Params] | null {
  const xs = path.split("/");
  let best: [Handler, Params, number] | null = null;
  for (const route of routes) {
    const params = match(route, xs);
    if (params && (!best || route.rank < best[2])) best = [route.handler, params, route.rank];
  }
  return best ? [best[0], best[1]] : null;
}

// server.rs fallback: paths that look like an inscription id or number redirect to
// /inscription/<path>; everything else is an empty 404.
function fallback(path: string): Reply {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.replace(/^\/+|\/+$/g, ""));
  } catch {
    return text(400, "invalid utf-8 sequence");
  }
  if (INSCRIPTION_ID_RE.test(decoded) || INSCRIPTION_NUMBER_RE.test(decoded)) {
    return { status: 303, headers: [["location", `/inscription/${decoded}`]], body: "" };
  }
  return { status: 404, headers: [], body: "" };
}

export type Router = (method: string, rawPath: string, header: (name: string) => string | null) => Reply;

/** The whole server as a function (method, path, request headers → reply), its routes compiled once. */
export function createRouter(store: Store, config: Config): Router {
  const routes = table(store, config).map(([pattern, handler]) => compile(pattern, handler));
  return (method, rawPath, header) => {
    const path = rawPath.split("?")[0]!;
    store.sync();
    if (method === "OPTIONS" && header("access-control-request-method") !== null) return preflight();
    const found = findRoute(routes, path);
    if (!found) return finish(fallback(path));
    if (method !== "GET" && method !== "HEAD") return finish({ status: 405, headers: [["allow", "GET,HEAD"]], body: "" });
    const [handler, params] = found;
    const decoded: Params = {};
    try {
      for (const [k, v] of Object.entries(params)) decoded[k] = decodeURIComponent(v);
    } catch {
      return finish(badPath(`Invalid UTF-8 in \`${Object.keys(params)[0] ?? ""}\``));
    }
    try {
      return finish(handler(decoded, { accept: header("accept"), acceptEncoding: header("accept-encoding") }));
    } catch (e) {
      if (e instanceof Rejection) return finish(e.reply);
      console.error("ord-server: error serving request:", e);
      return finish(internal());
    }
  };
}
