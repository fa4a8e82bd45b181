// Stateless DTLS cookies (RFC 6347 §4.2.1) and address prefixes, sans-IO: the relay creates a
// session only for a ClientHello that echoes a cookie it made for that exact ip:port a few
// seconds ago, so a spoofed source address can never create state (return routability).
//
// Cookie (16 bytes): period(1) ‖ HMAC-SHA-256(secret, period ‖ "ip:port")[0..15]
// where period = floor(now / periodMs) mod 256. A cookie is valid in its period and the next one.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const COOKIE_LEN = 16;

export class Cookies {
  constructor(
    private secret: Uint8Array = randomBytes(32),
    private periodMs = 5000,
  ) {}

  private mac(period: number, key: string): Uint8Array {
    return createHmac("sha256", this.secret)
      .update(Uint8Array.of(period))
      .update(key)
      .digest()
      .subarray(0, COOKIE_LEN - 1);
  }

  /** The cookie for the address `key` ("ip:port", as addrKey writes it) at time `now` (ms). */
  make(key: string, now: number): Uint8Array {
    const p = Math.floor(now / this.periodMs) & 255;
    const out = new Uint8Array(COOKIE_LEN);
    out[0] = p;
    out.set(this.mac(p, key), 1);
    return out;
  }

  /** Whether `cookie` was made for `key` in this period or the previous one. */
  check(key: string, cookie: Uint8Array, now: number): boolean {
    if (cookie.length !== COOKIE_LEN) return false;
    const p = Math.floor(now / this.periodMs) & 255;
    const c = cookie[0]!;
    if (c !== p && c !== ((p + 255) & 255)) return false;
    return timingSafeEqual(this.mac(c, key), cookie.subarray(1));
  }
}

/**
 * The unit per-network limits count by: an IPv4 address's /24, an IPv6 address's /64 (one
 * subscriber's allocation; a /64 holds more addresses than anyone can enumerate). IPv4-mapped
 * IPv6 addresses count as IPv4.
 */
export function prefixOf(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+)\.\d+$/i.exec(address);
  if (v4) return v4[1]!;
  return v6Groups(address).slice(0, 4).join(":") + "::/64";
}

/** The unit "per IP" limits count by: an IPv4 address itself, an IPv6 address's /64. */
export function hostOf(address: string): string {
  return /^(?:::ffff:)?\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.replace(/^::ffff:/i, "") : prefixOf(address);
}

/** Eight hex groups of an IPv6 address (zone stripped); garbage yields garbage but never throws. */
function v6Groups(a: string): string[] {
  const s = a.replace(/%.*$/, "").toLowerCase();
  const [head, tail] = s.includes("::") ? (s.split("::", 2) as [string, string]) : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array(Math.max(0, 8 - h.length - t.length)).fill("0");
  return [...h, ...fill, ...t].map((g) => g.replace(/^0+(?=.)/, ""));
}
