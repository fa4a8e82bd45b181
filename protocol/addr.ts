// Relay addresses, certificate fingerprints and ICE credentials, as they appear in relay records,
// bootstrap configs, SDP and STUN (docs/protocol.md §1, §6). Plain functions, nothing at import time.

/** Parse "ip:port" / "[v6]:port"; null when malformed. */
export function parseAddr(addr: string): { ip: string; port: number; v6: boolean } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(addr);
  const port = m ? +m[3] : 0;
  return m && port > 0 && port < 65536 ? { ip: m[1] ?? m[2], port, v6: !!m[1] } : null;
}

/** A SHA-256 certificate fingerprint as SDP writes it: 32 uppercase hex bytes, colon separated. */
export const FP_RE = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/** 32 random ICE characters (192 bits): base64's alphabet is exactly ice-char's (RFC 8839 §5.4). */
export const randomUfrag = (): string => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));

/** A peer id: the first 8 bytes of a colon-hex SHA-256 certificate fingerprint. */
export const fpId = (fp: string): Uint8Array => Uint8Array.from(fp.split(":").slice(0, 8), (h) => parseInt(h, 16));
