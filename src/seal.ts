// Room keys, relay topics and sealing of everything a browser sends through a relay.
//
// Derivation (version 1, every step domain-separated by its label):
//   M(P)   = PBKDF2-HMAC-SHA-256(u32be(len(utf8(N))) || utf8(N) || utf8(P), salt = utf8("lumamesh/v1/room"),
//                                KDF_ITERATIONS, 32 bytes)        N = name.normalize('NFC'), P = password ?? ''
//   topic  = HKDF-SHA-256(M(''), salt = empty, info = "lumamesh/v1/topic", 16 bytes)   what the relay routes on
//   key    = HKDF-SHA-256(M(P),  salt = empty, info = "lumamesh/v1/seal",  32 bytes)   AES-256-GCM key
// The topic depends on the name only: a peer with the wrong password lands in the same relay room,
// and the app can be told "messages from this peer do not decrypt" instead of silence. The key
// depends on name and password, each through the slow KDF (two PBKDF2 runs when there is a password).
// The length prefix (not a 0x00 separator) keeps (name, password) unambiguous even when the name
// holds NUL: ("a\0", "b") and ("a", "\0b") would collide under a separator. No password and an empty
// password are the same room. NFC makes "é" typed on any OS one room. Anyone who knows the name
// (and password) can read the room; the slow KDF only makes a relay pay per guessed name.
//
// Sealed message (layout and AD: protocol/sealed.ts): nonce(12, random) || AES-256-GCM(key, nonce, AD,
// pt), so a relay cannot move a message to another room, sender, recipient or message type.
// Random 96-bit nonces: NIST SP 800-38D §8.3 allows 2^32 messages per key; signaling is far below.
//
// WebCrypto is missing on non-secure origins (plain-HTTP ord servers on a LAN): every primitive goes
// through a CryptoProvider so fallback.ts (@noble, loaded by dynamic import) can stand in.

import { concat, int, random, utf8Encode } from "../protocol/bytes.ts";
import { sealedAD } from "../protocol/sealed.ts";

export interface CryptoProvider {
  /** PBKDF2-HMAC-SHA-256 */
  pbkdf2(password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number): Promise<Uint8Array>;
  /** HKDF-SHA-256 (RFC 5869) */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, bytes: number): Promise<Uint8Array>;
  /** AES-256-GCM, returns ciphertext || 16-byte tag */
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, pt: Uint8Array): Promise<Uint8Array>;
  /** AES-256-GCM; null on any failure (bad tag, bad key length), never rejects */
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ct: Uint8Array): Promise<Uint8Array | null>;
  sha256(data: Uint8Array): Promise<Uint8Array>;
}

// TS's DOM types want ArrayBuffer-backed views; ours always are (or are copied by WebCrypto).
type B = BufferSource;
const u8 = (b: ArrayBuffer) => new Uint8Array(b);
// crypto.subtle is read at call time, never at import time.
const imp = (k: Uint8Array, alg: string, use: KeyUsage) => crypto.subtle.importKey("raw", k as B, alg, false, [use]);
const bits = async (name: string, k: Uint8Array, p: object, n: number) =>
  u8(await crypto.subtle.deriveBits({ name, hash: "SHA-256", ...p } as Algorithm, await imp(k, name, "deriveBits"), n * 8));
const gcm = async (dir: "encrypt" | "decrypt", k: Uint8Array, iv: Uint8Array, additionalData: Uint8Array, d: Uint8Array) =>
  u8(await crypto.subtle[dir]({ name: "AES-GCM", iv, additionalData } as AesGcmParams, await imp(k, "AES-GCM", dir), d as B));

export const webCrypto: CryptoProvider = {
  pbkdf2: (pw, salt, iterations, n) => bits("PBKDF2", pw, { salt, iterations }, n),
  hkdf: (ikm, salt, info, n) => bits("HKDF", ikm, { salt, info }, n),
  seal: (k, iv, ad, pt) => gcm("encrypt", k, iv, ad, pt),
  open: (k, iv, ad, ct) => gcm("decrypt", k, iv, ad, ct).catch(() => null),
  sha256: async (d) => u8(await crypto.subtle.digest("SHA-256", d as B)),
};

/**
 * PBKDF2 iterations. Measured with WebCrypto in Bun 1.4.5 (BoringSSL, as in Chromium) on this
 * project's 2-core AMD EPYC build machine, median of 7: 50k 5.6 ms · 100k 11.1 ms · 200k 23 ms ·
 * 300k 33 ms · 500k 55 ms. The @noble fallback (pure JS) took 100 ms / 135 ms / 247 ms for 50k/100k/200k.
 * 200k is ~23 ms here: inside the ~60 ms share of the ~150 ms join target with ~2.5x headroom for
 * phones and slow laptops, and the rare fallback stays near a quarter second. 500k would meet 60 ms
 * here but not on a phone. Changing it changes every topic: it is part of "v1".
 */
export const KDF_ITERATIONS = 200_000;

export interface RoomKeys {
  /** 16 bytes, the only room-derived value a relay sees */
  topic: Uint8Array;
  /** 32 bytes, AES-256-GCM key */
  key: Uint8Array;
}

const L = (s: string) => utf8Encode("lumamesh/v1/" + s);

export const deriveRoom = async (c: CryptoProvider, name: string, password = ""): Promise<RoomKeys> => {
  const n = utf8Encode(name.normalize("NFC")),
    len = int(n.length, 4),
    e = new Uint8Array(0);
  const master = (p: string) => c.pbkdf2(concat([len, n, utf8Encode(p)]), L("room"), KDF_ITERATIONS, 32);
  // The topic comes from the name alone, so peers with a wrong password still meet at the relay
  // and can be told why nothing decrypts; the key comes from name and password.
  const mt = master(""),
    mk = password ? master(password) : mt;
  return { topic: await c.hkdf(await mt, e, L("topic"), 16), key: await c.hkdf(await mk, e, L("seal"), 32) };
};

const ad = (k: RoomKeys, from: Uint8Array, to: Uint8Array, type: number, toSession: Uint8Array) =>
  sealedAD(k.topic, from, to, type, toSession);

/** nonce(12) || ciphertext || tag, bound to room, sender, recipient, type and the recipient's session
 *  (protocol/sealed.ts); the nonce is random unless given (test vectors). Rejects (RangeError) on bad ids/type. */
export const sealMsg = async (
  c: CryptoProvider,
  k: RoomKeys,
  from: Uint8Array,
  to: Uint8Array,
  type: number,
  toSession: Uint8Array,
  pt: Uint8Array,
  nonce = random(12),
): Promise<Uint8Array> => concat([nonce, await c.seal(k.key, nonce, ad(k, from, to, type, toSession), pt)]);

/** The plaintext, or null on any failure (too short, wrong key/room, changed from/to/type/session, tampered). */
export const openMsg = async (
  c: CryptoProvider,
  k: RoomKeys,
  from: Uint8Array,
  to: Uint8Array,
  type: number,
  toSession: Uint8Array,
  sealed: Uint8Array,
): Promise<Uint8Array | null> => {
  try {
    return sealed.length < 28 ? null : await c.open(k.key, sealed.subarray(0, 12), ad(k, from, to, type, toSession), sealed.subarray(12));
  } catch {
    return null;
  }
};

/** Internals for tests only (fixed nonces make cross-provider vectors reproducible). */
export const _seal = /* @__PURE__ */ Object.freeze({ sealWithNonce: sealMsg, ad });
