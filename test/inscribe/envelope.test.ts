// Envelope bytes against ord's own documented vectors, and every produced envelope through
// micro-ordinals' parser (an independent implementation) with identical fields and no curse.
import { describe, expect, test } from "bun:test";
import * as btc from "@scure/btc-signer";
import { hex, utf8 } from "@scure/base";
import { parseWitness, parseInscriptions } from "micro-ordinals";
import { CBOR } from "micro-ordinals/cbor.js";
import { brotliDecompressSync } from "node:zlib";
import {
  compressBody,
  encodeInscriptionId,
  encodePointer,
  envelopeScript,
  jsonToCbor,
  mediaForPath,
  revealScript,
  type InscriptionFields,
} from "../../inscribe/envelope.ts";

// A tiny assembler for the notation ord's docs use (OP_FALSE, OP_IF, OP_PUSH "str" | N | 0xHEX,
// OP_ENDIF), written independently of envelope.ts: `OP_PUSH N` is the one-byte data push of N
// (and `OP_PUSH 0` the empty push), as ord's docs mean it.
function assemble(listing: string): Uint8Array {
  const out: number[] = [];
  const push = (b: Uint8Array) => {
    if (b.length < 0x4c) out.push(b.length);
    else if (b.length <= 0xff) out.push(0x4c, b.length);
    else out.push(0x4d, b.length & 0xff, b.length >> 8);
    out.push(...b);
  };
  for (const line of listing
    .trim()
    .split("\n")
    .map((l) => l.trim())) {
    if (line === "OP_FALSE") out.push(0x00);
    else if (line === "OP_IF") out.push(0x63);
    else if (line === "OP_ENDIF") out.push(0x68);
    else if (line.startsWith('OP_PUSH "')) push(utf8.decode(JSON.parse(line.slice(8))));
    else if (line.startsWith("OP_PUSH 0x")) push(hex.decode(line.slice(10)));
    else if (/^OP_PUSH \d+$/.test(line)) {
      const n = Number(line.slice(8));
      push(n === 0 ? new Uint8Array(0) : Uint8Array.of(n));
    } else throw new Error(`bad line ${line}`);
  }
  return Uint8Array.from(out);
}

const HELLO = utf8.decode("Hello, world!");
const TEXT = "text/plain;charset=utf-8";

