// What test/protocol/vectors.test.ts runs inside Chromium: the browser build of the protocol code
// (bundled the way the library is) checked against protocol/vectors/*.json.
import { decode, encode } from "../../protocol/frames.ts";
import { hex } from "../../protocol/bytes.ts";
import { parseBootstrap } from "../../protocol/bootstrap.ts";
import { checkRecords } from "../../src/discover.ts";
import { _seal, deriveRoom, openMsg, webCrypto } from "../../src/seal.ts";

const b = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const revive = (o: any): any =>
  JSON.parse(JSON.stringify(o), (_k, v) => (v && typeof v === "object" && typeof v.hex === "string" ? b(v.hex) : v));

export async function check(v: { frames: any; sealed: any; record: any; bootstrap: any }) {
  const out: Record<string, unknown> = {};
  out.frames = v.frames.frames.map(
    (f: any) =>
      hex(encode(revive(f.frame))) === f.hex &&
      JSON.stringify(decode(b(f.hex)), (_k, x) => (x instanceof Uint8Array ? { hex: hex(x) } : x)) === JSON.stringify(f.frame),
  );
  const s = v.sealed,
    keys = await deriveRoom(webCrypto, s.room, s.password);
  out.keys = hex(keys.topic) === s.topic && hex(keys.key) === s.key;
  out.seal =
    hex(await _seal.sealWithNonce(webCrypto, keys, b(s.from), b(s.to), s.type, b(s.toSession), b(s.plaintext), b(s.nonce))) === s.sealed;
  out.open =
    hex((await openMsg(webCrypto, keys, b(s.from), b(s.to), s.type, b(s.toSession), b(s.sealed))) ?? new Uint8Array(0)) === s.plaintext;
  out.record = (await checkRecords(JSON.stringify([v.record.record]), null)).length === 1;
  out.forged = (await checkRecords(JSON.stringify([{ ...v.record.record, addr: "203.0.113.6:4884" }]), null)).length === 0;
  out.bootstrap = JSON.stringify(parseBootstrap(v.bootstrap.text)) === JSON.stringify(v.bootstrap.parsed);
  return out;
}
