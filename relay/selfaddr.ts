// A relay's own public address, as other relays see it (sans-IO). Each relay that answers a plain
// STUN Binding sent from this relay's socket reports the ip:port it saw (XOR-MAPPED-ADDRESS): the
// address others reach this relay at, NAT mapping included. One relay's word is not enough when
// others answered too: the address most reporters saw wins, and with two or more reporters it
// needs at least two of them. Reporters are counted by IP (many relays on one host are one voice),
// at most 16, and a report counts for 30 minutes.

export interface Agreed {
  /** "ip:port" or "[v6]:port" */
  addr: string;
  /** Reporters that saw it, out of all current reporters. */
  votes: number;
  of: number;
}

export class SelfAddress {
  private seen = new Map<string, { addr: string; at: number }>();
  constructor(
    private readonly max = 16,
    private readonly ttlMs = 30 * 60_000,
  ) {}

  /** The relay whose IP is `reporter` saw this relay's socket at `addr`. True when that is news (a
   *  new reporter, or another address than it reported before): only then can agreed() change. */
  observe(reporter: string, addr: string, now: number): boolean {
    const was = this.seen.get(reporter);
    this.seen.delete(reporter);
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(reporter, { addr, at: now });
    return was?.addr !== addr;
  }

  /** Reports still counting, newest last. */
  reports(now: number): { reporter: string; addr: string; at: number }[] {
    for (const [k, v] of this.seen) if (now - v.at > this.ttlMs) this.seen.delete(k);
    return [...this.seen].map(([reporter, v]) => ({ reporter, ...v }));
  }

  /** The address the reporters agree on, or null (none yet, or no two agree while several answered). */
  agreed(now: number, current?: string): Agreed | null {
    const rs = this.reports(now);
    const votes = new Map<string, number>(),
      lastAt = new Map<string, number>();
    rs.forEach((r, i) => (votes.set(r.addr, (votes.get(r.addr) ?? 0) + 1), lastAt.set(r.addr, i)));
    let best: string | undefined;
    for (const [a, n] of votes) {
      const b = best === undefined ? 0 : votes.get(best)!;
      // Ties keep the address already in use, else the most recent report's.
      if (n > b || (n === b && best !== current && (a === current || lastAt.get(a)! > lastAt.get(best!)!))) best = a;
    }
    if (best === undefined) return null;
    const n = votes.get(best)!;
    return n >= 2 || rs.length === 1 ? { addr: best, votes: n, of: rs.length } : null;
  }
}
