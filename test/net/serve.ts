#!/usr/bin/env bun
// A static HTTP server meant to run inside a test namespace (`ip netns exec <ns> bun serve.ts`):
// reads its routes as JSON on stdin ({ "/path": { b64, type } }), listens on the hostname given as
// the first argument (default 127.0.0.1, a secure context for pages) and prints `listening <port>`.
// Every response allows any origin, so pages elsewhere can probe it with fetch().

export interface Route {
  body: Uint8Array | string;
  type: string;
}
export type Routes = Record<string, Route>;

/** The JSON the server reads on stdin. */
export const encodeRoutes = (routes: Routes) =>
  JSON.stringify(
    Object.fromEntries(Object.entries(routes).map(([p, r]) => [p, { type: r.type, b64: Buffer.from(r.body).toString("base64") }])),
  );

if (import.meta.main) {
  const spec = JSON.parse(await Bun.stdin.text()) as Record<string, { b64: string; type: string }>;
  const routes = new Map(Object.entries(spec).map(([p, r]) => [p, { body: Buffer.from(r.b64, "base64"), type: r.type }]));
  const server = Bun.serve({
    hostname: process.argv[2] ?? "127.0.0.1",
    port: 0,
    fetch(req) {
      const r = routes.get(new URL(req.url).pathname);
      const headers = { "access-control-allow-origin": "*", "cache-control": "no-store" };
      if (!r) return new Response("not found", { status: 404, headers });
      return new Response(r.body, { headers: { ...headers, "content-type": r.type } });
    },
  });
  console.log(`listening ${server.port}`);
}
