// DTLS 1.2 AEAD record protection (RFC 5288 AES-GCM as RFC 6347 §4.1.2.1 carries it) for sessions
// whose handshake werift completed: the relay seals and opens its application-data records here,
// one allocation per record, with key objects made once per session. werift does the same work per
// record through five Buffers (nonce, AAD, update, final, tag) and a Buffer.concat, plus its
// record-layer objects (dtls/src/cipher/suites/aead.js, record/). Same keys, same bytes on the wire
// (test/relay/dtls-aead.test.ts checks both ways against werift's own cipher).
//
// record:  type(1) version(2) epoch(2) sequence_number(6) length(2) | explicit_nonce(8) ciphertext tag(16)
// nonce:   implicit salt(4, from the key block) | explicit_nonce (= epoch(2) seq(6), as werift writes it)
// AAD:     epoch(2) seq(6) type(1) version(2) plaintext length(2)

import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { put48 } from "./dtls-records.ts";

const HEADER = 13,
  EXPLICIT = 8,
  TAG = 16,
  SALT = 4;

export interface RecordKeys {
  /** "aes-128-gcm" or "aes-256-gcm" */
  algorithm: string;
  writeKey: KeyObject;
  /** our implicit nonce salt (4 bytes) */
  writeSalt: Uint8Array;
  readKey: KeyObject;
  readSalt: Uint8Array;
}

/** What werift's AEADCipher holds after its handshake (the fields read here). */
interface WeriftAead {
  blockAlgorithm?: string;
  nonceImplicitLength?: number;
  nonceExplicitLength?: number;
  authTagLength?: number;
  clientWriteKey?: Uint8Array;
  serverWriteKey?: Uint8Array;
  clientNonce?: Uint8Array;
  serverNonce?: Uint8Array;
}

/** This side's record keys, taken from werift's cipher once its handshake is done; undefined if it is
 *  not the AES-GCM layout handled here (then werift keeps protecting the session's records). */
export function recordKeysOf(c: WeriftAead | undefined, server: boolean): RecordKeys | undefined {
  if (!c || !/^aes-(128|256)-gcm$/.test(c.blockAlgorithm ?? "")) return undefined;
  if (c.nonceImplicitLength !== SALT || c.nonceExplicitLength !== EXPLICIT || c.authTagLength !== TAG) return undefined;
  const { clientWriteKey: ck, serverWriteKey: sk, clientNonce: cn, serverNonce: sn } = c;
  if (!ck || !sk || !cn || !sn || cn.length < SALT || sn.length < SALT) return undefined;
  const key = (k: Uint8Array) => createSecretKey(Uint8Array.from(k));
  const salt = (n: Uint8Array) => Uint8Array.from(n.subarray(0, SALT));
  return server
    ? { algorithm: c.blockAlgorithm!, writeKey: key(sk), writeSalt: salt(sn), readKey: key(ck), readSalt: salt(cn) }
    : { algorithm: c.blockAlgorithm!, writeKey: key(ck), writeSalt: salt(cn), readKey: key(sk), readSalt: salt(sn) };
}

/** Record keys from a TLS 1.2 key block (RFC 5246 §6.3: client_write_key, server_write_key,
 *  client_write_IV, server_write_IV; no MAC keys for AEAD suites), for the server's or the client's side. */
export function keysFromBlock(algorithm: "aes-128-gcm" | "aes-256-gcm", block: Uint8Array, keyLen: number, server: boolean): RecordKeys {
  if (block.length < 2 * keyLen + 2 * SALT) throw new RangeError("dtls-aead: key block too short");
  const key = (o: number) => createSecretKey(Uint8Array.from(block.subarray(o, o + keyLen)));
  const salt = (o: number) => Uint8Array.from(block.subarray(o, o + SALT));
  const ck = key(0),
    sk = key(keyLen),
    cn = salt(2 * keyLen),
    sn = salt(2 * keyLen + SALT);
  return server
    ? { algorithm, writeKey: sk, writeSalt: sn, readKey: ck, readSalt: cn }
    : { algorithm, writeKey: ck, writeSalt: cn, readKey: sk, readSalt: sn };
}

/** One whole protected record (header included) carrying `plain`. */
export function sealRecord(k: RecordKeys, type: number, version: number, epoch: number, seq: number, plain: Uint8Array): Buffer {
  const n = plain.length;
  const out = Buffer.allocUnsafe(HEADER + EXPLICIT + n + TAG);
  out[0] = type;
  out[1] = version >>> 8;
  out[2] = version & 255;
  out[3] = epoch >>> 8;
  out[4] = epoch & 255;
  put48(out, 5, seq);
  const len = EXPLICIT + n + TAG;
  out[11] = len >>> 8;
  out[12] = len & 255;
  // explicit nonce = epoch | seq: the 8 header bytes at 3..11
  out.copyWithin(HEADER, 3, 11);
  const iv = Buffer.allocUnsafe(SALT + EXPLICIT);
  iv.set(k.writeSalt, 0);
  iv.set(out.subarray(3, 11), SALT);
  const aad = Buffer.allocUnsafe(13);
  aad.set(out.subarray(3, 11), 0);
  aad[8] = type;
  aad[9] = out[1]!;
  aad[10] = out[2]!;
  aad[11] = n >>> 8;
  aad[12] = n & 255;
  const c = createCipheriv(k.algorithm as "aes-128-gcm", k.writeKey, iv, { authTagLength: TAG });
  c.setAAD(aad, { plaintextLength: n });
  const body = c.update(plain);
  body.copy(out, HEADER + EXPLICIT);
  const fin = c.final();
  if (fin.length) fin.copy(out, HEADER + EXPLICIT + body.length);
  c.getAuthTag().copy(out, HEADER + EXPLICIT + n);
  return out;
}

/** The plaintext of one whole record (header included, as the datagram holds it), or undefined when it
 *  does not authenticate. Epoch and sequence number are not checked here (the caller's business). */
export function openRecord(k: RecordKeys, rec: Uint8Array): Buffer | undefined {
  const n = rec.length - HEADER - EXPLICIT - TAG;
  if (n < 0) return undefined;
  const iv = Buffer.allocUnsafe(SALT + EXPLICIT);
  iv.set(k.readSalt, 0);
  iv.set(rec.subarray(HEADER, HEADER + EXPLICIT), SALT);
  const aad = Buffer.allocUnsafe(13);
  aad.set(rec.subarray(3, 11), 0);
  aad[8] = rec[0]!;
  aad[9] = rec[1]!;
  aad[10] = rec[2]!;
  aad[11] = n >>> 8;
  aad[12] = n & 255;
  try {
    const d = createDecipheriv(k.algorithm as "aes-128-gcm", k.readKey, iv, { authTagLength: TAG });
    d.setAuthTag(rec.subarray(rec.length - TAG));
    d.setAAD(aad, { plaintextLength: n });
    const body = d.update(rec.subarray(HEADER + EXPLICIT, HEADER + EXPLICIT + n));
    const fin = d.final();
    return fin.length ? Buffer.concat([body, fin]) : body;
  } catch {
    return undefined;
  }
}
