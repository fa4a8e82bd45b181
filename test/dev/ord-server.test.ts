// Tests for the dev ord server (dev/ord-server.ts): each route's status, headers and JSON shape
// against what ordinals/ord's server.rs / r.rs / api.rs produce. Raw HTTP over loopback is used
// where header lines matter (ord sends two separate Content-Security-Policy lines).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, brotliDecompressSync } from "node:zlib";
import { parseArgs } from "../../dev/main.ts";
import { brotli, cbor, loadManifest } from "../../dev/ord/manifest.ts";
import { parseInscriptionId, parseSat, startOrdServer, type OrdServer } from "../../dev/ord-server.ts";

interface Raw {
  status: number;
  headers: [string, string][];
  body: Buffer;
  get(name: string): string[];
}

/** One HTTP/1.1 request on a fresh socket; returns header lines exactly as sent. */
function raw(url: string, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(Number(u.port), u.hostname, () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      sock.write(`${method} ${path} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n${extra}\r\n`);
    });
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      const lines = all.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(lines[0]!.split(" ")[1]);
      const hs = lines.slice(1).map((l): [string, string] => {
        const c = l.indexOf(":");
        return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()];
      });
      const body = all.subarray(end + 4);
      resolve({ status, headers: hs, body, get: (n) => hs.filter(([k]) => k === n).map(([, v]) => v) });
    });
  });
}

const CSP_1 = "default-src 'self' 'unsafe-eval' 'unsafe-inline' data: blob:";
const CSP_2 =
  "default-src *:*/content/ *:*/blockheight *:*/blockhash *:*/blockhash/ *:*/blocktime *:*/r/ 'unsafe-eval' 'unsafe-inline' data: blob:";
const IMMUTABLE = "public, max-age=1209600, immutable";

const txid = (n: number) => n.toString(16).padStart(64, "0");
const PARENT = `${txid(1)}i0`;
const CHILD_A = `${txid(2)}i0`;
const CHILD_B = `${txid(2)}i1`;
const HTML_ID = `${txid(3)}i0`;
const BR_ID = `${txid(4)}i0`;
const DELEGATOR = `${txid(5)}i0`;
const DANGLING = `${txid(6)}i0`;
const TEXT_ID = `${txid(7)}i0`;
const MISSING = `${txid(0xdead)}i0`;
const BUSY_SAT = 1_234_567;
const FULL_SAT = 7_654_321; // exactly one page
const BR_PLAIN = "lumamesh ".repeat(200);

let s: OrdServer;

beforeAll(async () => {
  const inscriptions = [
    { id: PARENT, body: "parent", content_type: "text/plain;charset=utf-8", sat: 100, metadata: cbor({ name: "p" }) },
    { id: CHILD_A, body: "a", content_type: "text/plain", parents: [PARENT], sat: 200 },
    { id: CHILD_B, body: "b", content_type: "text/plain", parents: [PARENT, MISSING], sat: 201 },
    { id: HTML_ID, body: "<!doctype html><p>hi</p>", content_type: "text/html;charset=utf-8", sat: 300 },
    {
      id: BR_ID,
      body: new Uint8Array(brotliCompressSync(BR_PLAIN)),
      content_type: "text/plain;charset=utf-8",
      content_encoding: "br",
      sat: 400,
    },
    { id: DELEGATOR, content_type: "text/plain", delegate: HTML_ID, sat: 500 },
    { id: DANGLING, delegate: MISSING, sat: 600 },
    { id: TEXT_ID, body: "plain", content_type: "text/plain;charset=utf-8", sat: 700 },
  ];
  // 150 inscriptions on one sat: pages of 100 (server.rs PAGE_SIZE; r.rs sat_paginated).
  for (let k = 0; k < 150; k++)
    inscriptions.push({ id: `${txid(0x1000 + k)}i0`, body: `v${k}`, content_type: "text/plain", sat: BUSY_SAT } as never);
  for (let k = 0; k < 100; k++) inscriptions.push({ id: `${txid(0x2000 + k)}i0`, body: `w${k}`, sat: FULL_SAT } as never);
  s = await startOrdServer({ inscriptions });
});

