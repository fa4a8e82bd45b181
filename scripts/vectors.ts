#!/usr/bin/env bun
// Writes protocol/vectors/*.json: frames, a sealed message, a signed relay record and a bootstrap
// config, each with the bytes the protocol says they are. Deterministic (fixed keys, nonces and
// sessions); test/protocol/vectors.test.ts checks them against the relay's code in Bun and the
// browser build in Chromium. Run after a deliberate protocol change: `npx bun scripts/vectors.ts`.
import { writeFileSync } from "node:fs";
import { createPrivateKey } from "node:crypto";
import { join } from "node:path";
import { encode, type Frame } from "../protocol/frames.ts";
import { hex } from "../protocol/bytes.ts";
import { recordSignedBytes } from "../protocol/record.ts";
import { signRecord } from "../relay/record.ts";
import { _seal, deriveRoom, webCrypto } from "../src/seal.ts";

const DIR = join(import.meta.dir, "../protocol/vectors");
const b = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
const show = (f: Frame) => JSON.parse(JSON.stringify(f, (_k, v) => (v instanceof Uint8Array ? { hex: hex(v) } : v)));
const topic = b("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"),
  idA = b("0102030405060708"),
  idB = b("1112131415161718");

const frames: Frame[] = [
  { t: 1, min: 1, max: 1 },
  { t: 2, version: 1, maxFrame: 16384, rate: 65536, msgRate: 100 },
  { t: 3, data: b("0102") },
  { t: 5, code: 203, message: "room is full (64 members)" },
  { t: 6, json: '[{"lumamesh":1}]' },
  { t: 16, topic, id: idA },
  { t: 18, topic, ids: [idA, idB] },
  { t: 21, topic, to: idB, data: b("05aabbcc") },
  { t: 23, topic, from: idA, bcast: false, data: b("05aabbcc") },
];
writeFileSync(
  join(DIR, "frames.json"),
  JSON.stringify(
    {
      about: "Layer-1 frames (protocol/frames.ts, docs/protocol.md §2): each frame and its bytes",
      frames: frames.map((f) => ({ frame: show(f), hex: hex(encode(f)) })),
    },
    null,
    2,
  ) + "\n",
);

const keys = await deriveRoom(webCrypto, "vector room", "vector password");
const session = b("a1a2a3a4a5a6a7a8"),
  fromSession = b("b1b2b3b4b5b6b7b8"),
  nonce = b("000102030405060708090a0b");
const body = new TextEncoder().encode('{"nick":"alice"}');
const pt = new Uint8Array([0, 0, 0, 1, ...fromSession, ...body]);
const sealed = await _seal.sealWithNonce(webCrypto, keys, idA, idB, 5, session, pt, nonce);
writeFileSync(
  join(DIR, "sealed.json"),
  JSON.stringify(
    {
      about:
        "A sealed HELLO (protocol/sealed.ts, docs/protocol.md §4): room keys from name and password, AD bound to the recipient's session, plaintext seq ‖ sender's session ‖ body",
      room: "vector room",
      password: "vector password",
      topic: hex(keys.topic),
      key: hex(keys.key),
      from: hex(idA),
      to: hex(idB),
      type: 5,
      toSession: hex(session),
      nonce: hex(nonce),
      plaintext: hex(pt),
      sealed: hex(sealed),
    },
    null,
    2,
  ) + "\n",
);

// An Ed25519 key from a fixed seed (RFC 8032 §7.1 test 1's secret key).
const seed = b("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const priv = createPrivateKey({
  key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
  format: "der",
  type: "pkcs8",
});
const rec = signRecord(
  {
    lumamesh: 1,
    addr: "203.0.113.5:4884",
    fp: "AB:".repeat(31) + "EF",
    id: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    sat: 1234567890,
    seq: 1764130000,
  },
  priv,
);
writeFileSync(
  join(DIR, "record.json"),
  JSON.stringify(
    {
      about: "A signed relay record (protocol/record.ts, docs/protocol.md §6) and the bytes its signature covers",
      record: rec,
      signedBytes: hex(recordSignedBytes(rec)),
    },
    null,
    2,
  ) + "\n",
);

const config = JSON.stringify({
  lumamesh: 1,
  relays: [{ addr: "203.0.113.5:4884", fp: "AB:".repeat(31) + "EF" }, { sat: 1234567890 }, { sat: "12" }, { addr: "nope" }],
});
writeFileSync(
  join(DIR, "bootstrap.json"),
  JSON.stringify(
    {
      about: "A bootstrap config (protocol/bootstrap.ts, docs/protocol.md §5) and what a page takes from it",
      text: config,
      parsed: { relays: [{ addr: "203.0.113.5:4884", fp: "AB:".repeat(31) + "EF" }], sats: [1234567890] },
    },
    null,
    2,
  ) + "\n",
);
console.log("wrote protocol/vectors/{frames,sealed,record,bootstrap}.json");
