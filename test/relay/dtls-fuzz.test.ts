// Structure-aware mutation fuzzing of the relay's DTLS server handshake (relay/dtls-server.ts): real
// handshakes of werift's client recorded (X25519 and P-256, with and without the extended master
// secret), replayed into fresh ServerHandshakes with their messages, records and datagrams mutated
// (test/helpers/dtls-fuzz.ts says what and how each case is judged). A fixed seed: the same cases on
// every run (their bytes differ with each recording's keys; every assertion is an invariant). Every op
// alone first, then random combinations, then the fuzz command in a process with a deadline (a case
// that hangs the handshake fails there instead of hanging the test run). bench/fuzz.ts --dtls: longer.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { MAX_FRAGMENT_RANGES } from "../../relay/dtls-records.ts";
import {
  OPS,
  X25519_BAD,
  cleanCase,
  fuzzDtls,
  judge,
  makeCase,
  messagesCase,
  staleCopyCase,
  recordAll,
  replay,
  rng,
  type Recording,
  type Result,
} from "../helpers/dtls-fuzz.ts";

let recs: Recording[];
beforeAll(async () => {
  recs = await recordAll();
});

describe("the harness", () => {
  test("clean replays of the four recorded handshakes complete, with the recorded keys and client certificate", () => {
    expect(recs.map((r) => r.name)).toEqual(["x25519+ems", "x25519", "p256+ems", "p256"]);
    for (const rec of recs) {
      const { outcome, violations } = judge(cleanCase(rec));
      expect(violations).toEqual([]);
      expect(outcome.result).toBe("completed");
      // flight 4 (five records), then ChangeCipherSpec and the Finished
      expect(outcome.sent.map((s) => s.rec[0])).toEqual([22, 22, 22, 22, 22, 20, 22]);
    }
  });

  test("it can fail: a replay made with another server random does not complete (the client's Finished is over the recorded one)", () => {
    for (const rec of recs) {
      const other = { ...rec, serverRandom: Buffer.from(rec.serverRandom).fill(7, 0, 4) };
      const o = replay(other, cleanCase(rec).deliveries);
      expect(o.result).not.toBe("completed");
      expect(judge({ ...cleanCase(other), expect: "complete" }).violations.length).toBeGreaterThan(0);
    }
  });

  test("the Finished resealed for unchanged messages is werift's own, byte for byte", () => {
    for (const rec of recs) {
      const c = messagesCase(rec, () => {}, true, "complete");
      expect(c.deliveries.map((d) => Buffer.from(d.d).toString("hex"))).toEqual(rec.datagrams.map((d) => Buffer.from(d).toString("hex")));
    }
  });
});

