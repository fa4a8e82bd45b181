// src/discover.ts against a hostile bootstrap inscription, served by a real HTTP server answering ord's
// recursive routes (/r/sat/<N>/at/-1/content): a `sat` that is not a safe integer is never requested
// (it could walk the path), and each registered relay's sat is read and checked on its own (one
// sat's content cannot knock out the others). protocol/bootstrap.ts's parser with the same inputs.
import { afterAll, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { discover } from "../../src/discover.ts";
import { parseBootstrap } from "../../protocol/bootstrap.ts";
import { signRecord } from "../../relay/record.ts";

const FP = "AB:".repeat(31) + "AB";
const record = (port: number, sat: number) => {
  const k = generateKeyPairSync("ed25519");
  return signRecord(
    {
      lumamesh: 1,
      addr: `192.0.2.1:${port}`,
      fp: FP,
      id: k.publicKey.export({ type: "spki", format: "der" }).subarray(12).toString("hex"),
      sat,
      seq: 1,
    },
    k.privateKey,
  );
};
const requested: string[] = [];
const content: Record<number, string> = {
  7: JSON.stringify({
    lumamesh: 1,
    relays: [
      { sat: "0/../../../content/abc?" },
      { sat: 1e300 },
      { sat: -1 },
      { sat: 11 },
      { sat: 12 },
      { sat: 13 },
      { addr: "192.0.2.9:4884", fp: FP },
    ],
  }),
  11: JSON.stringify(record(4001, 11)),
  12: "0]", // a sat whose content would break a list it was pasted into
  13: JSON.stringify(record(4003, 13)),
};
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const path = new URL(req.url).pathname;
    requested.push(path);
    const m = /^\/r\/sat\/(\d+)\/at\/-1\/content$/.exec(path);
    return m && content[+m[1]!] ? new Response(content[+m[1]!]) : new Response("not found", { status: 404 });
  },
});
afterAll(() => server.stop(true));

test("parseBootstrap keeps relays and safe-integer sats only", () => {
  const b = parseBootstrap(content[7]!);
  expect(b).toEqual({ relays: [{ addr: "192.0.2.9:4884", fp: FP }], sats: [11, 12, 13] });
  expect(parseBootstrap('{"lumamesh":1,"relays":[{"sat":"12"}]}')).toBe("no valid relay entries");
  expect(parseBootstrap("[")).toBe("not JSON");
});

test("a hostile bootstrap: no path-walking request, each registered relay's sat read on its own, a broken one skipped", async () => {
  const { relays, sources } = await discover({ ord: [server.url.origin], bootSat: 7 }, "http://127.0.0.1/not-an-ord-route.js");
  expect(requested.every((p) => /^\/r\/sat\/\d+\/at\/-1\/content$/.test(p))).toBe(true);
  expect(requested.sort()).toEqual([
    "/r/sat/11/at/-1/content",
    "/r/sat/12/at/-1/content",
    "/r/sat/13/at/-1/content",
    "/r/sat/7/at/-1/content",
  ]);
  // The named relay and both registered relays whose records verify; sat 12's "0]" costs only itself.
  expect(relays.map((r) => r.addr).sort()).toEqual(["192.0.2.1:4001", "192.0.2.1:4003", "192.0.2.9:4884"]);
  expect(sources[0]).toMatchObject({ relays: 3 });
});
