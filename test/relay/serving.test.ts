// relay/serving.ts and the CLI around it: a serving relay saves what it advertises in its data dir,
// and `record`, `address` and `register` print what that running relay advertises without its
// flags repeated (flags given still win); a relay advertising a loopback address says so in its log.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, givenFlags } from "../../relay/config.ts";
import { advertised, network, isLoopback, readServing, writeServing, SERVING_FILE, type Serving } from "../../relay/serving.ts";
import { checkRecord } from "../../relay/record.ts";
import { startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { MemoryChain } from "../../inscribe/testing/chain.ts";
import { startEsplora, type EsploraStandIn } from "../../inscribe/testing/esplora-server.ts";
import { startOrdServer, type OrdServer } from "../../dev/ord-server.ts";

const MAIN = join(import.meta.dir, "../../relay/main.ts");
const HOME = { HOME: "/home/op" };
const tmp = () => mkdtempSync(join(tmpdir(), "lumamesh-serving-"));

/** `lumamesh-relay …` as its own process, with no LUMAMESH_* from the test's environment. */
async function cli(...args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LUMAMESH_")));
  const p = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe", env });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}
const recordOf = async (...args: string[]) => {
  const r = await cli("record", ...args);
  expect(r.code).toBe(0);
  return { rec: checkRecord(JSON.parse(r.out)) as { addr: string; fp: string }, err: r.err };
};

describe("advertised(): per field, flags given, else what the serving relay saved, else the defaults", () => {
  const saved: Serving = { host: "0.0.0.0", port: 4990, ip: "198.51.100.7", network: "regtest", started: "2026-01-01T00:00:00.000Z" };
  const at = (argv: string[], s: Serving | null = saved, env: Record<string, string> = {}) =>
    advertised(parseConfig(argv, { ...HOME, ...env }), givenFlags(argv, { ...HOME, ...env }), s);

  test("the saved address and port when no flag is given; the defaults when nothing was saved", () => {
    expect(at(["record"])).toEqual({ ip: "198.51.100.7", port: 4990, from: { ip: "serving", port: "serving" } });
    expect(at(["record"], null)).toEqual({ ip: "127.0.0.1", port: 4884, from: { ip: "defaults", port: "defaults" } });
  });

  test("each flag given wins for its own field, from argv or the environment", () => {
    expect(at(["record", "--port", "5000"])).toEqual({ ip: "198.51.100.7", port: 5000, from: { ip: "serving", port: "flags" } });
    expect(at(["record", "--public-ip", "203.0.113.9"])).toEqual({ ip: "203.0.113.9", port: 4990, from: { ip: "flags", port: "serving" } });
    expect(at(["record", "--host", "192.0.2.4"])).toMatchObject({ ip: "192.0.2.4", port: 4990 });
    expect(at(["record"], saved, { LUMAMESH_PORT: "6000", LUMAMESH_PUBLIC_IP: "203.0.113.10" })).toMatchObject({
      ip: "203.0.113.10",
      port: 6000,
    });
  });

  test("network(): --network given, else the serving relay's registration network, else mainnet", () => {
    const net = (argv: string[], s: Serving | null) => network(parseConfig(argv, HOME), givenFlags(argv, HOME), s);
    expect(net(["address"], saved)).toBe("regtest");
    expect(net(["address", "--network", "signet"], saved)).toBe("signet");
    expect(net(["address"], { ...saved, network: undefined })).toBe("mainnet");
    expect(net(["address"], null)).toBe("mainnet");
  });

  test("isLoopback: 127/8, ::1 and the unspecified addresses; not private or public ones", () => {
    for (const ip of ["127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1"])
      expect({ ip, loop: isLoopback(ip) }).toEqual({ ip, loop: true });
    for (const ip of ["10.0.0.2", "192.168.1.5", "203.0.113.5", "2001:db8::1", "128.0.0.1"])
      expect({ ip, loop: isLoopback(ip) }).toEqual({ ip, loop: false });
  });

  test("readServing: absent is null; written is read back; unreadable shapes are a reason, not a throw", () => {
    const d = tmp();
    expect(readServing(d)).toBeNull();
    writeServing(d, saved);
    expect(readServing(d)).toEqual(saved);
    for (const [body, why] of [
      ["{", "not JSON"],
      ['{"host":"x","port":70000,"ip":"1.2.3.4","started":"t"}', "expected fields"],
      ['{"host":"x","port":1,"ip":"1.2.3.4","started":"t","network":"moon"}', "expected fields"],
      ["null", "expected fields"],
    ]) {
      writeFileSync(join(d, SERVING_FILE), body);
      expect(readServing(d)).toEqual({ problem: expect.stringContaining(why) });
    }
  });
});

describe("a running relay and its CLI", () => {
  let loop: RelayProc;
  let pub: RelayProc;
  let chain: MemoryChain;
  let es: EsploraStandIn;
  let ord: OrdServer;
  beforeAll(async () => {
    chain = new MemoryChain();
    es = startEsplora({ chain });
    ord = await startOrdServer({ chain, runeIndex: true });
    // Bound to 127.0.0.1 on a port the system picks: the record must say which.
    loop = await startRelayProc();
    pub = await startRelayProc({
      args: ["--public-ip", "203.0.113.5", "--register-esplora", es.url, "--register-ord", ord.url, "--register-network", "regtest"],
    });
  });
  afterAll(async () => {
    await loop?.stop();
    await pub?.stop();
    es?.stop();
    await ord?.stop();
  });

  test("a relay advertising loopback logs a relay.advertise-loopback warning before relay.listening; one advertising a public address does not", async () => {
    const i = loop.lines.findIndex((l) => l.event === "relay.listening");
    const warn = loop.lines.findIndex((l) => l.event === "relay.advertise-loopback");
    expect(warn).toBeGreaterThanOrEqual(0);
    expect(warn).toBeLessThan(i);
    expect(loop.lines[warn]).toMatchObject({ level: "warn", addr: loop.record.addr, hint: expect.stringContaining("--public-ip") });
    expect(pub.lines.some((l) => l.event === "relay.listening")).toBe(true);
    expect(pub.lines.some((l) => l.event === "relay.advertise-loopback")).toBe(false);
  });

  test("serving.json holds the bound host, the real port, the advertised IP and what the relay learned", () => {
    expect(JSON.parse(readFileSync(join(loop.dataDir, SERVING_FILE), "utf8"))).toEqual({
      host: "127.0.0.1",
      port: loop.record.port,
      ip: "127.0.0.1",
      started: expect.any(String),
      // Bound to one address and alone (no --peer, no ord server): that address, unconfirmed.
      learned: {
        pid: loop.proc.pid,
        updated: expect.any(String),
        source: "host",
        confirmed: false,
        confirmedBy: [],
        reports: [],
        sources: expect.any(Array),
        links: 0,
        vouched: 0,
        known: 0,
        pending: 0,
      },
    });
    expect(readServing(pub.dataDir)).toMatchObject({ ip: "203.0.113.5", port: pub.record.port, network: "regtest" });
  });

  test("`record --data-dir D` prints the running relay's address and port, no flags repeated", async () => {
    expect(loop.record.port).not.toBe(4884);
    for (const r of [loop, pub]) {
      const { rec, err } = await recordOf("--data-dir", r.dataDir);
      expect({ addr: rec.addr, fp: rec.fp }).toEqual({ addr: r.record.addr, fp: r.record.fp });
      expect(err).toBe("");
    }
  });

  test("flags given to `record` still win, with a note on stderr naming what the relay advertises", async () => {
    const { rec, err } = await recordOf("--data-dir", pub.dataDir, "--port", "5000");
    expect(rec.addr).toBe("203.0.113.5:5000");
    expect(err).toBe(
      `lumamesh-relay: note: the relay serving from ${pub.dataDir} advertises ${pub.record.addr}; this record has 203.0.113.5:5000 from the flags given\n`,
    );
  });

  test("`address` gives the funding address on the serving relay's network; --network still wins", async () => {
    const a = await cli("address", "--data-dir", pub.dataDir);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^bcrt1p[02-9ac-hj-np-z]{58}\n$/);
    const m = await cli("address", "--data-dir", pub.dataDir, "--network", "mainnet");
    expect(m.out).toMatch(/^bc1p[02-9ac-hj-np-z]{58}\n$/);
    // A relay that does not register itself: mainnet, as before.
    expect((await cli("address", "--data-dir", loop.dataDir)).out).toMatch(/^bc1p/);
  });

  test("`register` plans the record the relay advertises, on its network (unfunded: shows, sends nothing)", async () => {
    const r = await cli("register", "--data-dir", pub.dataDir, "--esplora", es.url, "--ord", ord.url, "--no-wait", "--fee-rate", "2");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Relay record: ${pub.record.addr}  fp ${pub.record.fp}`);
    expect(r.out).toContain("Network: regtest");
    expect(r.out).toContain("Not funded yet");
  });

  test("an unreadable serving.json is named on stderr and the flags and defaults apply", async () => {
    const d = tmp();
    writeFileSync(join(d, SERVING_FILE), "not json");
    const { rec, err } = await recordOf("--data-dir", d, "--public-ip", "203.0.113.8");
    expect(rec.addr).toBe("203.0.113.8:4884");
    expect(err).toBe(
      `lumamesh-relay: note: ${join(d, SERVING_FILE)}: ${SERVING_FILE} is not JSON; using the flags given and the defaults\n`,
    );
  });
});
