// Tests for relay/stun.ts: RFC 5769 vectors, encode/parse round trips, the ICE-lite responder's
// accept and reject paths, and a fuzz loop. Reference implementations kept here as oracles:
// a table CRC-32 (the module uses node:zlib's) and a small Buffer-based STUN writer (the module's
// encoder is not used to build the requests the responder is judged on).

import { describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import {
  ATTR,
  CLASS,
  METHOD_BINDING,
  STUN_REASONS,
  _internal,
  checkFingerprint,
  checkIntegrity,
  decodeXorAddress,
  encodeStun,
  getAttr,
  handleStun,
  isStun,
  parseStun,
  xorAddress,
  type StunAttr,
  type StunDecision,
  type StunMessage,
} from "../../relay/stun.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+|\/\/[^\n]*/g, ""), "hex"));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// ---------------------------------------------------------------------------------------------
// RFC 5769 "Test Vectors for Session Traversal Utilities for NAT (STUN)", April 2010,
// https://www.rfc-editor.org/rfc/rfc5769 — transcribed from §2.1–§2.4 (comments as in the RFC).

const RFC5769_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt";
const RFC5769_TXID = hex("b7e7a701 bc34d686 fa87dfae");

// §2.1 Sample Request. Software "STUN test client", username "evtj:h6vY", password above.
const RFC5769_REQUEST = hex(`
  00 01 00 58   // Request type and message length
  21 12 a4 42   // Magic cookie
  b7 e7 a7 01   // }
  bc 34 d6 86   // }  Transaction ID
  fa 87 df ae   // }
  80 22 00 10   // SOFTWARE attribute header
  53 54 55 4e   // }
  20 74 65 73   // }  User-agent...
  74 20 63 6c   // }  ...name
  69 65 6e 74   // }
  00 24 00 04   // PRIORITY attribute header
  6e 00 01 ff   // ICE priority value
  80 29 00 08   // ICE-CONTROLLED attribute header
  93 2f f9 b1   // }  Pseudo-random tie breaker...
  51 26 3b 36   // }   ...for ICE control
  00 06 00 09   // USERNAME attribute header
  65 76 74 6a   // }
  3a 68 36 76   // }  Username (9 bytes) and padding (3 bytes)
  59 20 20 20   // }
  00 08 00 14   // MESSAGE-INTEGRITY attribute header
  9a ea a7 0c   // }
  bf d8 cb 56   // }
  78 1e f2 b5   // }  HMAC-SHA1 fingerprint
  b2 d3 f2 49   // }
  c1 b5 71 a2   // }
  80 28 00 04   // FINGERPRINT attribute header
  e5 7a 3b cf   // CRC32 fingerprint
`);

// §2.2 Sample IPv4 Response. Software "test vector", mapped address 192.0.2.1 port 32853.
const RFC5769_IPV4_RESPONSE = hex(`
  01 01 00 3c   // Response type and message length
  21 12 a4 42   // Magic cookie
  b7 e7 a7 01   // }
  bc 34 d6 86   // }  Transaction ID
  fa 87 df ae   // }
  80 22 00 0b   // SOFTWARE attribute header
  74 65 73 74   // }
  20 76 65 63   // }  UTF-8 server name
  74 6f 72 20   // }
  00 20 00 08   // XOR-MAPPED-ADDRESS attribute header
  00 01 a1 47   // Address family (IPv4) and xor'd mapped port number
  e1 12 a6 43   // Xor'd mapped IPv4 address
  00 08 00 14   // MESSAGE-INTEGRITY attribute header
  2b 91 f5 99   // }
  fd 9e 90 c3   // }
  8c 74 89 f9   // }  HMAC-SHA1 fingerprint
  2a f9 ba 53   // }
  f0 6b e7 d7   // }
  80 28 00 04   // FINGERPRINT attribute header
  c0 7d 4c 96   // CRC32 fingerprint
`);

// §2.3 Sample IPv6 Response. Mapped address 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
const RFC5769_IPV6_RESPONSE = hex(`
  01 01 00 48   // Response type and message length
  21 12 a4 42   // Magic cookie
  b7 e7 a7 01   // }
  bc 34 d6 86   // }  Transaction ID
  fa 87 df ae   // }
  80 22 00 0b   // SOFTWARE attribute header
  74 65 73 74   // }
  20 76 65 63   // }  UTF-8 server name
  74 6f 72 20   // }
  00 20 00 14   // XOR-MAPPED-ADDRESS attribute header
  00 02 a1 47   // Address family (IPv6) and xor'd mapped port number
  01 13 a9 fa   // }
  a5 d3 f1 79   // }  Xor'd mapped IPv6 address
  bc 25 f4 b5   // }
  be d2 b9 d9   // }
  00 08 00 14   // MESSAGE-INTEGRITY attribute header
  a3 82 95 4e   // }
  4b e6 7b f1   // }
  17 84 c9 7c   // }  HMAC-SHA1 fingerprint
  82 92 c2 75   // }
  bf e3 ed 41   // }
  80 28 00 04   // FINGERPRINT attribute header
  c8 fb 0b 4c   // CRC32 fingerprint
`);

// §2.4 Sample Request with Long-Term Authentication. Username "マトリックス" (U+30DE U+30C8 U+30EA
// U+30C3 U+30AF U+30B9), password "TheMatrIX" after SASLprep, nonce "f//499k954d6OL34oL9FSTvy64sA",
// realm "example.org". No FINGERPRINT. Key = MD5(username ":" realm ":" password), RFC 5389 §15.4.
const RFC5769_LONG_TERM_REQUEST = hex(`
  00 01 00 60   // Request type and message length
  21 12 a4 42   // Magic cookie
  78 ad 34 33   // }
  c6 ad 72 c0   // }  Transaction ID
  29 da 41 2e   // }
  00 06 00 12   // USERNAME attribute header
  e3 83 9e e3   // }
  83 88 e3 83   // }
  aa e3 83 83   // }  Username value (18 bytes) and padding (2 bytes)
  e3 82 af e3   // }
  82 b9 00 00   // }
  00 15 00 1c   // NONCE attribute header
  66 2f 2f 34   // }
  39 39 6b 39   // }
  35 34 64 36   // }
  4f 4c 33 34   // }  Nonce value
  6f 4c 39 46   // }
  53 54 76 79   // }
  36 34 73 41   // }
  00 14 00 0b   // REALM attribute header
  65 78 61 6d   // }
  70 6c 65 2e   // }  Realm value (11 bytes) and padding (1 byte)
  6f 72 67 00   // }
  00 08 00 14   // MESSAGE-INTEGRITY attribute header
  f6 70 24 65   // }
  6d d6 4a 3e   // }
  02 b8 e0 71   // }  HMAC-SHA1 fingerprint
  2e 85 c9 a2   // }
  8c a8 96 66   // }
`);

// ---------------------------------------------------------------------------------------------
// Oracles

/** Plain table CRC-32 (ISO-HDLC, reflected 0xEDB88320), the one RFC 8489 §14.7 names. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function refCrc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Reference STUN writer, deliberately naive: Buffer.concat of pieces, length patched per step.
 * `mi`: 'ok' key, a wrong key, or absent; `afterMi`: raw attributes to smuggle in after MI.
 */
function refMessage(o: {
  type?: number;
  txid?: Uint8Array;
  attrs: [number, Uint8Array][];
  key?: Uint8Array;
  afterMi?: [number, Uint8Array][];
  fingerprint?: boolean;
  cookie?: number;
}): Uint8Array {
  const attr = (t: number, v: Uint8Array) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(t, 0);
    h.writeUInt16BE(v.length, 2);
    return Buffer.concat([h, Buffer.from(v), Buffer.alloc((4 - (v.length % 4)) % 4)]);
  };
  const header = Buffer.alloc(20);
  header.writeUInt16BE(o.type ?? 0x0001, 0);
  header.writeUInt32BE(o.cookie ?? 0x2112a442, 4);
  Buffer.from(o.txid ?? RFC5769_TXID).copy(header, 8);
  let body = Buffer.concat(o.attrs.map(([t, v]) => attr(t, v)));
  if (o.key) {
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac("sha1", o.key)
      .update(Buffer.concat([header, body]))
      .digest();
    body = Buffer.concat([body, attr(0x0008, mac)]);
  }
  if (o.afterMi) body = Buffer.concat([body, ...o.afterMi.map(([t, v]) => attr(t, v))]);
  if (o.fingerprint !== false) {
    header.writeUInt16BE(body.length + 8, 2);
    const crc = (refCrc32(Buffer.concat([header, body])) ^ 0x5354554e) >>> 0;
    const v = Buffer.alloc(4);
    v.writeUInt32BE(crc, 0);
    body = Buffer.concat([body, attr(0x8028, v)]);
  }
  header.writeUInt16BE(body.length, 2);
  return new Uint8Array(Buffer.concat([header, body]));
}

