// Serving an inscription's bytes as ord does (src/subcommand/server/r.rs content_response and
// content_inner, accept_encoding.rs, server.rs preview): the two content CSP headers (or one
// naming --csp-origin), caching, Content-Encoding pass-through or 406 (or decoded with
// --decompress), one delegate followed, and the preview page for each media kind.
import { brotliDecompressSync } from "node:zlib";
import { mediaOf, PREVIEW_CSP } from "./media.ts";
import { html, notFound, text, type Reply } from "./reply.ts";
import type { Inscription, Store } from "./store.ts";
import { previewHtml } from "./templates.ts";

/** The server's switches that change answers (ord's flags of the same names). */
export interface Config {
  satIndex: boolean;
  cspOrigin: string | null;
  decompress: boolean;
  runeIndex?: boolean;
}

function acceptable(acceptEncoding: string | null, encoding: string): boolean {
  // accept_encoding.rs is_acceptable: split on ',', drop ';q=..', trim, compare exactly.
  return (acceptEncoding ?? "").split(",").some((v) => (v.split(";")[0] ?? "").trim() === encoding);
}

function contentSecurityPolicy(config: Config): [string, string][] {
  // r.rs content_response: two CSP headers, or one naming --csp-origin.
  const o = config.cspOrigin;
  if (o === null) {
    return [
      ["content-security-policy", "default-src 'self' 'unsafe-eval' 'unsafe-inline' data: blob:"],
      [
        "content-security-policy",
        "default-src *:*/content/ *:*/blockheight *:*/blockhash *:*/blockhash/ *:*/blocktime *:*/r/ 'unsafe-eval' 'unsafe-inline' data: blob:",
      ],
    ];
  }
  const allowed = ["/content/", "/blockheight", "/blockhash", "/blockhash/", "/blocktime", "/r/"].map((p) => o + p).join(" ");
  return [["content-security-policy", `default-src ${allowed} 'unsafe-eval' 'unsafe-inline' data: blob:`]];
}

/** r.rs content_response; null when the inscription has no body (the caller 404s). */
export function contentResponse(i: Inscription, acceptEncoding: string | null, config: Config, cache: boolean): Reply | null {
  const headers: [string, string][] = contentSecurityPolicy(config);
  headers.push(["cache-control", cache ? "public, max-age=1209600, immutable" : "no-store"]);
  headers.push(["content-type", i.content_type ?? "application/octet-stream"]);
  if (i.content_encoding !== null) {
    if (acceptable(acceptEncoding, i.content_encoding)) {
      headers.push(["content-encoding", i.content_encoding]);
    } else if (config.decompress && i.content_encoding === "br") {
      if (i.body === null) return null;
      return { status: 200, headers, body: new Uint8Array(brotliDecompressSync(i.body)) };
    } else {
      // error.rs NotAcceptable
      const tail = acceptEncoding === null ? " `Accept-Encoding` header not present" : ` \`Accept-Encoding\` header: \`${acceptEncoding}\``;
      return text(406, `inscription content encoding \`${i.content_encoding}\` is not acceptable.${tail}`);
    }
  }
  if (i.body === null) return null;
  return { status: 200, headers, body: i.body };
}

/** r.rs content_inner: follows one delegate, as ord does. */
export function content(store: Store, config: Config, id: string, acceptEncoding: string | null, cache: boolean): Reply {
  let i = store.get(id);
  if (!i) return notFound(`inscription ${id} not found`);
  if (i.delegate !== null) {
    i = store.get(i.delegate);
    if (!i) return notFound(`delegate ${id} not found`);
  }
  return contentResponse(i, acceptEncoding, config, cache) ?? notFound(`inscription ${id} content not found`);
}

/** server.rs preview(): HTML and SVG as /content, every other kind its preview page and CSP. */
export function preview(store: Store, config: Config, id: string, acceptEncoding: string | null): Reply {
  let i = store.get(id);
  if (!i) return notFound(`inscription ${id} not found`);
  const number = i.number;
  if (i.delegate !== null) {
    i = store.get(i.delegate);
    if (!i) return notFound(`delegate ${id} not found`);
  }
  const [media, extra] = mediaOf(i.content_type, i.body !== null);
  if (media === "iframe") {
    return contentResponse(i, acceptEncoding, config, true) ?? notFound(`inscription ${id} content not found`);
  }
  let csp = PREVIEW_CSP[media];
  if (config.cspOrigin !== null) csp = csp.replaceAll("'self'", config.cspOrigin);
  // ord passes the *outer* inscription's id (and number) to the template, not the delegate's.
  return html(previewHtml(media, extra, id, number), [["content-security-policy", csp]]);
}
