// testing/ord-server.ts: a stand-in for the few ord server routes the inscribe tool and relay read
// (shapes from ordinals/ord src/api.rs: UtxoRecursive, Output, InscriptionRecursive, {ids,more,page}).
// State is plain maps the test fills in; unknown outputs answer 404 like ord does for unindexed ones.
export interface OrdStandIn {
  url: string;
  /** outpoint → inscriptions/runes/sat ranges; value is required. */
  outputs: Map<string, { value: number; inscriptions?: string[]; runes?: Record<string, unknown>; sat_ranges?: [number, number][] | null; address?: string | null; script_pubkey?: string }>;
  inscriptions: Map<string, { satpoint: string; sat: number | null; content_type?: string; body?: Uint8Array }>;
  /** sat → inscription ids, oldest first. */
  sats: Map<string, string[]>;
  height: number;
  log: string[];
  stop(): void;
}

export function startOrd(): OrdStandIn {
  const st: OrdStandIn = { url: '', outputs: new Map(), inscriptions: new Map(), sats: new Map(), height: 100, log: [], stop: () => server.stop(true) };
  const nf = () => new Response('Not Found', { status: 404 });
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      st.log.push(path);
      let m: RegExpExecArray | null;
      if ((m = /^\/r\/utxo\/([0-9a-f]{64}:\d+)$/.exec(path)) || (m = /^\/output\/([0-9a-f]{64}:\d+)$/.exec(path))) {
        const o = st.outputs.get(m[1]!);
        if (!o) return nf();
        const base = { inscriptions: o.inscriptions ?? [], runes: o.runes ?? {}, sat_ranges: o.sat_ranges ?? null, value: o.value };
        if (path.startsWith('/r/')) return Response.json(base);
        return Response.json({ address: o.address ?? null, confirmations: 1, indexed: true, ...base, outpoint: m[1], script_pubkey: o.script_pubkey ?? '', spent: false, transaction: m[1]!.split(':')[0] });
      }
      if ((m = /^\/r\/inscription\/([0-9a-f]{64}i\d+)$/.exec(path))) {
        const i = st.inscriptions.get(m[1]!);
        if (!i) return nf();
        const output = i.satpoint.split(':').slice(0, 2).join(':');
        return Response.json({ charms: [], content_type: i.content_type ?? null, content_length: i.body?.length ?? null, delegate: null, fee: 0, height: st.height, id: m[1], number: 0, output, sat: i.sat, satpoint: i.satpoint, timestamp: 0, value: st.outputs.get(output)?.value ?? null, address: null });
      }
      if ((m = /^\/content\/([0-9a-f]{64}i\d+)$/.exec(path))) {
        const i = st.inscriptions.get(m[1]!);
        if (!i || !i.body) return nf();
        return new Response(new Uint8Array(i.body), { headers: { 'Content-Type': i.content_type ?? 'application/octet-stream' } });
      }
      if ((m = /^\/r\/sat\/(\d+)\/at\/(-?\d+)$/.exec(path))) {
        const ids = st.sats.get(m[1]!) ?? [];
        const i = Number(m[2]);
        return Response.json({ id: (i < 0 ? ids[ids.length + i] : ids[i]) ?? null });
      }
      if ((m = /^\/r\/sat\/(\d+)(?:\/(\d+))?$/.exec(path))) {
        const ids = st.sats.get(m[1]!) ?? [];
        const page = Number(m[2] ?? 0);
        return Response.json({ ids: ids.slice(page * 100, page * 100 + 100), more: ids.length > page * 100 + 100, page });
      }
      if ((m = /^\/sat\/(\d+)$/.exec(path))) {
        const ids = st.sats.get(m[1]!) ?? [];
        // Like ord with --index-sats: the satpoint comes from the sat ranges of unspent outputs.
        const n = Number(m[1]);
        let satpoint: string | null = null;
        for (const [op, o] of st.outputs) {
          let off = 0;
          for (const [a, b] of o.sat_ranges ?? []) {
            if (n >= a && n < b) satpoint = `${op}:${off + n - a}`;
            off += b - a;
          }
        }
        return Response.json({ number: n, inscriptions: ids, satpoint });
      }
      if ((m = /^\/r\/children\/([0-9a-f]{64}i\d+)(?:\/(\d+))?$/.exec(path))) return Response.json({ ids: [], more: false, page: Number(m[2] ?? 0) });
      if (path === '/r/blockheight') return Response.json(st.height);
      return nf();
    },
  });
  st.url = `http://127.0.0.1:${server.port}`;
  return st;
}