// ---------------------------------------------------------------------------------------------
// A browser-like ICE connectivity check (attributes in Chromium's order, with its extras).

const UFRAG = "Qm9vdHN0cmFwK1JlbGF5L0x1bWFtZXNo"; // 32 ice-chars, like the library's random value
const FROM4 = { address: "203.0.113.7", port: 50123 };
const FROM6 = { address: "2001:db8::42", port: 61000 };
const tieBreaker = hex("0123456789abcdef");
const googNetworkInfo = hex("0001 0000"); // GOOG-NETWORK-INFO 0xC057: network id, cost
const priority = hex("6e7f1eff");

function check(
  o: {
    username?: string | null;
    role?: "controlling" | "controlled" | "both" | "none";
    key?: Uint8Array | null;
    fingerprint?: boolean;
    useCandidate?: boolean;
    extra?: [number, Uint8Array][];
    afterMi?: [number, Uint8Array][];
    txid?: Uint8Array;
  } = {},
): Uint8Array {
  const attrs: [number, Uint8Array][] = [];
  if (o.username !== null) attrs.push([ATTR.USERNAME, utf8(o.username ?? `${UFRAG}:${UFRAG}`)]);
  attrs.push([0xc057, googNetworkInfo]);
  const role = o.role ?? "controlling";
  if (role === "controlling" || role === "both") attrs.push([ATTR.ICE_CONTROLLING, tieBreaker]);
  if (role === "controlled" || role === "both") attrs.push([ATTR.ICE_CONTROLLED, tieBreaker]);
  if (o.useCandidate) attrs.push([ATTR.USE_CANDIDATE, new Uint8Array(0)]);
  attrs.push([ATTR.PRIORITY, priority]);
  attrs.push([0x8070, hex("00000003")]); // comprehension-optional extra seen from Chromium
  if (o.extra) attrs.push(...o.extra);
  const key = o.key === null ? undefined : (o.key ?? utf8(UFRAG));
  return refMessage({ txid: o.txid ?? hex("a1a2a3a4a5a6a7a8a9aaabac"), attrs, key, afterMi: o.afterMi, fingerprint: o.fingerprint });
}

function expectIgnore(d: StunDecision, reason: string): void {
  expect(d).toEqual({ type: "ignore", reason });
}

/** An error decision whose reply is a well-formed Binding error response carrying `code`. */
function expectError(d: StunDecision, code: number, reason: string, req: Uint8Array, key?: Uint8Array): StunMessage {
  expect(d.type).toBe("error");
  if (d.type !== "error") throw new Error("unreachable");
  expect(d.reason).toBe(reason);
  const r = parseStun(d.reply)!;
  expect(r).not.toBeNull();
  expect(r.method).toBe(METHOD_BINDING);
  expect(r.cls).toBe(CLASS.ERROR);
  expect(toHex(r.txid)).toBe(toHex(req.subarray(8, 20)));
  const ec = getAttr(r, ATTR.ERROR_CODE)!;
  expect(ec[2]! * 100 + ec[3]!).toBe(code);
  expect(checkFingerprint(r)).toBe(true);
  expect(refCrc32(d.reply.subarray(0, r.fingerprintOffset)) ^ 0x5354554e).toBe(Buffer.from(d.reply).readInt32BE(r.fingerprintOffset + 4));
  if (key) expect(checkIntegrity(r, key)).toBe(true);
  else expect(r.integrityOffset).toBe(-1); // 400 and 401 never carry MESSAGE-INTEGRITY
  return r;
}

// ---------------------------------------------------------------------------------------------