afterAll(async () => {
  await s.stop();
});

describe("/content", () => {
  test("200 with both CSP header lines, immutable caching, CORS, HSTS and the body", async () => {
    const r = await raw(s.url, `/content/${TEXT_ID}`);
    expect(r.status).toBe(200);
    expect(r.get("content-security-policy")).toEqual([CSP_1, CSP_2]);
    expect(r.get("cache-control")).toEqual([IMMUTABLE]);
    expect(r.get("content-type")).toEqual(["text/plain;charset=utf-8"]);
    expect(r.get("access-control-allow-origin")).toEqual(["*"]);
    expect(r.get("strict-transport-security")).toEqual(["max-age=31536000; includeSubDomains; preload"]);
    expect(r.get("content-encoding")).toEqual([]);
    expect(r.body.toString()).toBe("plain");
  });

  test("br content passes through when Accept-Encoding has br (any position, with q-values)", async () => {
    for (const ae of ["br", "gzip, deflate, br", "gzip;q=1.0, br;q=0.8"]) {
      const r = await raw(s.url, `/content/${BR_ID}`, { "Accept-Encoding": ae });
      expect(r.status).toBe(200);
      expect(r.get("content-encoding")).toEqual(["br"]);
      expect(brotliDecompressSync(r.body).toString()).toBe(BR_PLAIN);
    }
  });

  test("br content without br accepted is 406, as ord without --decompress", async () => {
    const r = await raw(s.url, `/content/${BR_ID}`, { "Accept-Encoding": "gzip, brotli" });
    expect(r.status).toBe(406);
    expect(r.body.toString()).toBe("inscription content encoding `br` is not acceptable. `Accept-Encoding` header: `gzip, brotli`");
    const none = await raw(s.url, `/content/${BR_ID}`);
    expect(none.status).toBe(406);
    expect(none.body.toString()).toBe("inscription content encoding `br` is not acceptable. `Accept-Encoding` header not present");
  });

  test("--decompress serves br content decoded to clients without br", async () => {
    const d = await startOrdServer({
      decompress: true,
      inscriptions: [{ id: BR_ID, body: brotliCompressSync("xyz"), content_encoding: "br" }],
    });
    try {
      const r = await raw(d.url, `/content/${BR_ID}`);
      expect(r.status).toBe(200);
      expect(r.get("content-encoding")).toEqual([]);
      expect(r.get("content-type")).toEqual(["application/octet-stream"]);
      expect(r.body.toString()).toBe("xyz");
    } finally {
      await d.stop();
    }
  });

  test("--csp-origin: one CSP header naming the origin", async () => {
    const o = await startOrdServer({ cspOrigin: "https://ord.example", inscriptions: [{ id: TEXT_ID, body: "x" }] });
    try {
      const r = await raw(o.url, `/content/${TEXT_ID}`);
      expect(r.get("content-security-policy")).toEqual([
        "default-src https://ord.example/content/ https://ord.example/blockheight https://ord.example/blockhash https://ord.example/blockhash/ https://ord.example/blocktime https://ord.example/r/ 'unsafe-eval' 'unsafe-inline' data: blob:",
      ]);
      const p = await raw(o.url, `/preview/${TEXT_ID}`);
      // server_config.rs: 'self' replaced by the origin in preview CSPs (no content type → unknown media)
      expect(p.get("content-security-policy")).toEqual(["default-src https://ord.example"]);
    } finally {
      await o.stop();
    }
  });

  test("delegate: the delegate's body and type are served", async () => {
    const r = await raw(s.url, `/content/${DELEGATOR}`);
    expect(r.status).toBe(200);
    expect(r.get("content-type")).toEqual(["text/html;charset=utf-8"]);
    expect(r.body.toString()).toBe("<!doctype html><p>hi</p>");
    const d = await raw(s.url, `/content/${DANGLING}`);
    expect(d.status).toBe(404);
    expect(d.body.toString()).toBe(`delegate ${DANGLING} not found`);
    // /r/undelegated-content ignores the delegate; the delegator has no body.
    const u = await raw(s.url, `/r/undelegated-content/${DELEGATOR}`);
    expect(u.status).toBe(404);
    expect(u.body.toString()).toBe(`inscription ${DELEGATOR} content not found`);
  });

  test("bad and unknown ids: 400 with axum's text, 404 with no-store", async () => {
    const bad = await raw(s.url, "/content/foo");
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toBe("Invalid URL: Cannot parse `inscription_id` with value `foo`: invalid length: 3");
    const sep = await raw(s.url, `/content/${txid(1)}x0`);
    expect(sep.body.toString()).toBe(`Invalid URL: Cannot parse \`inscription_id\` with value \`${txid(1)}x0\`: invalid separator: \`x\``);
    const missing = await raw(s.url, `/content/${MISSING}`);
    expect(missing.status).toBe(404);
    expect(missing.get("cache-control")).toEqual(["no-store"]);
    expect(missing.body.toString()).toBe(`inscription ${MISSING} not found`);
    // uppercase hex names the same inscription (txids parse case-insensitively)
    const upper = await raw(s.url, `/content/${TEXT_ID.toUpperCase().replace("I", "i")}`);
    expect(upper.status).toBe(200);
  });
});

