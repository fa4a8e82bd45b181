// A lossy path under the handshake: the relay's adapter (relay/session.ts) must complete a DTLS
// handshake whatever part of a flight was lost, as long as the peer keeps retransmitting
// (RFC 6347 §4.2.4). Measured before issue 17: a burst of 128 load-generator handshakes overflowed
// the relay's socket buffer, and the sessions that lost part of the client's flight 5 never opened
// (a retransmitted ClientKeyExchange made werift recompute the extended master secret over a
// transcript that had grown: wrong keys; a CertificateVerify that overtook its Certificate failed the
// session). Loss is made by the test pipe (test/helpers/pipe.ts), never by timing; the timeouts are
// ceilings for a loaded machine (five lost flights take ~3 s of retransmission timers when idle).
import { describe, expect, test } from "bun:test";
import { openPair } from "../helpers/pipe.ts";

interface Rec {
  type: number;
  epoch: number;
  hs?: number;
  bytes: Uint8Array;
}
/** The records of one datagram (RFC 6347 §4.1), with the handshake type of plaintext handshake records. */
function records(d: Uint8Array): Rec[] {
  const out: Rec[] = [];
  for (let o = 0; o + 13 <= d.length; ) {
    const len = (d[o + 11]! << 8) | d[o + 12]!;
    const epoch = (d[o + 3]! << 8) | d[o + 4]!;
    out.push({ type: d[o]!, epoch, hs: d[o] === 22 && epoch === 0 ? d[o + 13] : undefined, bytes: d.subarray(o, o + 13 + len) });
    o += 13 + len;
  }
  return out;
}
const join = (rs: Rec[]) => {
  const out = new Uint8Array(rs.reduce((n, r) => n + r.bytes.length, 0));
  let o = 0;
  for (const r of rs) out.set(r.bytes, o), (o += r.bytes.length);
  return out;
};

/** Loses, the first time they are sent by the client, the records `lose` picks; everything else passes. */
function loseOnce(lose: (r: Rec) => boolean) {
  const lost = new Set<string>();
  return (fromServer: boolean, d: Uint8Array) => {
    if (fromServer) return d;
    return join(
      records(d).filter((r) => {
        const k = `${r.type}/${r.epoch}/${r.hs}`;
        if (!lose(r) || lost.has(k)) return true;
        lost.add(k);
        return false;
      }),
    );
  };
}

describe("handshake over a lossy path", () => {
  test("the client's ChangeCipherSpec and Finished are lost once: its retransmitted flight 5 completes the handshake", async () => {
    const p = await openPair({ edit: loseOnce((r) => r.type === 20 || (r.type === 22 && r.epoch === 1)) });
    expect(p.s.closes).toEqual([]);
    p.s.session.send(Uint8Array.of(1));
    p.c.session.send(Uint8Array.of(2));
    const { until } = await import("../helpers/pipe.ts");
    await until(() => p.s.messages.length === 1 && p.c.messages.length === 1, 30000, "a message each way");
    p.c.session.close();
  }, 60000);

  test("the client's Certificate and ClientKeyExchange are lost once (its CertificateVerify arrives first): the handshake completes", async () => {
    const p = await openPair({ edit: loseOnce((r) => r.hs === 11 || r.hs === 16) });
    expect(p.s.closes).toEqual([]);
    expect(p.s.session.remoteFingerprint).toBeString();
    p.c.session.close();
  }, 60000);

  test("the server's whole flight 4 is lost five times over: the client's retransmitted hellos still get it", async () => {
    let lost = 0;
    const p = await openPair({ drop: (fromServer, d) => fromServer && records(d).some((r) => r.hs === 2) && lost++ < 5 });
    expect(lost).toBeGreaterThanOrEqual(5);
    expect(p.c.opened).toBe(1);
    p.c.session.close();
  }, 60000);
});