describe("RFC 5769 vectors", () => {
  const key = utf8(RFC5769_PASSWORD);

  test('oracle CRC-32 agrees with the module on the vectors (and the check value "123456789")', () => {
    expect(refCrc32(utf8("123456789"))).toBe(0xcbf43926);
    for (const v of [RFC5769_REQUEST, RFC5769_IPV4_RESPONSE, RFC5769_IPV6_RESPONSE]) {
      const m = parseStun(v)!;
      expect(((refCrc32(v.subarray(0, m.fingerprintOffset)) ^ 0x5354554e) >>> 0).toString(16)).toBe(
        toHex(v.subarray(m.fingerprintOffset + 4)).replace(/^0+/, ""),
      );
    }
  });

  test("§2.1 sample request: parse, integrity, fingerprint", () => {
    expect(isStun(RFC5769_REQUEST)).toBe(true);
    const m = parseStun(RFC5769_REQUEST)!;
    expect(m).not.toBeNull();
    expect(m.method).toBe(METHOD_BINDING);
    expect(m.cls).toBe(CLASS.REQUEST);
    expect(toHex(m.txid)).toBe(toHex(RFC5769_TXID));
    expect(m.attrs.map((a) => a.type)).toEqual([
      ATTR.SOFTWARE,
      ATTR.PRIORITY,
      ATTR.ICE_CONTROLLED,
      ATTR.USERNAME,
      ATTR.MESSAGE_INTEGRITY,
      ATTR.FINGERPRINT,
    ]);
    expect(new TextDecoder().decode(getAttr(m, ATTR.SOFTWARE))).toBe("STUN test client");
    expect(new TextDecoder().decode(getAttr(m, ATTR.USERNAME))).toBe("evtj:h6vY"); // padding not in the value
    expect(toHex(getAttr(m, ATTR.PRIORITY)!)).toBe("6e0001ff");
    expect(toHex(getAttr(m, ATTR.ICE_CONTROLLED)!)).toBe("932ff9b151263b36");
    expect(m.integrityOffset).toBe(20 + 20 + 8 + 12 + 16);
    expect(m.fingerprintOffset).toBe(m.integrityOffset + 24);
    expect(checkIntegrity(m, key)).toBe(true);
    expect(checkIntegrity(m, utf8("VOkJxbRl1RmTxUk/WvJxBu"))).toBe(false);
    expect(checkFingerprint(m)).toBe(true);
    // zero-copy: views into the datagram, and the integrity check left it as it was
    expect(m.raw).toBe(RFC5769_REQUEST);
    expect(getAttr(m, ATTR.USERNAME)!.buffer).toBe(RFC5769_REQUEST.buffer);
    expect(toHex(RFC5769_REQUEST.subarray(0, 4))).toBe("00010058");
  });

  test("§2.2 IPv4 response: parse, integrity, fingerprint, XOR-MAPPED-ADDRESS = 192.0.2.1:32853", () => {
    const m = parseStun(RFC5769_IPV4_RESPONSE)!;
    expect(m.cls).toBe(CLASS.SUCCESS);
    expect(m.method).toBe(METHOD_BINDING);
    expect(new TextDecoder().decode(getAttr(m, ATTR.SOFTWARE))).toBe("test vector");
    expect(checkIntegrity(m, key)).toBe(true);
    expect(checkFingerprint(m)).toBe(true);
    expect(decodeXorAddress(getAttr(m, ATTR.XOR_MAPPED_ADDRESS)!, m.txid)).toEqual({ address: "192.0.2.1", port: 32853, family: 4 });
    expect(toHex(xorAddress("192.0.2.1", 32853, m.txid))).toBe(toHex(getAttr(m, ATTR.XOR_MAPPED_ADDRESS)!));
  });

  test("§2.3 IPv6 response: parse, integrity, fingerprint, XOR-MAPPED-ADDRESS", () => {
    const m = parseStun(RFC5769_IPV6_RESPONSE)!;
    expect(checkIntegrity(m, key)).toBe(true);
    expect(checkFingerprint(m)).toBe(true);
    expect(decodeXorAddress(getAttr(m, ATTR.XOR_MAPPED_ADDRESS)!, m.txid)).toEqual({
      address: "2001:db8:1234:5678:11:2233:4455:6677",
      port: 32853,
      family: 6,
    });
    expect(toHex(xorAddress("2001:db8:1234:5678:11:2233:4455:6677", 32853, m.txid))).toBe(toHex(getAttr(m, ATTR.XOR_MAPPED_ADDRESS)!));
  });

  test("§2.4 long-term request: integrity with MD5(username:realm:password), no fingerprint", () => {
    const m = parseStun(RFC5769_LONG_TERM_REQUEST)!;
    expect(m.fingerprintOffset).toBe(-1);
    expect(checkFingerprint(m)).toBe(false);
    expect(new TextDecoder().decode(getAttr(m, ATTR.USERNAME))).toBe("\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9");
    const ltKey = createHash("md5").update("\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9:example.org:TheMatrIX").digest();
    expect(checkIntegrity(m, ltKey)).toBe(true);
    expect(checkIntegrity(m, utf8("TheMatrIX"))).toBe(false);
  });

  // RFC 5769 pads with spaces (0x20); encodeStun pads with zeros. _internal.encode takes the padding
  // byte, so with 0x20 all three vectors are reproduced byte for byte, MESSAGE-INTEGRITY and
  // FINGERPRINT included; with zeros only the padding-free §2.1 prefix can match.
  const reencode = (v: Uint8Array, pad: number) => {
    const m = parseStun(v)!;
    const attrs = m.attrs.filter((a) => a.type !== ATTR.MESSAGE_INTEGRITY && a.type !== ATTR.FINGERPRINT);
    return _internal.encode({ method: m.method, cls: m.cls, txid: m.txid, attrs }, { integrityKey: key, fingerprint: true }, pad);
  };
  test("re-encoding §2.1/§2.2/§2.3 with 0x20 padding reproduces every byte, MI and FINGERPRINT included", () => {
    for (const v of [RFC5769_REQUEST, RFC5769_IPV4_RESPONSE, RFC5769_IPV6_RESPONSE]) expect(toHex(reencode(v, 0x20))).toBe(toHex(v));
  });
  test("re-encoding §2.2 with encodeStun (zero padding) differs only in padding, MI and FINGERPRINT, and verifies", () => {
    const m = parseStun(RFC5769_IPV4_RESPONSE)!;
    const attrs = m.attrs.filter((a) => a.type !== ATTR.MESSAGE_INTEGRITY && a.type !== ATTR.FINGERPRINT);
    const out = encodeStun({ method: m.method, cls: m.cls, txid: m.txid, attrs }, { integrityKey: key, fingerprint: true });
    expect(out.length).toBe(RFC5769_IPV4_RESPONSE.length);
    const diff: number[] = [];
    for (let i = 0; i < out.length; i++) if (out[i] !== RFC5769_IPV4_RESPONSE[i]) diff.push(i);
    expect(diff[0]).toBe(35); // the one padding byte after "test vector"
    expect(diff.every((i) => i === 35 || (i >= m.integrityOffset + 4 && i < m.integrityOffset + 24) || i >= m.fingerprintOffset + 4)).toBe(
      true,
    );
    const back = parseStun(out)!;
    expect(checkIntegrity(back, key)).toBe(true);
    expect(checkFingerprint(back)).toBe(true);
  });
});