describe("/r/sat", () => {
  test("pages of 100, oldest first, more=true while more remain", async () => {
    const p0 = await (await fetch(`${s.url}/r/sat/${BUSY_SAT}`)).text();
    const j0 = JSON.parse(p0);
    expect(Object.keys(j0)).toEqual(["ids", "more", "page"]);
    expect(j0.ids.length).toBe(100);
    expect(j0.ids[0]).toBe(`${txid(0x1000)}i0`);
    expect(j0.ids[99]).toBe(`${txid(0x1000 + 99)}i0`);
    expect(j0.more).toBe(true);
    expect(j0.page).toBe(0);
    const j1 = await (await fetch(`${s.url}/r/sat/${BUSY_SAT}/1`)).json();
    expect(j1).toEqual({ ids: Array.from({ length: 50 }, (_, k) => `${txid(0x1000 + 100 + k)}i0`), more: false, page: 1 });
    const j2 = await (await fetch(`${s.url}/r/sat/${BUSY_SAT}/2`)).json();
    expect(j2).toEqual({ ids: [], more: false, page: 2 });
    expect(await (await fetch(`${s.url}/r/sat/5`)).text()).toBe('{"ids":[],"more":false,"page":0}');
    const full = await (await fetch(`${s.url}/r/sat/${FULL_SAT}`)).json();
    expect([full.ids.length, full.more]).toEqual([100, false]);
  });

  test("/at/<i>: -1 is newest and no-store; 0 is oldest and carries no Cache-Control", async () => {
    const newest = await raw(s.url, `/r/sat/${BUSY_SAT}/at/-1`);
    expect(newest.status).toBe(200);
    expect(newest.get("cache-control")).toEqual(["no-store"]);
    expect(newest.get("content-type")).toEqual(["application/json"]);
    expect(newest.body.toString()).toBe(`{"id":"${txid(0x1000 + 149)}i0"}`);
    const oldest = await raw(s.url, `/r/sat/${BUSY_SAT}/at/0`);
    expect(oldest.get("cache-control")).toEqual([]);
    expect(oldest.body.toString()).toBe(`{"id":"${txid(0x1000)}i0"}`);
    expect(JSON.parse((await raw(s.url, `/r/sat/${BUSY_SAT}/at/-150`)).body.toString())).toEqual({ id: `${txid(0x1000)}i0` });
    expect((await raw(s.url, `/r/sat/${BUSY_SAT}/at/-151`)).body.toString()).toBe('{"id":null}');
    expect((await raw(s.url, `/r/sat/${BUSY_SAT}/at/150`)).body.toString()).toBe('{"id":null}');
  });

  test("/at/<i>/content: no-store for negative, immutable for non-negative, 404 past the end", async () => {
    const newest = await raw(s.url, `/r/sat/${BUSY_SAT}/at/-1/content`);
    expect(newest.status).toBe(200);
    expect(newest.get("cache-control")).toEqual(["no-store"]);
    expect(newest.get("content-security-policy")).toEqual([CSP_1, CSP_2]);
    expect(newest.body.toString()).toBe("v149");
    const first = await raw(s.url, `/r/sat/${BUSY_SAT}/at/0/content`);
    expect(first.get("cache-control")).toEqual([IMMUTABLE]);
    expect(first.body.toString()).toBe("v0");
    const none = await raw(s.url, "/r/sat/5/at/0/content");
    expect(none.status).toBe(404);
    expect(none.body.toString()).toBe("inscription on sat 5 not found");
  });

  test("sat parse errors are 400 like ord's", async () => {
    const r = await raw(s.url, "/r/sat/2099999997690000/at/0");
    expect(r.status).toBe(400);
    expect(r.body.toString()).toBe("Invalid URL: failed to parse sat `2099999997690000`: invalid integer range");
    const i = await raw(s.url, "/r/sat/5/at/x");
    expect(i.body.toString()).toBe("Invalid URL: Cannot parse value at index 1 with value `x` to a `i64`");
    const n = await raw(s.url, "/r/sat/-1");
    expect(n.body.toString()).toBe("Invalid URL: Cannot parse `sat_number` with value `-1` to a `u64`");
    // sat names, as ordinals' Sat::from_str: "a" is the last sat
    expect(parseSat("a")).toEqual({ ok: true, value: 2099999997689999n });
    expect(parseSat("nvtdijuwxlp")).toEqual({ ok: true, value: 0n });
  });

  test("satIndex: false makes every /r/sat route 404 'this server has no sat index'", async () => {
    const n = await startOrdServer({ satIndex: false, inscriptions: [{ id: TEXT_ID, body: "x", sat: 9 }] });
    try {
      for (const p of ["/r/sat/9", "/r/sat/9/0", "/r/sat/9/at/0", "/r/sat/9/at/-1", "/r/sat/9/at/-1/content", "/r/sat/9/at/0/content"]) {
        const r = await raw(n.url, p);
        expect([p, r.status]).toEqual([p, 404]);
        expect(r.body.toString()).toBe("this server has no sat index");
        expect(r.get("cache-control")).toEqual(["no-store"]);
      }
      expect((await raw(n.url, `/content/${TEXT_ID}`)).status).toBe(200);
      const utxo = await (await fetch(`${n.url}/r/utxo/${txid(7)}:0`)).json();
      expect(utxo.sat_ranges).toBeNull();
    } finally {
      await n.stop();
    }
  });
});