describe("ord docs vectors", () => {
  test("recursion.md /r/tx example: reveal script, control block and txid", () => {
    // ordinals/ord docs/src/inscriptions/recursion.md, "GET /r/tx/<TRANSACTION_ID>" example:
    // txid 60bcf821240064a9c55225c4f01711b0ebbcab39aa3fafeefe4299ab158536fa
    const raw =
      "0100000000010183572872dcb32bee57003d53c2b8dbb5bc5819ff6478052599911f7778d1c7bd0000000000fdffffff011027000000000000225120e41e0cba05c6ac797cf543ff9a6c619a91a53813e59146d1e32ea89747b111a603407aa50d93d6fc01265fd52d3edc93af4e009ccc1a704ce1b5cb8ede1412a5df31eba587d080b3dc903ceb9002ed9d921aad323fd44d7b4dc2a1ad2ea12d4360424d20c7a3a38df198a4fcde7d5dac5819ed19ff4d25bb893c9511f8e1f51d59326effac0063036f7264010118746578742f706c61696e3b636861727365743d7574662d3800077072696d65730a6821c1c7a3a38df198a4fcde7d5dac5819ed19ff4d25bb893c9511f8e1f51d59326eff00000000";
    const tx = btc.Transaction.fromRaw(hex.decode(raw), { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true });
    expect(tx.id).toBe("60bcf821240064a9c55225c4f01711b0ebbcab39aa3fafeefe4299ab158536fa");
    const w = tx.getInput(0).finalScriptWitness!;
    const key = hex.decode("c7a3a38df198a4fcde7d5dac5819ed19ff4d25bb893c9511f8e1f51d59326eff");
    const script = revealScript(key, { contentType: TEXT, body: utf8.decode("primes\n") });
    expect(hex.encode(script)).toBe(hex.encode(w[1]!));
    // The same leaf through the taproot code path planInscription uses gives the same control block.
    const pay = btc.p2tr(key, { script }, btc.NETWORK, true);
    expect(hex.encode((pay.leaves![0] as any).controlBlock)).toBe(hex.encode(w[2]!));
    // Postage is ord's 10,000-sat default.
    expect(tx.getOutput(0).amount).toBe(10_000n);
    const parsed = parseWitness(w)!;
    expect(parsed).toHaveLength(1);
    expect(parsed[0]!.tags.contentType).toBe(TEXT);
    expect(utf8.encode(parsed[0]!.body)).toBe("primes\n");
    expect(parsed[0]!.cursed).toBe(false);
  });

  test("pointer.md: pointer 255 and 256", () => {
    // ordinals/ord docs/src/inscriptions/pointer.md, both examples.
    const v255 = assemble(`OP_FALSE
      OP_IF
      OP_PUSH "ord"
      OP_PUSH 1
      OP_PUSH "text/plain;charset=utf-8"
      OP_PUSH 2
      OP_PUSH 0xff
      OP_PUSH 0
      OP_PUSH "Hello, world!"
      OP_ENDIF`);
    const v256 = assemble(`OP_FALSE
      OP_IF
      OP_PUSH "ord"
      OP_PUSH 1
      OP_PUSH "text/plain;charset=utf-8"
      OP_PUSH 2
      OP_PUSH 0x0001
      OP_PUSH 0
      OP_PUSH "Hello, world!"
      OP_ENDIF`);
    expect(hex.encode(envelopeScript({ contentType: TEXT, pointer: 255, body: HELLO }))).toBe(hex.encode(v255));
    expect(hex.encode(envelopeScript({ contentType: TEXT, pointer: 256n, body: HELLO }))).toBe(hex.encode(v256));
    expect(hex.encode(encodePointer(0))).toBe("");
    expect(hex.encode(encodePointer(0xffffffffffffffffn))).toBe("ff".repeat(8));
    expect(() => encodePointer(-1)).toThrow(RangeError);
    // pointer 0: one 0x00 byte (ord reads it as 0), not ord's empty push; see envelope.ts
    expect(hex.encode(envelopeScript({ pointer: 0 }))).toBe("0063036f7264" + "0102" + "0100" + "68");
  });

  test("provenance.md: child envelope and parent id encodings (i0, i255, i256)", () => {
    // ordinals/ord docs/src/inscriptions/provenance.md, the example child and the two id encodings.
    const parent = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const child = assemble(`OP_FALSE
      OP_IF
      OP_PUSH "ord"
      OP_PUSH 1
      OP_PUSH "text/plain;charset=utf-8"
      OP_PUSH 3
      OP_PUSH 0x1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100
      OP_PUSH 0
      OP_PUSH "Hello, world!"
      OP_ENDIF`);
    expect(hex.encode(envelopeScript({ contentType: TEXT, parents: [`${parent}i0`], body: HELLO }))).toBe(hex.encode(child));
    expect(hex.encode(encodeInscriptionId(`${parent}i255`))).toBe("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100ff");
    expect(hex.encode(encodeInscriptionId(`${parent}i256`))).toBe("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a090807060504030201000001");
    expect(() => encodeInscriptionId(`${parent}i01`)).toThrow(RangeError);
    expect(() => encodeInscriptionId("zz")).toThrow(RangeError);
  });

  test("chunking matches ord inscription.rs instruction counts", () => {
    // ordinals/ord src/inscriptions/inscription.rs tests reveal_script_chunks_body / _metadata
    // (envelope only, no key: counts include OP_FALSE OP_IF "ord" … OP_ENDIF).
    const n = (f: InscriptionFields) => btc.Script.decode(envelopeScript(f)).length;
    const body = (len: number) => ({ contentType: "foo", body: new Uint8Array(len) });
    expect(n(body(0))).toBe(7);
    expect(n(body(1))).toBe(8);
    expect(n(body(520))).toBe(8);
    expect(n(body(521))).toBe(9);
    expect(n(body(1040))).toBe(9);
    expect(n(body(1041))).toBe(10);
    expect(n({})).toBe(4);
    expect(n({ metadata: new Uint8Array(1) })).toBe(6);
    expect(n({ metadata: new Uint8Array(520) })).toBe(6);
    expect(n({ metadata: new Uint8Array(521) })).toBe(8);
  });

  test("tags and 1-byte values are data pushes, never OP_1..OP_16 (pushnum curse)", () => {
    const s = envelopeScript({ contentType: "x", body: Uint8Array.of(5) });
    // 00 63 03 'ord' | 01 01 01 'x' | 00 | 01 05 | 68
    expect(hex.encode(s)).toBe("0063036f7264" + "0101" + "0178" + "00" + "0105" + "68");
  });
});

test("tag order is ord append_reveal_script_to_builder order: 1, 9, 7, 3…, 11, 2, 5…, body", () => {
  const f: InscriptionFields = {
    metadata: new Uint8Array(600),
    pointer: 1,
    delegate: "cc".repeat(32) + "i0",
    parents: ["aa".repeat(32) + "i0", "bb".repeat(32) + "i1"],
    metaprotocol: "m",
    contentEncoding: "br",
    contentType: "c",
    body: new Uint8Array(1),
  };
  const ops = btc.Script.decode(envelopeScript(f)).slice(3, -1);
  const tags: number[] = [];
  for (let i = 0; i < ops.length && ops[i] !== 0; i += 2) tags.push((ops[i] as Uint8Array)[0]!);
  expect(tags).toEqual([1, 9, 7, 3, 3, 11, 2, 5, 5]);
});