describe("codec", () => {
  test("encode → parse round trip over methods, classes and attribute lengths 0..9", () => {
    for (const method of [0x001, 0x003, 0x0a5, 0x0ff]) {
      // RFC 7983 demux leaves room for methods < 0x100 only
      for (const cls of [0, 1, 2, 3] as const) {
        const attrs: StunAttr[] = [];
        for (let len = 0; len < 10; len++)
          attrs.push({ type: 0x8000 + len, value: Uint8Array.from({ length: len }, (_, i) => (i * 37 + len) & 0xff) });
        const txid = Uint8Array.from({ length: 12 }, (_, i) => i + method);
        for (const opts of [
          undefined,
          { fingerprint: true },
          { integrityKey: utf8("k") },
          { integrityKey: utf8("k"), fingerprint: true },
        ]) {
          const buf = encodeStun({ method, cls, txid, attrs }, opts);
          expect(isStun(buf)).toBe(true);
          const m = parseStun(buf)!;
          expect(m.method).toBe(method);
          expect(m.cls).toBe(cls);
          expect(toHex(m.txid)).toBe(toHex(txid));
          const plain = m.attrs.filter((a) => a.type !== ATTR.MESSAGE_INTEGRITY && a.type !== ATTR.FINGERPRINT);
          expect(plain.map((a) => [a.type, toHex(a.value)])).toEqual(attrs.map((a) => [a.type, toHex(a.value)]));
          expect(checkFingerprint(m)).toBe(opts?.fingerprint === true);
          expect(checkIntegrity(m, utf8("k"))).toBe(opts?.integrityKey !== undefined);
          expect(checkIntegrity(m, utf8("K"))).toBe(false);
        }
      }
    }
  });

  test("message type bits: Binding request/indication/success/error are 0x0001/0x0011/0x0101/0x0111", () => {
    const txid = new Uint8Array(12);
    const types = [0, 1, 2, 3].map((cls) => toHex(encodeStun({ method: 1, cls, txid, attrs: [] }).subarray(0, 2)));
    expect(types).toEqual(["0001", "0011", "0101", "0111"]);
    const high = encodeStun({ method: 0xfff, cls: 3, txid, attrs: [] });
    expect(toHex(high.subarray(0, 2))).toBe("3fff");
    // Valid STUN, but its first byte (0x3f) falls in RFC 7983's DTLS range: on this port it is not STUN.
    expect(isStun(high)).toBe(false);
    expect(_internal.parse(high)).toBe("not-stun");
  });

  test("encodeStun throws early on misuse", () => {
    const ok = { method: 1, cls: 0, txid: new Uint8Array(12), attrs: [] };
    expect(() => encodeStun({ ...ok, txid: new Uint8Array(11) })).toThrow(/^stun: txid/);
    expect(() => encodeStun({ ...ok, method: 0x1000 })).toThrow(RangeError);
    expect(() => encodeStun({ ...ok, cls: 4 })).toThrow(RangeError);
    expect(() => encodeStun({ ...ok, attrs: [{ type: 0x10000, value: new Uint8Array(0) }] })).toThrow(RangeError);
    expect(() => encodeStun({ ...ok, attrs: [{ type: 1, value: new Uint8Array(0x10000) }] })).toThrow(RangeError);
  });

  test("parser rejects malformed input with a reason, and parseStun returns null", () => {
    const good = RFC5769_REQUEST;
    const cases: [string, Uint8Array][] = [
      ["truncated", good.subarray(0, 19)],
      ["truncated", good.subarray(0, good.length - 4)],
      ["not-stun", Uint8Array.of(0x16, ...good.subarray(1))], // DTLS handshake record byte
      ["bad-cookie", Uint8Array.of(...good.subarray(0, 4), 0x21, 0x12, 0xa4, 0x43, ...good.subarray(8))],
      ["bad-length", Uint8Array.of(0x00, 0x01, 0x00, 0x02, ...good.subarray(4, 20), 0, 0)],
      ["length-mismatch", Uint8Array.of(...good, 0, 0, 0, 0)],
      ["attr-overrun", Uint8Array.of(0x00, 0x01, 0x00, 0x08, ...good.subarray(4, 20), 0x80, 0x22, 0x00, 0x05, 0x61, 0x62, 0x63, 0x64)],
      [
        "attr-after-fingerprint",
        refMessage({
          attrs: [],
          afterMi: [
            [0x8028, hex("00000000")],
            [0x8022, utf8("x")],
          ],
          fingerprint: false,
        }),
      ],
      ["bad-integrity-length", refMessage({ attrs: [[0x0008, new Uint8Array(16)]] })],
      ["bad-fingerprint-length", refMessage({ attrs: [[0x8028, new Uint8Array(8)]], fingerprint: false })],
    ];
    for (const [reason, buf] of cases) {
      expect(_internal.parse(buf) as unknown).toBe(reason);
      expect(parseStun(buf)).toBeNull();
      expectIgnore(handleStun(buf, FROM4), reason);
    }
    expect(isStun(good.subarray(0, good.length - 4))).toBe(false);
    expect(isStun(Uint8Array.of(...good, 0, 0, 0, 0))).toBe(false);
  });

  test("attributes after MESSAGE-INTEGRITY other than FINGERPRINT are dropped (RFC 8489 §14.5)", () => {
    const buf = refMessage({
      attrs: [[ATTR.SOFTWARE, utf8("a")]],
      key: utf8("k"),
      afterMi: [
        [ATTR.USE_CANDIDATE, new Uint8Array(0)],
        [0x0777, utf8("zz")],
      ],
    });
    const m = parseStun(buf)!;
    expect(m.attrs.map((a) => a.type)).toEqual([ATTR.SOFTWARE, ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT]);
    expect(checkIntegrity(m, utf8("k"))).toBe(true);
    expect(checkFingerprint(m)).toBe(true);
  });

  test("checkIntegrity / checkFingerprint are false, not thrown, when the attribute is absent", () => {
    const m = parseStun(encodeStun({ method: 1, cls: 0, txid: new Uint8Array(12), attrs: [] }))!;
    expect(checkIntegrity(m, utf8("k"))).toBe(false);
    expect(checkFingerprint(m)).toBe(false);
  });

  test("isStun follows RFC 7983: first byte 0..3 only", () => {
    const b = encodeStun({ method: 1, cls: 0, txid: new Uint8Array(12), attrs: [] });
    for (let first = 0; first < 256; first++) {
      const c = Uint8Array.of(first, ...b.subarray(1));
      expect(isStun(c)).toBe(first <= 3);
    }
  });
});