describe("directed hostile inputs", () => {
  const x = () => recs.filter((r) => r.curve === 29);
  const p = () => recs.filter((r) => r.curve === 23);
  const share = (point: Uint8Array) => (ms: { role: string; body: Uint8Array }[]) => {
    ms.find((m) => m.role === "ClientKeyExchange")!.body = Uint8Array.from([point.length, ...point]);
  };

  /** A key share of `point` is refused with an alert, never a session, with the Finished resealed for it or not. */
  const refused = (rec: Parameters<typeof messagesCase>[0], point: Uint8Array) => {
    for (const reseal of [false, true]) {
      const { outcome, violations } = judge(messagesCase(rec, share(point), reseal));
      expect(violations).toEqual([]);
      expect(outcome.result).toBe("failed-alert");
    }
  };

  test("small-order and non-canonical X25519 points: refused with an alert, never a session (the Finished resealed for them too)", () => {
    for (const rec of x()) for (const point of X25519_BAD) refused(rec, point);
  });

  test("P-256 points off the curve, out of range, at infinity, compressed: refused with an alert", () => {
    const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
    const be = (n: bigint) => Buffer.from(n.toString(16).padStart(64, "0"), "hex");
    for (const rec of p()) {
      const points = [
        Uint8Array.from([4, ...new Uint8Array(64)]),
        Uint8Array.from([4, ...be(1n), ...be(1n)]),
        Uint8Array.from([4, ...be(P), ...be(P)]),
        Uint8Array.of(0),
        Uint8Array.from([2, ...be(5n)]),
        Uint8Array.from([4, ...new Uint8Array(63)]),
      ];
      for (const point of points) refused(rec, point);
    }
  });

  test("a CertificateVerify signature of the wrong length or shape: decode_error or decrypt_error, never a session", () => {
    const sigs = [0, 1, 8, 64, 70, 73, 140, 2000].map((n) => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0x30 : i)));
    for (const rec of recs)
      for (const sig of sigs) {
        const c = messagesCase(
          rec,
          (ms) => {
            const cv = ms.find((m) => m.role === "CertificateVerify")!;
            cv.body = Uint8Array.from([cv.body[0]!, cv.body[1]!, sig.length >> 8, sig.length & 255, ...sig]);
          },
          true,
        );
        const { outcome, violations } = judge(c);
        expect(violations).toEqual([]);
        expect(outcome.result).toBe("failed-alert");
        expect(outcome.fail).toMatch(/bad CertificateVerify signature|unreadable certificate/);
      }
  });

  test("a copy of the CertificateVerify numbered below flight 5 is stale: dropped unread, the handshake completes (a fuzzer oracle fix)", () => {
    // Found by `npm run fuzz -- --dtls` (2,000,000 cases, seed 777002): the oracle called a case
    // whose extra CertificateVerify was renumbered 0 a tampering that must never complete.
    for (const rec of recs) {
      const c = staleCopyCase(rec, 0);
      expect(c.expect).toBe("complete");
      const { outcome, violations } = judge(c);
      expect(violations).toEqual([]);
      expect(outcome.result).toBe("completed");
      expect(outcome.drops["dtls.handshake-out-of-order"]).toBe(1);
      // Numbered as the ClientKeyExchange, the copy shares a number the client MACed: the oracle
      // cannot say which of the two a server takes, so it claims nothing (the filter is for stale numbers only).
      expect(staleCopyCase(rec, 3).expect).toBe("any");
    }
  });

  test("another certificate than the one that signed (the relay's own, valid), the Finished resealed: decrypt_error", () => {
    for (const rec of recs) {
      const c = messagesCase(
        rec,
        (ms) => {
          const n = rec.otherCert.length;
          const inner = [n >> 16, (n >> 8) & 255, n & 255, ...rec.otherCert];
          ms.find((m) => m.role === "Certificate")!.body = Uint8Array.from([0, inner.length >> 8, inner.length & 255, ...inner]);
        },
        true,
      );
      const { outcome, violations } = judge(c);
      expect(violations).toEqual([]);
      expect(outcome.fail).toBe("handshake-failed: bad CertificateVerify signature");
    }
  });

  test("resends: 50 copies of the hello get flight 4 once; 50 of the Finished flight 6 once, then once per 400 ms", () => {
    for (const rec of recs) {
      const [hello, flight5] = rec.datagrams as [Uint8Array, Uint8Array];
      const fin = flight5.subarray(flight5.length - 61); // the Finished: 13 + 8 + 24 + 16 bytes
      expect(fin[0]).toBe(22);
      expect(fin[4]).toBe(1);
      const d = [{ d: hello, now: 1000 }];
      for (let i = 0; i < 50; i++) d.push({ d: hello, now: 1001 });
      d.push({ d: flight5, now: 1002 });
      for (let i = 0; i < 50; i++) d.push({ d: fin, now: 1500 });
      d.push({ d: fin, now: 1700 }, { d: fin, now: 1900 });
      const o = replay(rec, d);
      expect(o.violations).toEqual([]);
      expect(o.result).toBe("completed");
      const serverHellos = o.sent.filter((s) => s.rec[0] === 22 && s.rec[4] === 0 && s.rec[13] === 2).map((s) => s.now);
      const finisheds = o.sent.filter((s) => s.rec[0] === 22 && s.rec[4] === 1).map((s) => s.now);
      expect(serverHellos).toEqual([1000, 1001]);
      expect(finisheds).toEqual([1002, 1500, 1900]);
      expect(o.drops["dtls.retransmit-too-soon"]).toBe(49 + 49 + 1);
    }
  });
});