describe("every envelope parses back through micro-ordinals", () => {
  const key = btc.utils.pubSchnorr(new Uint8Array(32).fill(1));
  const P1 = "aa".repeat(32) + "i0";
  const P2 = "bb".repeat(32) + "i7";
  const D = "cc".repeat(32) + "i300";
  const meta = { name: "lumamesh", relays: [{ addr: "1.2.3.4:443", fp: "ab".repeat(32) }], n: 42, neg: -3, ok: true, big: "x".repeat(600) };
  const cases: [string, InscriptionFields][] = [
    ["no body", { contentType: TEXT }],
    ["empty body", { contentType: TEXT, body: new Uint8Array(0) }],
    ["1 byte", { contentType: "application/octet-stream", body: Uint8Array.of(7) }],
    ["520 bytes", { contentType: "application/octet-stream", body: new Uint8Array(520).fill(9) }],
    ["521 bytes", { contentType: "application/octet-stream", body: new Uint8Array(521).fill(9) }],
    [
      "all tags",
      {
        contentType: "text/javascript",
        contentEncoding: "br",
        metaprotocol: "lumamesh",
        parents: [P1, P2],
        delegate: D,
        pointer: 10_000n,
        metadata: jsonToCbor(meta),
        body: new Uint8Array(2000).fill(3),
      },
    ],
    ["pointer 0", { contentType: TEXT, pointer: 0, body: HELLO }],
  ];
  for (const [name, f] of cases)
    test(name, () => {
      const script = revealScript(key, f);
      const parsed = parseInscriptions(btc.Script.decode(script), true);
      expect(parsed).toBeDefined();
      expect(parsed).toHaveLength(1);
      const p = parsed![0]!;
      expect(p.cursed).toBe(false);
      expect(p.tags.contentType).toBe(f.contentType);
      expect(p.tags.contentEncoding).toBe(f.contentEncoding);
      expect(p.tags.metaprotocol).toBe(f.metaprotocol);
      expect(p.tags.delegate as string | undefined).toBe(f.delegate);
      expect(p.tags.pointer).toBe(f.pointer === undefined ? undefined : BigInt(f.pointer));
      const parents = p.tags.parent === undefined ? undefined : ([] as string[]).concat(p.tags.parent as any);
      expect(parents).toEqual(f.parents);
      if (f.metadata) expect(p.tags.metadata).toEqual(meta);
      expect(hex.encode(p.body)).toBe(hex.encode(f.body ?? new Uint8Array(0)));
      expect(p.tags.unknown).toBeUndefined();
    });
});

describe("content helpers", () => {
  test("JSON → CBOR decodes back through micro-ordinals CBOR", () => {
    const v = { a: 1, b: [1, 2, { c: "d" }], e: null, f: false, g: 1.5, h: -100000, i: "é", j: 2 ** 20 };
    expect(CBOR.decode(jsonToCbor(v))).toEqual(v);
    expect(CBOR.decode(jsonToCbor(2 ** 40))).toBe(2n ** 40n); // micro-ordinals returns u64 as bigint
    // RFC 8949 appendix A examples
    expect(hex.encode(jsonToCbor(1000000))).toBe("1a000f4240");
    expect(hex.encode(jsonToCbor(-1000))).toBe("3903e7");
    expect(hex.encode(jsonToCbor([1, [2, 3], [4, 5]]))).toBe("8301820203820405");
    expect(hex.encode(jsonToCbor({ a: 1, b: [2, 3] }))).toBe("a26161016162820203");
    expect(hex.encode(jsonToCbor(1.1))).toBe("fb3ff199999999999a");
  });

  test("brotli: kept only when smaller, and decodes to the original", () => {
    const text = utf8.decode("lumamesh ".repeat(500));
    const c = compressBody(text, "text");
    expect(c.encoding).toBe("br");
    expect(c.body.length).toBeLessThan(text.length);
    expect(hex.encode(new Uint8Array(brotliDecompressSync(c.body)))).toBe(hex.encode(text));
    const noise = crypto.getRandomValues(new Uint8Array(4096));
    const n = compressBody(noise);
    expect(n.encoding).toBeUndefined();
    expect(n.body).toBe(noise);
    expect(compressBody(new Uint8Array(0)).encoding).toBeUndefined();
  });

  test("content type from extension (ord media.rs strings)", () => {
    expect(mediaForPath("dist/lumamesh.js")!.contentType).toBe("text/javascript");
    expect(mediaForPath("a/b.HTML")!.contentType).toBe("text/html;charset=utf-8");
    expect(mediaForPath("boot.json")).toEqual({ contentType: "application/json", mode: "text" });
    expect(mediaForPath("x.png")!.mode).toBe("generic");
    expect(mediaForPath("README")).toBeNull();
    expect(mediaForPath("x.unknownext")).toBeNull();
  });
});