describe("addresses", () => {
  const txid = hex("000102030405060708090a0b");
  test("xorAddress → decodeXorAddress round trips, canonical RFC 5952 output", () => {
    const cases: [string, string, 4 | 6][] = [
      ["0.0.0.0", "0.0.0.0", 4],
      ["255.255.255.255", "255.255.255.255", 4],
      ["10.1.2.3", "10.1.2.3", 4],
      ["::", "::", 6],
      ["::1", "::1", 6],
      ["2001:DB8::1", "2001:db8::1", 6],
      ["fe80::1%eth0", "fe80::1", 6],
      ["1:0:0:1:0:0:0:1", "1:0:0:1::1", 6],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", 6],
      ["2001:0db8:0000:0001:0001:0001:0001:0001", "2001:db8:0:1:1:1:1:1", 6],
      ["1::", "1::", 6],
      ["64:ff9b::192.0.2.33", "64:ff9b::c000:221", 6],
      ["::ffff:198.51.100.9", "198.51.100.9", 4], // dual-stack socket reports IPv4 peers like this
      ["::FFFF:c633:6409", "198.51.100.9", 4],
    ];
    for (const [input, out, family] of cases) {
      for (const port of [0, 1, 0x2112, 65535]) {
        const v = xorAddress(input, port, txid);
        expect(v.length).toBe(family === 4 ? 8 : 20);
        expect(decodeXorAddress(v, txid)).toEqual({ address: out, port, family });
      }
    }
  });
  test("IPv4-mapped in an IPv6 XOR-MAPPED-ADDRESS decodes in mixed notation", () => {
    const v = new Uint8Array(20);
    v[1] = 2;
    const ip = hex("00000000000000000000ffffc0000201");
    const mask = Uint8Array.of(0x21, 0x12, 0xa4, 0x42, ...txid);
    for (let i = 0; i < 16; i++) v[4 + i] = ip[i]! ^ mask[i]!;
    expect(decodeXorAddress(v, txid)?.address).toBe("::ffff:192.0.2.1");
  });
  test("bad addresses throw (misuse); bad values decode to null (wire input)", () => {
    for (const a of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "1.2.3.-4",
      "a.b.c.d",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      ":1",
      "1:",
      "localhost",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::1.2.3",
    ]) {
      expect(() => xorAddress(a, 1, txid)).toThrow(/^stun: bad address/);
    }
    expect(() => xorAddress("1.2.3.4", 65536, txid)).toThrow(RangeError);
    expect(() => xorAddress("1.2.3.4", 1, new Uint8Array(3))).toThrow(RangeError);
    expect(decodeXorAddress(new Uint8Array(0), txid)).toBeNull();
    expect(decodeXorAddress(Uint8Array.of(0, 1, 0, 0, 1, 2, 3), txid)).toBeNull();
    expect(decodeXorAddress(Uint8Array.of(0, 3, 0, 0, 1, 2, 3, 4), txid)).toBeNull();
    expect(decodeXorAddress(new Uint8Array(20).fill(1, 1, 2), txid)).toBeNull(); // IPv4 family, IPv6 length
    expect(decodeXorAddress(new Uint8Array(20).fill(2, 1, 2), txid)).not.toBeNull();
    expect(decodeXorAddress(Uint8Array.of(0, 2, 0, 0, 1, 2, 3, 4), txid)).toBeNull();
  });
});

