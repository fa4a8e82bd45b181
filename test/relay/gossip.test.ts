// Gossip between real relay processes: three relays find each other from one bootstrap entry each,
// vouch only for relays they reached, and refuse forged records.
import { describe, test, expect, afterAll } from "bun:test";
import { startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { MAX_PROBE_BYTES, openRelayLink } from "../../relay/client.ts";
import { createSocket } from "node:dgram";
import { generateCertificate } from "../../relay/werift.ts";
import { checkRecord } from "../../relay/record.ts";
import { T } from "../../protocol/frames.ts";
import { loadState, relayRecord } from "../../relay/state.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const procs: RelayProc[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop();
});

async function recordsOf(r: RelayProc, cert: Awaited<ReturnType<typeof generateCertificate>>) {
  const link = await openRelayLink(r.record, cert);
  const list = JSON.parse(link.records ?? "[]");
  link.close();
  return list as any[];
}

describe("gossip", () => {
  test("three relays chained by one bootstrap entry each all learn of each other", async () => {
    const a = await startRelayProc();
    procs.push(a);
    const b = await startRelayProc({ args: ["--peer", `${a.record.addr},${a.record.fp}`] });
    procs.push(b);
    const c = await startRelayProc({ args: ["--peer", `${b.record.addr},${b.record.fp}`] });
    procs.push(c);
    const cert = await generateCertificate();
    const ids = [a, b, c].map((r) => r.record.id).sort();
    const deadline = Date.now() + 20000;
    let lists: any[][] = [];
    while (Date.now() < deadline) {
      lists = await Promise.all([a, b, c].map((r) => recordsOf(r, cert)));
      if (lists.every((l) => l.length === 3)) break;
      await Bun.sleep(500);
    }
    for (const [i, l] of lists.entries()) {
      expect(l.map((x) => x.id).sort()).toEqual(ids);
      expect(l[0].id).toBe([a, b, c][i].record.id); // each relay lists itself first
      for (const rec of l) expect(checkRecord(rec)).toEqual(rec); // every record verifies
    }
  }, 40000);

  /** A relay identity (certificate and Ed25519 key) and its record at `port`: what a relay dialing `a` presents. */
  async function identity(port: number) {
    const state = await loadState(mkdtempSync(join(tmpdir(), "lumamesh-ghost-")));
    return { state, rec: relayRecord(state, "127.0.0.1", port) };
  }
  /** UDP sinks on loopback that count what they receive and never answer. */
  async function sinks(n: number) {
    const out: { sock: ReturnType<typeof createSocket>; bytes: number; port: number }[] = [];
    for (let i = 0; i < n; i++) {
      const sock = createSocket("udp4");
      const s = { sock, bytes: 0, port: 0 };
      sock.on("message", (m) => void (s.bytes += m.length));
      await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
      s.port = sock.address().port;
      out.push(s);
    }
    return out;
  }

  test("a forged or unreachable record is not passed on", async () => {
    const a = procs[0];
    const [sink] = await sinks(1);
    // The sender is a relay: its frame starts with its own record (its certificate, its IP).
    const me = await identity(sink!.port);
    const link = await openRelayLink(a.record, me.state.cert);
    const genuine = JSON.parse(link.records!)[1];
    // Same relay id, different address: the signature no longer holds.
    const forged = { ...genuine, addr: "127.0.0.1:9", seq: genuine.seq + 1 };
    // A properly signed record of a relay that does not answer: reachable first, or not at all.
    const ghost = (await identity(sink!.port)).rec;
    expect(checkRecord(ghost)).toEqual(ghost);
    const mark = a.lines.length;
    link.send({ t: T.RECORDS, json: JSON.stringify([me.rec, forged, ghost]) });
    // Both probes (the sender's own record and the ghost) give up; the forged one is never probed.
    await a.waitFor("gossip.bad", (l) => l.reason === "bad signature", 15000, mark);
    for (const id of [me.rec.id, ghost.id]) await a.waitFor("gossip.unreachable", (l) => l.relay === id.slice(0, 16), 15000, mark);
    expect(a.lines.slice(mark).filter((l) => l.event === "gossip.probe" && l.addr === "127.0.0.1:9")).toEqual([]);
    const after = await recordsOf(a, await generateCertificate());
    expect(after.find((r) => r.addr === "127.0.0.1:9")).toBeUndefined();
    expect(after.find((r) => r.id === ghost.id)).toBeUndefined();
    expect(after.length).toBe(3);
    link.close();
    sink!.sock.close();
  }, 30000);

  test("RECORDS from a session that is not a relay (no record of its own first) are refused: nothing is probed", async () => {
    const a = procs[0];
    const [sink] = await sinks(1);
    const ghost = (await identity(sink!.port)).rec;
    const link = await openRelayLink(a.record, await generateCertificate());
    const mark = a.lines.length;
    link.send({ t: T.RECORDS, json: JSON.stringify([ghost]) });
    await a.waitFor("gossip.refused", () => true, 15000, mark);
    // Still the same session (refused, not dropped): a PING is answered, and nothing was probed.
    const pong = new Promise<void>((res) => (link.onframe = (f) => f.t === T.PONG && res()));
    link.send({ t: T.PING, data: Uint8Array.of(1) });
    await pong;
    expect(a.lines.slice(mark).filter((l) => l.event === "gossip.probe")).toEqual([]);
    expect(sink!.bytes).toBe(0);
    link.close();
    sink!.sock.close();
  }, 30000);

  test("a relay's frame naming 30 addresses that never answer makes the relay send them fewer bytes than the frame had", async () => {
    const a = procs[0];
    const targets = await sinks(30);
    const me = await identity(targets[0]!.port);
    const recs = [me.rec];
    for (const t of targets.slice(1)) recs.push((await identity(t.port)).rec);
    const json = JSON.stringify(recs);
    const link = await openRelayLink(a.record, me.state.cert);
    const mark = a.lines.length;
    link.send({ t: T.RECORDS, json });
    // Each probe sends at most MAX_PROBE_BYTES; the frame pays for json.length / MAX_PROBE_BYTES of them
    // besides the sender's own record. Wait until every probe started so far has given up.
    await a.waitFor("gossip.probe", () => true, 15000, mark);
    const settled = () => {
      const l = a.lines.slice(mark);
      return l.filter((x) => x.event === "gossip.probe").length === l.filter((x) => x.event === "gossip.unreachable").length;
    };
    for (let end = Date.now() + 30000; !settled() && Date.now() < end; ) await Bun.sleep(100);
    expect(settled()).toBe(true);
    const probed = a.lines.slice(mark).filter((l) => l.event === "gossip.probe").length;
    const sent = targets.reduce((n, t) => n + t.bytes, 0);
    expect(probed).toBeGreaterThan(1);
    expect(probed).toBeLessThanOrEqual(1 + Math.floor(json.length / MAX_PROBE_BYTES));
    expect(sent).toBeLessThanOrEqual(json.length); // reflection ≤ 1×
    console.log(`gossip reflection: ${probed} probes, ${sent} bytes sent for a ${json.length}-byte frame`);
    link.close();
    for (const t of targets) t.sock.close();
  }, 60000);
});