describe("runtime add()", () => {
  test("a reinscription becomes /r/sat/<sat>/at/-1/content; /at/0 keeps the first", async () => {
    const r = await startOrdServer({ inscriptions: [] });
    try {
      const sat = 777_000;
      const h0 = Number(await (await fetch(`${r.url}/r/blockheight`)).text());
      const first = r.add({ body: '{"v":1}', content_type: "application/json", sat });
      expect((await raw(r.url, `/r/sat/${sat}/at/-1/content`)).body.toString()).toBe('{"v":1}');
      const second = r.add({ body: '{"v":2}', content_type: "application/json", sat });
      const latest = await raw(r.url, `/r/sat/${sat}/at/-1/content`);
      expect(latest.status).toBe(200);
      expect(latest.get("cache-control")).toEqual(["no-store"]);
      expect(latest.body.toString()).toBe('{"v":2}');
      expect((await raw(r.url, `/r/sat/${sat}/at/0/content`)).body.toString()).toBe('{"v":1}');
      expect(await (await fetch(`${r.url}/r/sat/${sat}`)).json()).toEqual({ ids: [first.id, second.id], more: false, page: 0 });
      const info = await (await fetch(`${r.url}/r/inscription/${second.id}`)).json();
      expect(info.charms).toEqual(["reinscription"]);
      expect(info.number).toBe(1);
      expect(Number(await (await fetch(`${r.url}/r/blockheight`)).text())).toBe(h0 + 2);
      // the sat moved: the first inscription now sits where the second was revealed
      const moved = await (await fetch(`${r.url}/r/inscription/${first.id}`)).json();
      expect(moved.satpoint).toBe(`${second.id.slice(0, 64)}:0:0`);
      expect(() => r.add({ id: first.id, body: "dup" })).toThrow(TypeError);
      expect(() => r.add({ id: "nope" })).toThrow(TypeError);
    } finally {
      await r.stop();
    }
  });
});