describe("handleStun: ICE-lite checks", () => {
  const key = utf8(UFRAG);

  test("a valid check is accepted; its reply is a Binding success that verifies and maps `from`", () => {
    for (const from of [FROM4, FROM6]) {
      for (const useCandidate of [false, true]) {
        const req = check({ useCandidate });
        const d = handleStun(req, from);
        expect(d.type).toBe("check");
        if (d.type !== "check") throw new Error("unreachable");
        expect(d.ufrag).toBe(UFRAG);
        expect(d.useCandidate).toBe(useCandidate);
        const r = parseStun(d.reply)!;
        expect(r.method).toBe(METHOD_BINDING);
        expect(r.cls).toBe(CLASS.SUCCESS);
        expect(toHex(r.txid)).toBe(toHex(req.subarray(8, 20)));
        expect(r.attrs.map((a) => a.type)).toEqual([ATTR.XOR_MAPPED_ADDRESS, ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT]);
        expect(checkIntegrity(r, key)).toBe(true);
        expect(checkFingerprint(r)).toBe(true);
        // the oracle agrees: recompute MI over the reply with Node's HMAC directly
        const hdr = Buffer.from(d.reply.subarray(0, r.integrityOffset));
        hdr.writeUInt16BE(r.integrityOffset + 24 - 20, 2);
        expect(toHex(createHmac("sha1", key).update(hdr).digest())).toBe(
          toHex(d.reply.subarray(r.integrityOffset + 4, r.integrityOffset + 24)),
        );
        expect(decodeXorAddress(getAttr(r, ATTR.XOR_MAPPED_ADDRESS)!, r.txid)).toEqual({ ...from, family: from === FROM4 ? 4 : 6 });
        // the responder does not leave the datagram modified
        expect(toHex(req)).toBe(toHex(check({ useCandidate })));
      }
    }
  });

  test("ufrag length bounds 22 and 256 are accepted; all ice-chars are accepted", () => {
    for (const u of ["a".repeat(22), "Z".repeat(256), "abcXYZ0189+/abcXYZ0189+/"]) {
      const d = handleStun(check({ username: `${u}:${u}`, key: utf8(u) }), FROM4);
      expect(d.type).toBe("check");
      expect(d.type === "check" && d.ufrag).toBe(u);
    }
  });

  test('USERNAME "R:<browser ufrag>": the key and the session ufrag are R; the second half is 4..256 ice-chars of any value', () => {
    // Chromium's own ufrag is 4 ice-chars, Firefox's 8 (hex); the bounds are RFC 8839's.
    for (const own of ["Ab+/", "36b13613", "x".repeat(256), UFRAG, "abcd".repeat(8)]) {
      const req = check({ username: `${UFRAG}:${own}`, key: utf8(UFRAG) });
      const d = handleStun(req, FROM4);
      expect(d.type).toBe("check");
      if (d.type !== "check") throw new Error("unreachable");
      expect(d.ufrag).toBe(UFRAG);
      const r = parseStun(d.reply)!;
      expect(checkIntegrity(r, utf8(UFRAG))).toBe(true);
    }
    // Keyed by the second half (the browser's own ufrag, which the relay never learns as a password): refused.
    const own = "Q".repeat(22);
    const byOwn = check({ username: `${UFRAG}:${own}`, key: utf8(own) });
    expectError(handleStun(byOwn, FROM4), 401, "bad-integrity", byOwn);
  });

  test("comprehension-optional extras (0xC057 GOOG-NETWORK-INFO, 0x8070, SOFTWARE) are tolerated", () => {
    const d = handleStun(
      check({
        extra: [
          [ATTR.SOFTWARE, utf8("libwebrtc")],
          [0xc058, hex("00000001")],
          [0xffff, new Uint8Array(3)],
        ],
      }),
      FROM4,
    );
    expect(d.type).toBe("check");
  });

  test("USERNAME rejections → 401 Unauthorized without MESSAGE-INTEGRITY", () => {
    const A = "A".repeat(22);
    const cases: [string, string][] = [
      [`${"A".repeat(21)}-:${"A".repeat(21)}-`, "username-bad-chars"],
      [`${"A".repeat(21)}=:${"A".repeat(21)}=`, "username-bad-chars"],
      [`${"A".repeat(21)}é:${"A".repeat(21)}é`, "username-bad-chars"],
      [`${A}:abc-`, "username-bad-chars"],
      [`${"A".repeat(21)}:${"A".repeat(21)}`, "username-too-short"],
      [`${"A".repeat(21)}:${A}`, "username-too-short"], // the key half: 22 at least
      [`${A}:abc`, "username-too-short"], // the browser's half: 4 at least
      [`${A}:`, "username-too-short"],
      [`:`, "username-too-short"],
      [`${"A".repeat(257)}:${"A".repeat(257)}`, "username-too-long"],
      [`${"A".repeat(257)}:abcd`, "username-too-long"],
      [`${A}:${"A".repeat(257)}`, "username-too-long"],
      [A + A, "username-malformed"],
      [`${A}:${A}:${A}`, "username-malformed"],
    ];
    for (const [username, reason] of cases) {
      const half = username.split(":")[0]!;
      const req = check({ username, key: utf8(half) }); // correctly signed with its own first half
      expectError(handleStun(req, FROM4), 401, reason, req);
    }
  });

  test("MESSAGE-INTEGRITY: missing → 400, wrong key → 401", () => {
    const missing = check({ key: null });
    expectError(handleStun(missing, FROM4), 400, "missing-integrity", missing);
    const wrong = check({ key: utf8(UFRAG.slice(0, -1) + "X") });
    expectError(handleStun(wrong, FROM4), 401, "bad-integrity", wrong);
    // an attribute added after signing (FINGERPRINT recomputed) breaks MI too
    const req = check();
    const m = parseStun(req)!;
    const tampered = Uint8Array.from(req);
    tampered[m.integrityOffset - 1]! ^= 1; // last byte of the attribute before MI (0x8070 value)
    const crc = (refCrc32(tampered.subarray(0, m.fingerprintOffset)) ^ 0x5354554e) >>> 0;
    Buffer.from(tampered.buffer).writeUInt32BE(crc, m.fingerprintOffset + 4);
    expectError(handleStun(tampered, FROM4), 401, "bad-integrity", tampered);
  });

  test("FINGERPRINT: missing or wrong → ignored silently", () => {
    expectIgnore(handleStun(check({ fingerprint: false }), FROM4), "missing-fingerprint");
    const bad = check();
    bad[bad.length - 1]! ^= 0x80;
    expectIgnore(handleStun(bad, FROM4), "bad-fingerprint");
    // a byte flipped anywhere in the body is caught by the FINGERPRINT before anything else
    const body = check();
    body[30]! ^= 1;
    expectIgnore(handleStun(body, FROM4), "bad-fingerprint");
  });

  test("roles: ICE-CONTROLLED → 487 Role Conflict (authenticated); neither or both → 400", () => {
    const controlled = check({ role: "controlled" });
    expectError(handleStun(controlled, FROM4), 487, "role-conflict", controlled, key);
    const none = check({ role: "none" });
    expectError(handleStun(none, FROM4), 400, "missing-role", none);
    const both = check({ role: "both" });
    expectError(handleStun(both, FROM4), 400, "role-ambiguous", both);
  });

  test("unknown comprehension-required attribute → 420 with UNKNOWN-ATTRIBUTES, authenticated", () => {
    const req = check({
      extra: [
        [0x0777, utf8("??")],
        [ATTR.MESSAGE_INTEGRITY_SHA256, new Uint8Array(32)],
        [0x7fff, new Uint8Array(0)],
      ],
    });
    const r = expectError(handleStun(req, FROM4), 420, "unknown-attribute", req, key);
    expect(toHex(getAttr(r, ATTR.UNKNOWN_ATTRIBUTES)!)).toBe("0777001c7fff");
    // but not when the stranger comes after MESSAGE-INTEGRITY: that part is ignored (§14.5)
    expect(handleStun(check({ afterMi: [[0x0777, utf8("??")]] }), FROM4).type).toBe("check");
    // and not before authentication: a forged one gets 401, not a 420 that echoes its attributes
    const forged = check({ extra: [[0x0777, utf8("??")]], key: utf8("nope") });
    expectError(handleStun(forged, FROM4), 401, "bad-integrity", forged);
  });

  test("malformed ICE attributes → 400", () => {
    for (const extra of [
      [[ATTR.PRIORITY, hex("000001")]] as [number, Uint8Array][],
      [[ATTR.USE_CANDIDATE, hex("00")]] as [number, Uint8Array][],
      [[ATTR.ICE_CONTROLLING, hex("01")]] as [number, Uint8Array][],
    ]) {
      const req = check({ extra });
      expectError(handleStun(req, FROM4), 400, "bad-attribute-length", req);
    }
  });

  test("transport-level rejections of a check: truncated, bad cookie, length mismatch, attr overrun", () => {
    const req = check();
    expectIgnore(handleStun(req.subarray(0, req.length - 8), FROM4), "truncated");
    expectIgnore(handleStun(req.subarray(0, 12), FROM4), "truncated");
    const cookie = Uint8Array.from(req);
    cookie[7] = 0x43;
    expectIgnore(handleStun(cookie, FROM4), "bad-cookie");
    expectIgnore(handleStun(Uint8Array.of(...req, 0, 0, 0, 0), FROM4), "length-mismatch");
    const overrun = Uint8Array.from(req);
    Buffer.from(overrun.buffer).writeUInt16BE(0x0400, 22); // USERNAME length claims 1 KiB
    expectIgnore(handleStun(overrun, FROM4), "attr-overrun");
  });

  test("non-Binding methods, indications and responses are ignored", () => {
    expectIgnore(handleStun(refMessage({ type: 0x0003, attrs: [] }), FROM4), "not-binding"); // TURN Allocate
    expectIgnore(handleStun(refMessage({ type: 0x0011, attrs: [] }), FROM4), "indication"); // Binding indication
    expectIgnore(handleStun(RFC5769_IPV4_RESPONSE, FROM4), "response");
    expectIgnore(handleStun(refMessage({ type: 0x0111, attrs: [] }), FROM4), "response");
    // RFC 5769 §2.1 is a valid-looking check, but its first USERNAME half (4 chars) is too short to be a key
    expectError(handleStun(RFC5769_REQUEST, FROM4), 401, "username-too-short", RFC5769_REQUEST);
  });
});

