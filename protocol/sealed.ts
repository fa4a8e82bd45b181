// Sealed messages: what a page sends another page through a relay (docs/protocol.md §4). The relay
// sees the type byte and the sealed bytes; only holders of the room key can open them.
//
//   SEND/DELIVER payload: type(1) ‖ nonce(12) ‖ AES-256-GCM(key, nonce, AD, plaintext) ‖ tag(16)
//   AD        = "lmv2" ‖ topic(16) ‖ from(8) ‖ to(8) ‖ type(1) ‖ toSession(8)
//   plaintext = seq(4, u32be) ‖ fromSession(8) ‖ body
//
// Each page draws a random 8-byte session when it joins a room. A message names the recipient's
// session in its AD (all zero only in a HELLO to a peer whose session is not known yet) and the
// sender's in its plaintext, numbered per pair from 1: a copy replayed by a relay, from another
// session or an earlier point of this one, fails (docs/protocol.md §4, "What a relay can do").
import { concat, utf8Encode } from "./bytes.ts";

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
  /** "I am in this room": JSON {nick}; the first message to a peer, proving the sender holds the room key */
  HELLO = 5,
}

export const NONCE_BYTES = 12,
  TAG_BYTES = 16,
  SEQ_BYTES = 4,
  SESSION_BYTES = 8;
/** What sealing adds to a body: type, nonce, sequence number, sender's session, tag (41 bytes). */
export const SEAL_OVERHEAD = 41; // 1 + NONCE_BYTES + SEQ_BYTES + SESSION_BYTES + TAG_BYTES (frames.test.ts checks)
/** A relayed data frame's overhead in the DELIVER that carries it: its header (26, frames.ts headerBytes)
 *  and SEAL_OVERHEAD (41). Data frames are cut to the relay's maxFrame minus this. A literal, so the
 *  library carries no header arithmetic (test/protocol/frames.test.ts checks the sum). */
export const RELAYED_OVERHEAD = 67;

/** The additional data a sealed message is bound to. RangeError on bad ids, sessions or type. */
export function sealedAD(topic: Uint8Array, from: Uint8Array, to: Uint8Array, type: number, toSession: Uint8Array): Uint8Array {
  if (from.length !== 8 || to.length !== 8 || toSession.length !== 8 || type !== (type & 255))
    throw new RangeError("lumamesh: ids and sessions are 8 bytes, type a byte");
  return concat([utf8Encode("lmv2"), topic, from, to, Uint8Array.of(type), toSession]);
}