describe("recursive JSON", () => {
  test("/r/inscription has api::InscriptionRecursive's keys in order", async () => {
    const r = await raw(s.url, `/r/inscription/${DELEGATOR}`);
    expect(r.status).toBe(200);
    expect(r.get("content-type")).toEqual(["application/json"]);
    expect(r.get("content-security-policy")).toEqual(["default-src 'self'"]);
    const j = JSON.parse(r.body.toString());
    expect(Object.keys(j)).toEqual([
      "charms",
      "content_type",
      "content_length",
      "delegate",
      "fee",
      "height",
      "id",
      "number",
      "output",
      "sat",
      "satpoint",
      "timestamp",
      "value",
      "address",
    ]);
    expect(j.delegate).toBe(HTML_ID);
    expect(j.content_length).toBeNull();
    expect(j.content_type).toBe("text/plain");
    expect(j.sat).toBe(500);
    expect(j.output).toBe(`${txid(5)}:0`);
    expect(j.satpoint).toBe(`${txid(5)}:0:0`);
    expect(j.value).toBe(10000);
    const missing = await raw(s.url, `/r/inscription/${MISSING}`);
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toBe(`inscription ${MISSING} not found`);
  });

  test("/r/children and /r/children/<id>/inscriptions", async () => {
    expect(await (await fetch(`${s.url}/r/children/${PARENT}`)).text()).toBe(`{"ids":["${CHILD_A}","${CHILD_B}"],"more":false,"page":0}`);
    expect(await (await fetch(`${s.url}/r/children/${PARENT}/1`)).text()).toBe('{"ids":[],"more":false,"page":1}');
    const c = await (await fetch(`${s.url}/r/children/${PARENT}/inscriptions`)).json();
    expect(Object.keys(c)).toEqual(["children", "more", "page"]);
    expect(c.children.map((x: { id: string }) => x.id)).toEqual([CHILD_A, CHILD_B]);
    expect(Object.keys(c.children[0])).toEqual(["charms", "fee", "height", "id", "number", "output", "sat", "satpoint", "timestamp"]);
    const bad = await raw(s.url, `/r/children/${PARENT}/x`);
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toBe("Invalid URL: Cannot parse value at index 1 with value `x` to a `u64`");
    const none = await raw(s.url, `/r/children/${MISSING}`);
    expect(none.status).toBe(404);
  });

  test("/r/parents is {ids, more, page_index}; unknown parents are not recorded", async () => {
    expect(await (await fetch(`${s.url}/r/parents/${CHILD_B}`)).text()).toBe(`{"ids":["${PARENT}"],"more":false,"page_index":0}`);
    const p = await (await fetch(`${s.url}/r/parents/${CHILD_A}/inscriptions`)).json();
    expect(Object.keys(p)).toEqual(["parents", "more", "page"]);
    expect(p.parents[0].id).toBe(PARENT);
  });

  test("/r/metadata is the CBOR as a hex JSON string; 404 without metadata", async () => {
    const r = await raw(s.url, `/r/metadata/${PARENT}`);
    expect(r.get("content-type")).toEqual(["application/json"]);
    expect(r.body.toString()).toBe(`"a1646e616d656170"`);
    const none = await raw(s.url, `/r/metadata/${TEXT_ID}`);
    expect(none.status).toBe(404);
    expect(none.body.toString()).toBe(`inscription ${TEXT_ID} metadata not found`);
  });

  test("block endpoints: /r/blockheight text, /r/blockhash JSON string, /blockheight text", async () => {
    const h = await raw(s.url, "/r/blockheight");
    expect(h.get("content-type")).toEqual(["text/plain; charset=utf-8"]);
    expect(h.body.toString()).toMatch(/^\d+$/);
    expect(Number(h.body.toString())).toBe(s.store.height);
    const plain = await raw(s.url, "/blockheight");
    expect(plain.body.toString()).toBe(h.body.toString());
    const hash = await raw(s.url, "/r/blockhash");
    expect(hash.get("content-type")).toEqual(["application/json"]);
    expect(hash.body.toString()).toMatch(/^"[0-9a-f]{64}"$/);
    expect((await raw(s.url, "/r/blockhash/99999999")).status).toBe(404);
  });

  test("/r/utxo from the store's outputs", async () => {
    const u = await (await fetch(`${s.url}/r/utxo/${txid(7)}:0`)).json();
    expect(Object.keys(u)).toEqual(["inscriptions", "runes", "sat_ranges", "value"]);
    expect(u).toEqual({ inscriptions: [TEXT_ID], runes: null, sat_ranges: [[700, 10700]], value: 10000 });
    expect((await raw(s.url, `/r/utxo/${txid(7)}:1`)).status).toBe(404);
    const bad = await raw(s.url, "/r/utxo/foo:0");
    expect(bad.body.toString()).toBe("Invalid URL: Cannot parse `outpoint` with value `foo:0`: error parsing TXID");
  });
});