describe("handleStun: plain STUN Binding (no USERNAME)", () => {
  test("answered like a STUN server: XOR-MAPPED-ADDRESS of `from` + FINGERPRINT, no state", () => {
    for (const from of [FROM4, FROM6, { address: "::ffff:198.51.100.20", port: 3478 }]) {
      for (const req of [refMessage({ attrs: [], fingerprint: false }), refMessage({ attrs: [[ATTR.SOFTWARE, utf8("curl-ish")]] })]) {
        const d = handleStun(req, from);
        expect(d.type).toBe("binding");
        if (d.type !== "binding") throw new Error("unreachable");
        const r = parseStun(d.reply)!;
        expect(r.cls).toBe(CLASS.SUCCESS);
        expect(toHex(r.txid)).toBe(toHex(req.subarray(8, 20)));
        expect(r.attrs.map((a) => a.type)).toEqual([ATTR.XOR_MAPPED_ADDRESS, ATTR.FINGERPRINT]);
        expect(checkFingerprint(r)).toBe(true);
        const a = decodeXorAddress(getAttr(r, ATTR.XOR_MAPPED_ADDRESS)!, r.txid)!;
        expect(a.port).toBe(from.port);
        expect(a.address).toBe(from.address.replace("::ffff:", ""));
      }
    }
  });
  test("bad FINGERPRINT → ignored; unknown comprehension-required attribute → 420", () => {
    const req = refMessage({ attrs: [] });
    req[req.length - 1]! ^= 1;
    expectIgnore(handleStun(req, FROM4), "bad-fingerprint");
    // RFC 3489 CHANGE-REQUEST, and a SOFTWARE long enough that the 420 (64 bytes) is no larger than the request (68)
    const unk = refMessage({
      attrs: [
        [0x0003, hex("00000000")],
        [ATTR.SOFTWARE, utf8("x".repeat(28))],
      ],
    });
    const r = expectError(handleStun(unk, FROM4), 420, "unknown-attribute", unk);
    expect(toHex(getAttr(r, ATTR.UNKNOWN_ATTRIBUTES)!)).toBe("0003");
  });
});

