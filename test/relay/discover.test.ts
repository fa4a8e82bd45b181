// relay/discover.ts (how a relay with no configuration finds others) against the dev ord server on
// loopback, serving what ord would; and relay/peering.ts recordFrames (the RECORDS a relay serves).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discoverRelays, readCache, writeCache, CACHE_FILE, MAX_CACHED } from "../../relay/discover.ts";
import { recordFrames } from "../../relay/peering.ts";
import { loadState, relayRecord } from "../../relay/state.ts";
import { startOrdServer, type OrdServer } from "../../dev/ord-server.ts";
import { SATS } from "../../protocol/network.ts";
import { MAX_FRAME, decode, encode, T } from "../../protocol/frames.ts";
import { checkRecord } from "../../relay/record.ts";

const FP = Array(32).fill("AB").join(":");
const tmp = () => mkdtempSync(join(tmpdir(), "lumamesh-discover-"));

describe("discoverRelays", () => {
  let ord: OrdServer;
  let registered: ReturnType<typeof relayRecord>;
  beforeAll(async () => {
    ord = await startOrdServer({});
    const state = await loadState(tmp());
    registered = relayRecord(state, "198.51.100.20", 4884, 7001);
    const forged = { ...relayRecord(await loadState(tmp()), "198.51.100.21", 4884, 7002), addr: "198.51.100.66:4884" };
    ord.add({ body: JSON.stringify(registered), content_type: "application/json", sat: 7001 });
    ord.add({ body: JSON.stringify(forged), content_type: "application/json", sat: 7002 });
    ord.add({ body: "x".repeat(70_000), content_type: "application/json", sat: 7003 });
    ord.add({
      body: JSON.stringify({
        lumamesh: 1,
        relays: [
          { addr: "198.51.100.10:4884", fp: FP },
          { sat: 7001 },
          { sat: 7002 },
          { sat: 7003 },
          { sat: 7004 },
          { addr: "nope", fp: FP },
        ],
      }),
      content_type: "application/json",
      sat: SATS.boot,
    });
  });
  afterAll(async () => ord?.stop());

  test("the bootstrap sat through --ord: relays by address, registered relays by the signed record on their sat; forged, oversized and missing records are skipped", async () => {
    const r = await discoverRelays({ ord: [ord.url], compiled: [], dataDir: tmp() });
    expect(r.relays).toEqual([
      { addr: "198.51.100.10:4884", fp: FP },
      { addr: registered.addr, fp: registered.fp },
    ]);
    expect(r.sources).toEqual([
      { source: `${ord.url}/r/sat/${SATS.boot}`, relays: 2 },
      { source: "compiled-in", reason: "empty" },
      { source: CACHE_FILE, reason: "empty" },
    ]);
    expect(ord.log).toContain(`/r/sat/${SATS.boot}/at/-1/content`);
    expect(ord.log).toContain("/r/sat/7001/at/-1/content");
  });

  test("no ord server (--ord none), or one that fails: the compiled relays, then relays.json; each source says what it gave", async () => {
    const dir = tmp();
    writeCache(dir, [
      { addr: "203.0.113.5:4884", fp: FP },
      { addr: "198.51.100.10:4884", fp: FP },
    ]);
    const dead = await startOrdServer({ satIndex: false }); // every /r/sat* is 404, as ord without --index-sats
    try {
      const r = await discoverRelays({ ord: [dead.url], compiled: [{ addr: "198.51.100.10:4884", fp: FP }], dataDir: dir });
      expect(r.relays.map((x) => x.addr)).toEqual(["198.51.100.10:4884", "203.0.113.5:4884"]);
      expect(r.sources).toEqual([
        { source: `${dead.url}/r/sat/${SATS.boot}`, reason: `/r/sat/${SATS.boot}/at/-1/content: HTTP 404` },
        { source: "compiled-in", relays: 1 },
        { source: CACHE_FILE, relays: 2 },
      ]);
    } finally {
      await dead.stop();
    }
    expect((await discoverRelays({ ord: [], compiled: [] })).sources).toEqual([{ source: "compiled-in", reason: "empty" }]);
  });

  test("relays.json: at most 64 kept; unreadable is a reason, not a throw", () => {
    const dir = tmp();
    writeCache(
      dir,
      Array.from({ length: 100 }, (_, i) => ({ addr: `203.0.113.${i}:4884`, fp: FP })),
    );
    expect((readCache(dir) as unknown[]).length).toBe(MAX_CACHED);
    writeFileSync(join(dir, CACHE_FILE), "{");
    expect(readCache(dir)).toBe("not JSON");
  });
});

describe("recordFrames", () => {
  test("every frame starts with this relay's own record, holds at most 40, fits a frame, and together they hold the list once", async () => {
    const me = relayRecord(await loadState(tmp()), "198.51.100.1", 4884, 123456789012);
    const others = await Promise.all(
      Array.from({ length: 95 }, async (_, i) =>
        relayRecord(await loadState(tmp()), `2001:db8:ffff:ffff:ffff:ffff:ffff:${i.toString(16)}`, 65535, 2 ** 40 + i),
      ),
    );
    const frames = recordFrames(me, others);
    expect(frames.length).toBe(3);
    const seen: string[] = [];
    for (const f of frames) {
      const bytes = encode({ t: T.RECORDS, json: f });
      expect(bytes.length).toBeLessThanOrEqual(MAX_FRAME);
      const list = JSON.parse((decode(bytes) as { json: string }).json);
      expect(list[0]).toEqual(me);
      expect(list.length).toBeLessThanOrEqual(40);
      for (const r of list.slice(1)) expect(checkRecord(r)).toEqual(r), seen.push(r.id);
    }
    expect(seen.sort()).toEqual(others.map((r) => r.id).sort());
    // With no address of its own yet: no own record, the others only.
    expect(recordFrames(null, others.slice(0, 3)).map((f) => JSON.parse(f).length)).toEqual([3]);
    expect(recordFrames(null, [])).toEqual([]);
    expect(recordFrames(me, [])).toEqual([JSON.stringify([me])]);
  }, 30_000);
});
