// Rate limiting primitives for the relay: token buckets over an injected clock (sans-IO).

export interface Bucket { tokens: number; at: number }

export const bucket = (burst: number, now: number): Bucket => ({ tokens: burst, at: now });

/** Take `n` tokens from `b` (refilled at `rate` per second up to `burst`); false (taking none) when short. */
export function take(b: Bucket, rate: number, burst: number, now: number, n = 1): boolean {
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
  b.at = now;
  if (b.tokens < n) return false;
  b.tokens -= n;
  return true;
}

export interface Limits {
  /** Sessions (handshaking or open) from one source IP. */
  sessionsPerIp: number;
  /** Sessions that passed the ICE check but have no open channel yet. */
  halfOpen: number;
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
  /** Rooms one session may be in, and members one room may have. */
  roomsPerSession: number;
  membersPerRoom: number;
}

export const DEFAULT_LIMITS: Limits = {
  sessionsPerIp: 64,
  halfOpen: 256,
  createRate: 200,
  createBurst: 400,
  maxSessions: 20000,
  idleTimeoutMs: 30000,
  handshakeTimeoutMs: 10000,
  helloTimeoutMs: 10000,
  maxFrame: 16384,
  msgRate: 100,
  msgBurst: 200,
  relayRate: 65536,
  relayBurst: 262144,
  roomsPerSession: 16,
  membersPerRoom: 64,
};