describe("pages", () => {
  test("/inscription/<id> embeds ord's sandboxed preview iframe", async () => {
    const r = await raw(s.url, `/inscription/${HTML_ID}`);
    expect(r.status).toBe(200);
    expect(r.get("content-type")).toEqual(["text/html; charset=utf-8"]);
    expect(r.body.toString()).toContain(`<iframe sandbox=allow-scripts loading=lazy src=/preview/${HTML_ID}></iframe>`);
    const j = await fetch(`${s.url}/inscription/${HTML_ID}`, { headers: { accept: "application/json" } });
    const info = await j.json();
    expect(info.id).toBe(HTML_ID);
    expect(info.effective_content_type).toBe("text/html;charset=utf-8");
    expect((await fetch(`${s.url}/inscription/${MISSING}`)).status).toBe(404);
  });

  test("/preview: html is served as content (iframe media); text gets ord's template and CSP", async () => {
    const h = await raw(s.url, `/preview/${HTML_ID}`);
    expect(h.get("content-security-policy")).toEqual([CSP_1, CSP_2]);
    expect(h.body.toString()).toBe("<!doctype html><p>hi</p>");
    const d = await raw(s.url, `/preview/${DELEGATOR}`);
    expect(d.body.toString()).toBe("<!doctype html><p>hi</p>");
    const t = await raw(s.url, `/preview/${TEXT_ID}`);
    expect(t.get("content-security-policy")).toEqual(["default-src 'self'"]);
    expect(t.body.toString()).toContain(`<html lang=en data-inscription=${TEXT_ID}>`);
  });

  test("/ lists inscriptions with links", async () => {
    const body = await (await fetch(`${s.url}/`)).text();
    expect(body).toContain(`href=/inscription/${HTML_ID}`);
    expect(body).toContain(`href=/inscription/${TEXT_ID}`);
  });

  test("unknown routes: empty 404; ids and numbers redirect like ord's fallback", async () => {
    const r = await raw(s.url, "/hello");
    expect(r.status).toBe(404);
    expect(r.body.length).toBe(0);
    expect((await raw(s.url, `/content/${TEXT_ID}/`)).status).toBe(404);
    const red = await raw(s.url, `/${TEXT_ID}`);
    expect(red.status).toBe(303);
    expect(red.get("location")).toEqual([`/inscription/${TEXT_ID}`]);
    expect((await raw(s.url, `/content/${TEXT_ID}`, {}, "POST")).status).toBe(405);
  });

  test("CORS preflight is answered by the CORS layer", async () => {
    const r = await raw(s.url, `/content/${TEXT_ID}`, { Origin: "null", "Access-Control-Request-Method": "GET" }, "OPTIONS");
    expect(r.status).toBe(200);
    expect(r.get("access-control-allow-origin")).toEqual(["*"]);
    expect(r.get("access-control-allow-methods")).toEqual(["GET,POST"]);
  });
});

