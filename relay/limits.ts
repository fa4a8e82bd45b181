// Rate limiting primitives for the relay: token buckets over an injected clock (sans-IO), and its limits.
import { MAX_FRAME } from "../protocol/frames.ts";

export interface Bucket {
  tokens: number;
  at: number;
}

export const bucket = (burst: number, now: number): Bucket => ({ tokens: burst, at: now });

/** Take `n` tokens from `b` (refilled at `rate` per second up to `burst`); false (taking none) when short. */
export function take(b: Bucket, rate: number, burst: number, now: number, n = 1): boolean {
  // A clock that steps back refills nothing (and takes nothing away).
  b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) * rate) / 1000);
  b.at = Math.max(b.at, now);
  if (b.tokens < n) return false;
  b.tokens -= n;
  return true;
}

export interface Limits {
  /** Sessions (handshaking or open) from one source IPv4 address or IPv6 /64. */
  sessionsPerIp: number;
  /** Sessions whose address proved itself (DTLS cookie) but whose channel is not open yet: in all… */
  halfOpen: number;
  /** …and from one IPv4 /24 or IPv6 /64. */
  halfOpenPerNet: number;
  /** Replies to unauthenticated input (STUN answers, HelloVerifyRequests) per second to one /24 or /64,
   *  and their burst: bounds what the relay can be made to send towards one network. */
  unauthReplyRate: number;
  unauthReplyBurst: number;
  /** New sessions per second across the relay (token bucket rate and burst). */
  createRate: number;
  createBurst: number;
  /** Every session's total, a hard ceiling. */
  maxSessions: number;
  /** Close a session when no STUN or DTLS datagram came for this long. */
  idleTimeoutMs: number;
  /** Close a session whose channel did not open in this time. */
  handshakeTimeoutMs: number;
  /** Close an open channel that has not said HELLO in this time. */
  helloTimeoutMs: number;
  /** Largest application frame accepted. */
  maxFrame: number;
  /** Frames per second per session (token bucket rate and burst). */
  msgRate: number;
  msgBurst: number;
  /** Bytes per second of SEND/BCAST payload relayed for one session (signaling and relayed room
   *  traffic alike; a BCAST counts once per recipient), announced in WELCOME, and its burst. */
  relayRate: number;
  relayBurst: number;
  /** Rooms one session may be in, and members one room may have… */
  roomsPerSession: number;
  membersPerRoom: number;
  /** …of which at most this many from one IPv4 address or IPv6 /64 (one host cannot fill a room). */
  membersPerIp: number;
  /** Bytes queued towards one session and not yet acknowledged; a peer that stops acknowledging is closed. */
  sendQueue: number;
}

export const DEFAULT_LIMITS: Limits = {
  sessionsPerIp: 64,
  halfOpen: 1024,
  halfOpenPerNet: 64,
  unauthReplyRate: 500,
  unauthReplyBurst: 1000,
  createRate: 200,
  createBurst: 400,
  maxSessions: 20000,
  idleTimeoutMs: 30000,
  handshakeTimeoutMs: 10000,
  helloTimeoutMs: 10000,
  maxFrame: MAX_FRAME,
  msgRate: 100,
  msgBurst: 200,
  relayRate: 65536,
  relayBurst: 262144,
  roomsPerSession: 16,
  membersPerRoom: 64,
  membersPerIp: 8,
  sendQueue: 524288,
};
