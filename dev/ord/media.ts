// ord's media table by content type (src/inscriptions/media.rs Media::TABLE: which preview a
// type gets, and its language or image rendering) and the preview CSP of each kind
// (src/subcommand/server/server_config.rs preview_content_security_policy). The extension table
// used when inscribing files is inscribe/envelope.ts `mediaForPath`.

export type Media = "audio" | "code" | "font" | "iframe" | "image" | "markdown" | "model" | "pdf" | "text" | "unknown" | "video";

/** Content type → [kind, code language or image-rendering]. */
const MEDIA: Record<string, [Media, string?]> = {
  "application/cbor": ["unknown"],
  "application/json": ["code", "json"],
  "application/octet-stream": ["unknown"],
  "application/pdf": ["pdf"],
  "application/pgp-signature": ["text"],
  "application/protobuf": ["unknown"],
  "application/x-bittorrent": ["unknown"],
  "application/x-javascript": ["code", "javascript"],
  "application/yaml": ["code", "yaml"],
  "audio/flac": ["audio"],
  "audio/mpeg": ["audio"],
  "audio/ogg": ["audio"],
  "audio/ogg;codecs=opus": ["audio"],
  "audio/wav": ["audio"],
  "font/otf": ["font"],
  "font/ttf": ["font"],
  "font/woff": ["font"],
  "font/woff2": ["font"],
  "image/apng": ["image", "pixelated"],
  "image/avif": ["image", "auto"],
  "image/gif": ["image", "pixelated"],
  "image/jpeg": ["image", "pixelated"],
  "image/jxl": ["image", "auto"],
  "image/png": ["image", "pixelated"],
  "image/svg+xml": ["iframe"],
  "image/webp": ["image", "pixelated"],
  "model/gltf+json": ["model"],
  "model/gltf-binary": ["model"],
  "model/stl": ["unknown"],
  "text/css": ["code", "css"],
  "text/html": ["iframe"],
  "text/html;charset=utf-8": ["iframe"],
  "text/javascript": ["code", "javascript"],
  "text/markdown": ["markdown"],
  "text/markdown;charset=utf-8": ["markdown"],
  "text/plain": ["text"],
  "text/plain;charset=utf-8": ["text"],
  "text/x-python": ["code", "python"],
  "video/mp4": ["video"],
  "video/webm": ["video"],
};

/** inscription.rs media(): no body or no content type → unknown; unlisted types too. */
export function mediaOf(contentType: string | null, hasBody: boolean): [Media, string?] {
  if (!hasBody || contentType === null) return ["unknown"];
  return MEDIA[contentType] ?? ["unknown"];
}

export type PreviewMedia = Exclude<Media, "iframe">;

export const PREVIEW_CSP: Record<PreviewMedia, string> = {
  audio: "default-src 'self'",
  code: "script-src-elem 'self' https://cdn.jsdelivr.net",
  font: "script-src-elem 'self'; style-src 'self' 'unsafe-inline'",
  image: "default-src 'self' 'unsafe-inline'",
  markdown: "script-src-elem 'self' https://cdn.jsdelivr.net",
  model: "script-src-elem 'self' https://ajax.googleapis.com",
  pdf: "script-src-elem 'self' https://cdn.jsdelivr.net",
  text: "default-src 'self'",
  unknown: "default-src 'self'",
  video: "default-src 'self'",
};