describe("handleStun: reflection (an error response is never larger than its request)", () => {
  // Anyone can send from a victim's address; a reply that outweighs its request would make the
  // relay an amplifier. Such requests are ignored, with the reason the error would have carried.
  test("420 to a bare Binding: answered at 64 bytes of request and more, ignored below", () => {
    const unk = (n: number, fingerprint = true) => refMessage({ attrs: [[0x7ffe, new Uint8Array(n)]], fingerprint });
    const at = unk(32); // 20 + 36 + 8 = 64 = the 420's own size (ERROR-CODE, UNKNOWN-ATTRIBUTES, FINGERPRINT)
    const d = handleStun(at, FROM4);
    expectError(d, 420, "unknown-attribute", at);
    if (d.type === "error") expect(d.reply.length).toBe(at.length);
    expectIgnore(handleStun(unk(28), FROM4), "unknown-attribute"); // 60 bytes → a 64-byte reply: dropped
    expectIgnore(handleStun(unk(0, false), FROM4), "unknown-attribute"); // 24 bytes: was answered with 64 (2.67×)
    // each further unknown attribute costs the request 4 bytes and the reply 2
    const two = refMessage({
      attrs: [
        [0x7ffe, new Uint8Array(28)],
        [0x7ffd, new Uint8Array(0)],
      ],
    });
    expectError(handleStun(two, FROM4), 420, "unknown-attribute", two);
  });

  test("400 to a USERNAME without MESSAGE-INTEGRITY: answered at 48 bytes of request and more, ignored below", () => {
    const bare = (n: number) => refMessage({ attrs: [[ATTR.USERNAME, new Uint8Array(n).fill(0x41)]] });
    const at = bare(16); // 20 + 20 + 8 = 48 = the 400's own size
    const d = handleStun(at, FROM4);
    expectError(d, 400, "missing-integrity", at);
    if (d.type === "error") expect(d.reply.length).toBe(at.length);
    expectIgnore(handleStun(bare(12), FROM4), "missing-integrity");
    expectIgnore(handleStun(bare(0), FROM4), "missing-integrity"); // 32 bytes: was answered with 48 (1.5×)
  });

  test("a browser's smallest check (relay ufrag of 22, its own of 4) still gets every error it can cause", () => {
    const R = "A".repeat(22),
      u = `${R}:abcd`;
    const min = (extra: [number, Uint8Array][], key: string | null) =>
      refMessage({
        attrs: [[ATTR.USERNAME, utf8(u)], [ATTR.PRIORITY, priority], [ATTR.ICE_CONTROLLING, tieBreaker], ...extra],
        key: key === null ? undefined : utf8(key),
      });
    expect(min([], R).length).toBe(104);
    expect(handleStun(min([], R), FROM4).type).toBe("check"); // R:<own ufrag of 4>: valid (docs/protocol.md §1)
    const same = (extra: [number, Uint8Array][], role: number = ATTR.ICE_CONTROLLING) =>
      refMessage({ attrs: [[ATTR.USERNAME, utf8(u)], [ATTR.PRIORITY, priority], [role, tieBreaker], ...extra], key: utf8(R) });
    const wrong = refMessage({
      attrs: [
        [ATTR.USERNAME, utf8(u)],
        [ATTR.PRIORITY, priority],
        [ATTR.ICE_CONTROLLING, tieBreaker],
      ],
      key: utf8("B".repeat(22)),
    });
    expectError(handleStun(wrong, FROM4), 401, "bad-integrity", wrong);
    expectError(handleStun(same([], ATTR.ICE_CONTROLLED), FROM4), 487, "role-conflict", same([], ATTR.ICE_CONTROLLED), utf8(R));
    const unk = same([[0x7ffe, new Uint8Array(0)]]);
    expectError(handleStun(unk, FROM4), 420, "unknown-attribute", unk, utf8(R));
  });
});

describe("fuzz", () => {
  // xorshift32, fixed seed: failures reproduce.
  let s = 0x9e3779b9;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const int = (n: number) => rnd() % n;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rnd() & 0xff);

  function sample(i: number): Uint8Array {
    const seeds = [
      check(),
      check({ role: "controlled" }),
      check({ useCandidate: true }),
      RFC5769_REQUEST,
      RFC5769_IPV6_RESPONSE,
      refMessage({ attrs: [] }),
    ];
    switch (i % 5) {
      case 0:
        return bytes(int(120)); // noise
      case 1: {
        // noise behind a valid header
        const n = int(30) * 4;
        const b = Uint8Array.of(int(4), int(256), n >> 8, n & 0xff, 0x21, 0x12, 0xa4, 0x42, ...bytes(12 + n));
        return b;
      }
      case 2: {
        // a valid message with a few bytes flipped
        const b = Uint8Array.from(seeds[int(seeds.length)]!);
        for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] = rnd() & 0xff;
        return b;
      }
      case 3: {
        // truncated or extended
        const b = seeds[int(seeds.length)]!;
        return int(2) ? b.subarray(0, int(b.length)) : Uint8Array.of(...b, ...bytes(int(16)));
      }
      default: {
        // random attributes, well-framed, with valid MI/FINGERPRINT half the time
        const attrs: [number, Uint8Array][] = [];
        for (let k = int(6); k > 0; k--)
          attrs.push([[0x0006, 0x0008, 0x8028, 0x8029, 0x802a, 0x0025, 0x0024, int(0x10000)][int(8)]!, bytes(int(40))]);
        if (int(2)) attrs.unshift([ATTR.USERNAME, utf8(`${UFRAG}:${UFRAG}`)]);
        return refMessage({ type: int(2) ? 1 : int(0x4000), attrs, key: int(2) ? utf8(UFRAG) : undefined, fingerprint: int(2) === 1 });
      }
    }
  }

  test("20k random/mutated datagrams: nothing throws, every reason is a known one, replies parse", () => {
    const seen = new Map<string, number>();
    const known = new Set<string>(STUN_REASONS);
    for (let i = 0; i < 20000; i++) {
      const b = sample(i);
      const copy = Uint8Array.from(b);
      const m = parseStun(b);
      if (m) {
        expect(isStun(b)).toBe(true);
        checkFingerprint(m);
        checkIntegrity(m, utf8(UFRAG));
        const x = getAttr(m, ATTR.XOR_MAPPED_ADDRESS);
        if (x) decodeXorAddress(x, m.txid);
      }
      const d = handleStun(b, i & 1 ? FROM4 : FROM6);
      const label = d.type === "ignore" || d.type === "error" ? `${d.type}:${d.reason}` : d.type;
      seen.set(label, (seen.get(label) ?? 0) + 1);
      if (d.type === "ignore" || d.type === "error") expect(known.has(d.reason)).toBe(true);
      if (d.type === "error") expect(d.reply.length).toBeLessThanOrEqual(b.length); // reflection ≤ 1×
      if (d.type !== "ignore") {
        const r = parseStun(d.reply);
        expect(r).not.toBeNull();
        expect(checkFingerprint(r!)).toBe(true);
        if (d.type === "check") expect(checkIntegrity(r!, utf8(d.ufrag))).toBe(true);
      }
      if (toHex(b) !== toHex(copy)) throw new Error(`datagram ${i} was modified`);
    }
    // The fuzzer must reach deep paths, or it proves little.
    for (const label of [
      "check",
      "binding",
      "error:role-conflict",
      "error:bad-integrity",
      "ignore:bad-fingerprint",
      "ignore:attr-overrun",
      "ignore:truncated",
    ]) {
      expect(seen.get(label) ?? 0).toBeGreaterThan(0);
    }
  });
});