describe("manifest", () => {
  test("a folder loads with stable ids, compression, references and metadata", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ord-dev-"));
    try {
      const text = "relay record ".repeat(50);
      await writeFile(join(dir, "index.html"), "<!doctype html><p>app</p>");
      await writeFile(join(dir, "record.json"), text);
      await writeFile(
        join(dir, "manifest.json"),
        JSON.stringify({
          version: 1,
          height: 10,
          inscriptions: [
            { file: "index.html", sat: 42 },
            { file: "record.json", compress: true, parents: ["index.html"], metadata: { v: 1 } },
            { delegate: "record.json", content_type: "application/json", name: "alias" },
          ],
        }),
      );
      const a = await loadManifest(dir);
      const b = await loadManifest(dir);
      expect(a.map((x) => x.id)).toEqual(b.map((x) => x.id));
      expect(a[0]!.content_type).toBe("text/html;charset=utf-8");
      expect(a[1]!.content_type).toBe("application/json");
      expect(a[1]!.content_encoding).toBe("br");
      expect(brotliDecompressSync(a[1]!.body as Uint8Array).toString()).toBe(text);
      expect(a[1]!.parents).toEqual([a[0]!.id!]);
      expect(Buffer.from(a[1]!.metadata!).toString("hex")).toBe("a1617601");
      expect(a[2]!.delegate).toBe(a[1]!.id!);
      expect(a[0]!.id).toMatch(/^[0-9a-f]{64}i0$/);

      const srv = await startOrdServer({ dir });
      try {
        expect(await (await fetch(`${srv.url}/r/blockheight`)).text()).toBe("13");
        const c = await raw(srv.url, `/r/sat/42/at/-1/content`, { "Accept-Encoding": "gzip, deflate, br" });
        expect(c.body.toString()).toBe("<!doctype html><p>app</p>");
        const rec = await raw(srv.url, `/content/${a[2]!.id}`, { "Accept-Encoding": "br" });
        expect(rec.get("content-encoding")).toEqual(["br"]);
        expect(brotliDecompressSync(rec.body).toString()).toBe(text);
      } finally {
        await srv.stop();
      }

      await writeFile(join(dir, "manifest.json"), JSON.stringify({ version: 2, inscriptions: [] }));
      await expect(loadManifest(dir)).rejects.toThrow('"version" must be 1');
      await writeFile(
        join(dir, "manifest.json"),
        JSON.stringify({ version: 1, inscriptions: [{ file: "index.html", parents: ["nope"] }] }),
      );
      await expect(loadManifest(dir)).rejects.toThrow("neither an inscription id nor an earlier entry");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("brotli() keeps ord's parameters and only compresses when smaller", () => {
    const small = new TextEncoder().encode("ab");
    expect(brotli(small, "text")).toBeNull();
    const big = new TextEncoder().encode("x".repeat(1000));
    const c = brotli(big, "text")!;
    expect(c.length).toBeLessThan(100);
    expect(brotliDecompressSync(c).toString()).toBe("x".repeat(1000));
  });
});

describe("parsers and CLI", () => {
  test("inscription ids parse as ord's InscriptionId::from_str", () => {
    expect(parseInscriptionId(`${"A".repeat(64)}i+7`)).toEqual({ ok: true, value: `${"a".repeat(64)}i7` });
    expect(parseInscriptionId(`${"a".repeat(64)}i`)).toEqual({ ok: false, message: "invalid length: 65" });
    expect(parseInscriptionId(`${"a".repeat(64)}i4294967296`)).toEqual({
      ok: false,
      message: "invalid index: number too large to fit in target type",
    });
  });

  test("parseArgs", () => {
    expect(parseArgs(["site", "--port", "0", "--no-sat-index", "--csp-origin", "https://x"])).toEqual({
      dir: "site",
      port: 0,
      satIndex: false,
      cspOrigin: "https://x",
    });
    expect(parseArgs(["--help"])).toBe("help");
    expect(() => parseArgs(["--port", "99999"])).toThrow("not a port");
    expect(() => parseArgs(["--frobnicate"])).toThrow("unknown option");
  });
});
