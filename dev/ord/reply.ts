// Replies of the dev ord server: the shapes ord's handlers and error type produce
// (src/subcommand/server/error.rs), axum 0.8's `Path` rejections ("Invalid URL: …"), and the
// outer layers every reply passes through (server.rs: default CSP, HSTS, CORS).
import { parseInscriptionId, parseRustInt, parseSat } from "./parse.ts";

export interface Reply {
  status: number;
  headers: [string, string][];
  body: Uint8Array | string;
}

const TEXT = "text/plain; charset=utf-8";
const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json";

export const text = (status: number, body: string, headers: [string, string][] = []): Reply => ({
  status,
  headers: [["content-type", TEXT], ...headers],
  body,
});
// error.rs: NotFound is 404 + Cache-Control: no-store + the message as text.
export const notFound = (message: string): Reply => text(404, message, [["cache-control", "no-store"]]);
export const json = (body: string, headers: [string, string][] = [], status = 200): Reply => ({
  status,
  headers: [["content-type", JSON_TYPE], ...headers],
  body,
});
export const html = (body: string, headers: [string, string][] = []): Reply => ({
  status: 200,
  headers: [["content-type", HTML], ...headers],
  body,
});
// axum's FailedToDeserializePathParams: 400 with "Invalid URL: <kind>".
export const badPath = (kind: string): Reply => text(400, `Invalid URL: ${kind}`);
export const internal = (): Reply => text(500, "Internal Server Error");

/** Thrown by a parameter extractor; the router answers with its reply. */
export class Rejection {
  constructor(readonly reply: Reply) {}
}

// Path extraction, as axum does it. A route with ONE parameter deserializes it with its name
// as key; a route with several deserializes a tuple, where errors carry an index instead.
export function idParam(key: string, value: string, single: boolean): string {
  const p = parseInscriptionId(value);
  if (p.ok) return p.value;
  throw new Rejection(badPath(single ? `Cannot parse \`${key}\` with value \`${value}\`: ${p.message}` : p.message));
}

export function intParam(key: string, value: string, at: number | null, bits: number, signed: boolean): bigint {
  const p = parseRustInt(value, bits, signed);
  if (p.ok) return p.value;
  const type = `${signed ? "i" : "u"}${bits}`;
  throw new Rejection(
    badPath(
      at === null
        ? `Cannot parse \`${key}\` with value \`${value}\` to a \`${type}\``
        : `Cannot parse value at index ${at} with value \`${value}\` to a \`${type}\``,
    ),
  );
}

export function satParam(value: string): bigint {
  // r.rs: Path<(DeserializeFromStr<Sat>, isize)>; ord's DeserializeFromStr fails after the
  // String is read, so axum reports the bare message (cf. server.rs test sat_out_of_range).
  const p = parseSat(value);
  if (p.ok) return p.value;
  throw new Rejection(badPath(p.message));
}

// tower-http CorsLayer::new().allow_methods([GET, POST]).allow_headers([CONTENT_TYPE]).allow_origin(Any)
const VARY = "origin, access-control-request-method, access-control-request-headers";

/** A CORS preflight, answered by the CORS layer, outside the CSP/HSTS layers. */
export const preflight = (): Reply => ({
  status: 200,
  headers: [
    ["access-control-allow-origin", "*"],
    ["access-control-allow-methods", "GET,POST"],
    ["access-control-allow-headers", "content-type"],
    ["vary", VARY],
  ],
  body: "",
});

/** The outer layers of server.rs, in order: default CSP if none, HSTS (overriding), CORS. */
export function finish(reply: Reply): Reply {
  const headers = reply.headers.filter(([k]) => k !== "strict-transport-security");
  if (!headers.some(([k]) => k === "content-security-policy")) {
    headers.push(["content-security-policy", "default-src 'self'"]);
  }
  headers.push(["strict-transport-security", "max-age=31536000; includeSubDomains; preload"]);
  headers.push(["access-control-allow-origin", "*"]);
  headers.push(["vary", VARY]);
  return { ...reply, headers };
}