describe("every op alone", () => {
  test("each op on each recording, 20 seeds (message-level ops also with the Finished resealed): no violation", () => {
    const seen: Record<string, Record<Result, number>> = {};
    const never: Record<string, number> = {};
    let n = 0;
    for (const op of OPS)
      for (const rec of recs)
        for (let seed = 1; seed <= 20; seed++)
          for (const reseal of op.phase === 1 && !op.noReseal ? [false, true] : [false]) {
            const c = makeCase(rec, rng(seed * 7919 + op.name.length), [op.name], reseal);
            const { outcome, violations } = judge(c);
            if (violations.length) throw new Error(`${violations.join(" | ")}: ${c.rec.name} [${c.ops.join("; ")}]`);
            const k = `${op.name}${reseal ? " (resealed)" : ""}`;
            seen[k] ??= { completed: 0, "failed-alert": 0, "failed-peer-alert": 0, stalled: 0 };
            seen[k][outcome.result]++;
            if (c.expect === "never") never[op.name] = (never[op.name] ?? 0) + 1;
            n++;
          }
    expect(n).toBeGreaterThan(OPS.length * 80);
    // Framing alone always completes; most message-level ops change what the client signed or MACed
    // (those cases never complete: judge() says so), the rest changed nothing or only after the Finished.
    for (const op of OPS.filter((o) => o.kind === "benign")) expect(seen[op.name]!.completed).toBe(80);
    for (const op of OPS.filter((o) => o.kind === "tamper" || o.kind === "lose")) expect(never[op.name]).toBeGreaterThan(60);
    // Key shares and signatures are refused with an alert.
    for (const k of ["key-share", "key-share (resealed)", "signature"]) expect(seen[k]!["failed-alert"]).toBeGreaterThan(60);
  });
});

describe("fuzz: random combinations of ops", () => {
  test("6,000 cases (seed 0xd7150001): no violation, and each kind of outcome reached", () => {
    const res = fuzzDtls(recs, 6000, 0xd7150001);
    if (res.violations) console.error(res.failures.join("\n\n"));
    expect(res.violations).toBe(0);
    // every op was drawn; every kind of outcome happened
    for (const op of OPS) expect(res.ops[op.name] ?? 0).toBeGreaterThan(0);
    expect(res.ops["resealed Finished"]).toBeGreaterThan(500);
    for (const r of ["completed", "failed-alert", "failed-peer-alert", "stalled"] as Result[]) expect(res.results[r]).toBeGreaterThan(50);
    expect(res.byExpect.complete.completed).toBeGreaterThan(1000); // (every one of them: no violation)
    expect(res.byExpect.never.completed).toBe(0);
    expect(res.byExpect.any.completed).toBeGreaterThan(100);
    expect(res.maxRanges).toBe(MAX_FRAGMENT_RANGES); // the fragment floods reach the cap
  });

  test("the fuzz command (npm run fuzz -- --dtls) on another seed, in a process with a deadline", async () => {
    const seed = 0xd7150002;
    const p = Bun.spawn(
      [process.execPath, join(import.meta.dir, "../../bench/fuzz.ts"), "--dtls", "--cases", "4000", "--seed", String(seed), "--json"],
      { stdout: "pipe", stderr: "pipe" },
    );
    // A case that hangs the handshake never exits: the deadline turns it into a failure.
    const killer = setTimeout(() => p.kill("SIGKILL"), 90_000);
    const code = await p.exited;
    clearTimeout(killer);
    const out = await new Response(p.stdout).text();
    if (code !== 0) console.error(out, await new Response(p.stderr).text());
    expect(code).toBe(0);
    const res = JSON.parse(out.trim().split("\n").pop()!);
    expect(res.cases).toBe(4000);
    expect(res.seed).toBe(seed);
    expect(res.violations).toBe(0);
    expect(res.results.completed).toBeGreaterThan(0);
  }, 120_000);
});
