#!/usr/bin/env bun
// A minimal NIP-01 Nostr relay of our own, for the join benchmark only (Trystero's nostr strategy
// pointed at loopback). Speaks REQ / EVENT / CLOSE / EOSE / OK over WebSocket, with filters on
// ids, authors, kinds, #<tag>, since, until and limit. It keeps the last 10,000 events in memory and
// does NOT verify event ids or signatures (a real relay does: that costs it CPU, not the clients
// any round trips, so the join timing is unaffected). Prints {"port":N} on stdout when listening.
//   bun bench/nostr-relay.ts [--port N] [--host ADDR]   (default 127.0.0.1)
type Event = { id: string; pubkey: string; created_at: number; kind: number; tags: string[][]; content: string; sig: string };
type Filter = {
  ids?: string[];
  authors?: string[];
  kinds?: number[];
  since?: number;
  until?: number;
  limit?: number;
  [tag: `#${string}`]: string[];
};

export function matches(f: Filter, e: Event): boolean {
  if (f.ids && !f.ids.includes(e.id)) return false;
  if (f.authors && !f.authors.includes(e.pubkey)) return false;
  if (f.kinds && !f.kinds.includes(e.kind)) return false;
  if (f.since !== undefined && e.created_at < f.since) return false;
  if (f.until !== undefined && e.created_at > f.until) return false;
  for (const [k, want] of Object.entries(f)) {
    if (k[0] !== "#" || !Array.isArray(want)) continue;
    const name = k.slice(1);
    if (!e.tags.some((t) => t[0] === name && (want as string[]).includes(t[1]))) return false;
  }
  return true;
}

export function startNostrRelay(port = 0, hostname = "127.0.0.1") {
  const MAX_EVENTS = 10_000;
  const events: Event[] = [];
  const subs = new Map<any, Map<string, Filter[]>>();
  const server = Bun.serve<undefined>({
    hostname,
    port,
    fetch(req, srv) {
      if (srv.upgrade(req, { data: undefined })) return;
      return new Response("nostr relay (bench)", { status: 426 });
    },
    websocket: {
      open(ws) {
        subs.set(ws, new Map());
      },
      close(ws) {
        subs.delete(ws);
      },
      message(ws, raw) {
        let m: any;
        try {
          m = JSON.parse(String(raw));
        } catch {
          return void ws.send(JSON.stringify(["NOTICE", "bad json"]));
        }
        if (!Array.isArray(m)) return;
        if (m[0] === "EVENT" && m[1] && typeof m[1] === "object") {
          const e = m[1] as Event;
          if (typeof e.id !== "string" || typeof e.kind !== "number" || !Array.isArray(e.tags))
            return void ws.send(JSON.stringify(["OK", e.id ?? "", false, "invalid: malformed"]));
          events.push(e);
          if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
          ws.send(JSON.stringify(["OK", e.id, true, ""]));
          for (const [peer, mine] of subs)
            for (const [id, filters] of mine) if (filters.some((f) => matches(f, e))) peer.send(JSON.stringify(["EVENT", id, e]));
        } else if (m[0] === "REQ" && typeof m[1] === "string") {
          const filters = m.slice(2).filter((f: unknown) => f && typeof f === "object") as Filter[];
          subs.get(ws)?.set(m[1], filters);
          for (const f of filters) {
            let hits = events.filter((e) => matches(f, e));
            if (f.limit !== undefined) hits = hits.slice(-f.limit);
            for (const e of hits) ws.send(JSON.stringify(["EVENT", m[1], e]));
          }
          ws.send(JSON.stringify(["EOSE", m[1]]));
        } else if (m[0] === "CLOSE" && typeof m[1] === "string") {
          subs.get(ws)?.delete(m[1]);
        }
      },
    },
  });
  return { port: server.port, url: `ws://${hostname}:${server.port}`, stop: () => server.stop(true) };
}

if (import.meta.main) {
  const arg = (f: string) => (process.argv.includes(f) ? process.argv[process.argv.indexOf(f) + 1] : undefined);
  const r = startNostrRelay(Number(arg("--port") ?? 0), arg("--host"));
  console.log(JSON.stringify({ port: r.port }));
}
