// Sealed messages: what a page sends another page through a relay (docs/protocol.md §4). The relay
// sees the type byte and the sealed bytes; only holders of the room key can open them.
//
//   SEND/DELIVER payload: type(1) ‖ nonce(12) ‖ AES-256-GCM(key, nonce, AD, plaintext) ‖ tag(16)
//   AD = "lmv1" ‖ topic(16) ‖ from(8) ‖ to(8, all zero = broadcast) ‖ type(1)
//   plaintext = seq(4, u32be, per pair, counting from 1) ‖ body
import { concat, utf8Encode } from "./bytes.ts";
import { T, headerBytes } from "./frames.ts";

/** Sealed message types (the first payload byte; also bound into the AD). */
export const enum Sealed {
  /** SDP offer: JSON {sdp, nick} */
  OFFER = 1,
  /** SDP answer: JSON {sdp, nick} */
  ANSWER = 2,
  /** ICE candidate: JSON RTCIceCandidateInit */
  CAND = 3,
  /** One data frame (protocol/chunk.ts) of a pair without a direct path */
  DATA = 4,
}

export const NONCE_BYTES = 12, TAG_BYTES = 16, SEQ_BYTES = 4;
/** What sealing adds to a body: type, nonce, sequence number, tag (33 bytes). */
export const SEAL_OVERHEAD = 1 + NONCE_BYTES + SEQ_BYTES + TAG_BYTES;
/** A relayed data frame's overhead in the DELIVER that carries it (59 bytes): data frames are cut to the relay's maxFrame minus this. */
export const RELAYED_OVERHEAD = headerBytes(T.DELIVER) + SEAL_OVERHEAD;

/** The additional data a sealed message is bound to. RangeError on bad ids or type. */
export function sealedAD(topic: Uint8Array, from: Uint8Array, to: Uint8Array | null, type: number): Uint8Array {
  if (from.length != 8 || (to && to.length != 8) || type !== (type & 255)) throw new RangeError("lumamesh: peer ids are 8 bytes, type is 0..255");
  return concat([utf8Encode("lmv1"), topic, from, to ?? new Uint8Array(8), Uint8Array.of(type)]);
}
