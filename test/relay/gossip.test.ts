// Gossip between real relay processes: three relays find each other from one bootstrap entry each,
// vouch only for relays they reached, and refuse forged records.
import { describe, test, expect, afterAll } from "bun:test";
import { startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { openRelayLink } from "../../relay/client.ts";
import { generateCertificate } from "../../relay/werift.ts";
import { checkRecord } from "../../relay/record.ts";
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
      if (lists.every((l) => l.length == 3)) break;
      await Bun.sleep(500);
    }
    for (const [i, l] of lists.entries()) {
      expect(l.map((x) => x.id).sort()).toEqual(ids);
      expect(l[0].id).toBe([a, b, c][i].record.id); // each relay lists itself first
      for (const rec of l) expect(checkRecord(rec)).toEqual(rec); // every record verifies
    }
  }, 40000);

  test("a forged or unreachable record is not passed on", async () => {
    const a = procs[0];
    const cert = await generateCertificate();
    const link = await openRelayLink(a.record, cert);
    const genuine = JSON.parse(link.records!)[1];
    // Same relay id, different address: the signature no longer holds.
    const forged = { ...genuine, addr: "127.0.0.1:9", seq: genuine.seq + 1 };
    // A properly signed record of a relay that does not answer: reachable first, or not at all.
    const ghost = relayRecord(await loadState(mkdtempSync(join(tmpdir(), "lumamesh-ghost-"))), "127.0.0.1", 9);
    expect(checkRecord(ghost)).toEqual(ghost);
    link.send({ t: 6, json: JSON.stringify([forged, ghost]) });
    await Bun.sleep(6000); // the probe gives up after 5 s
    const after = await recordsOf(a, cert);
    expect(after.find((r) => r.addr == "127.0.0.1:9")).toBeUndefined();
    expect(after.find((r) => r.id == ghost.id)).toBeUndefined();
    expect(after.length).toBe(3);
    link.close();
  }, 20000);
});
