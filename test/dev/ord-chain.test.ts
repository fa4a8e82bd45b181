// The dev ord server's chain indexing parts that the end-to-end test (test/inscribe/ord-index)
// does not reach: the envelope reader its store uses (inscribe/envelope.ts readEnvelopes) against
// envelopes inscribe/envelope.ts writes (ord's byte layout), ord's parsing rules for odd scripts,
// and sat.rs arithmetic behind /sat/<N> (dev/ord/parse.ts).
import { describe, expect, test } from "bun:test";
import { envelopeScript, jsonToCbor, readEnvelopes } from "../../inscribe/envelope.ts";
import { satInfo } from "../../dev/ord-server.ts";

const te = new TextEncoder();
const KEY = new Uint8Array(32).fill(1);
const tapscript = (...parts: Uint8Array[]) => {
  const head = new Uint8Array([0x20, ...KEY, 0xac]);
  const out = new Uint8Array(head.length + parts.reduce((n, p) => n + p.length, 0));
  out.set(head);
  let o = head.length;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
};
const SIG = new Uint8Array(64);
const CONTROL = new Uint8Array(33).fill(0xc0);
const PARENT = `${"12".repeat(31)}34i256`;

describe("readEnvelopes", () => {
  test("every field inscribe/envelope.ts writes reads back, body and metadata across 520-byte chunks", () => {
    const body = new Uint8Array(1300).map((_, k) => k & 0xff);
    const metadata = jsonToCbor({ note: "x".repeat(700) });
    const script = tapscript(
      envelopeScript({
        contentType: "application/json",
        contentEncoding: "br",
        parents: [PARENT],
        delegate: `${"ab".repeat(32)}i0`,
        pointer: 256n,
        metadata,
        body,
      }),
    );
    const [e, ...rest] = readEnvelopes([SIG, script, CONTROL]);
    expect(rest).toEqual([]);
    expect(e!.contentType).toBe("application/json");
    expect(e!.contentEncoding).toBe("br");
    expect(e!.parents).toEqual([PARENT]);
    expect(e!.delegate).toBe(`${"ab".repeat(32)}i0`);
    expect(e!.pointer).toBe(256n);
    expect(e!.metadata).toEqual(metadata);
    expect(e!.body).toEqual(body);
  });

  test("no body tag is body null; an empty body is empty; two envelopes in one script are two", () => {
    const script = tapscript(envelopeScript({ contentType: "text/plain" }), envelopeScript({ body: new Uint8Array() }));
    const es = readEnvelopes([SIG, script, CONTROL]);
    expect(es.map((e) => e.body)).toEqual([null, new Uint8Array()]);
    expect(es[0]!.contentType).toBe("text/plain");
  });

  test("an annex is skipped; key-path spends and unterminated envelopes carry none", () => {
    const script = tapscript(envelopeScript({ body: te.encode("hi") }));
    expect(readEnvelopes([SIG, script, CONTROL, new Uint8Array([0x50, 1])])[0]!.body).toEqual(te.encode("hi"));
    expect(readEnvelopes([SIG])).toEqual([]);
    expect(readEnvelopes([SIG, script.subarray(0, script.length - 1), CONTROL])).toEqual([]); // OP_ENDIF cut off
  });

  test("pushnum values count as pushes (ord's pushnum curse still inscribes); other opcodes end it", () => {
    // OP_FALSE OP_IF "ord" OP_1 "text/plain" OP_0 OP_5 OP_ENDIF: content type tag as OP_1, body [5].
    const ct = te.encode("text/plain");
    const raw = new Uint8Array([0x00, 0x63, 0x03, ...te.encode("ord"), 0x51, ct.length, ...ct, 0x00, 0x55, 0x68]);
    const [e] = readEnvelopes([SIG, tapscript(raw), CONTROL]);
    expect(e!.contentType).toBe("text/plain");
    expect(e!.body).toEqual(new Uint8Array([5]));
    const stutter = new Uint8Array([0x00, 0x63, 0x03, ...te.encode("ord"), 0x76, 0x68]); // OP_DUP inside
    expect(readEnvelopes([SIG, tapscript(stutter), CONTROL])).toEqual([]);
  });

  test("parent values: 32-byte txid + LE index, trailing zeros only in the 4-byte form", () => {
    const txid = new Uint8Array(32).fill(0xaa);
    const env = (parent: Uint8Array) => new Uint8Array([0x00, 0x63, 0x03, ...te.encode("ord"), 0x01, 0x03, parent.length, ...parent, 0x68]);
    const parents = (p: Uint8Array) => readEnvelopes([SIG, tapscript(env(p)), CONTROL])[0]!.parents;
    expect(parents(txid)).toEqual([`${"aa".repeat(32)}i0`]);
    expect(parents(new Uint8Array([...txid, 1, 1]))).toEqual([`${"aa".repeat(32)}i257`]);
    expect(parents(new Uint8Array([...txid, 1, 0]))).toEqual([]);
    expect(parents(new Uint8Array([...txid, 1, 0, 0, 0]))).toEqual([`${"aa".repeat(32)}i1`]);
  });
});

describe("satInfo (ordinals sat.rs, rarity.rs)", () => {
  test("first, block-1 and last sats", () => {
    expect(satInfo(0n)).toMatchObject({ name: "nvtdijuwxlp", degree: "0°0′0″0‴", decimal: "0.0", rarity: "mythic", percentile: "0%" });
    expect(satInfo(5_000_000_000n)).toMatchObject({
      height: 1n,
      name: "nvtcsezkbth",
      degree: "0°1′1″0‴",
      rarity: "uncommon",
      charms: ["uncommon"],
    });
    expect(satInfo(5_000_000_001n)).toMatchObject({ offset: 1n, rarity: "common", charms: [] });
    expect(satInfo(2_099_999_997_689_999n)).toMatchObject({ name: "a", rarity: "uncommon", percentile: "100%" }); // a 1-sat subsidy block: its only sat is its first
    // First sat of the first halving: epic; of block 2016: rare.
    expect(satInfo(1_050_000_000_000_000n)).toMatchObject({ height: 210_000n, epoch: 1n, rarity: "epic", degree: "0°0′336″0‴" });
    expect(satInfo(2016n * 5_000_000_000n).rarity).toBe("rare");
  });
});
