// The dev ord server's public entry point (docs/ord-server.md): what tests, dev/embedded.ts and
// inscribe/testing/chain.ts import. The server itself lives in dev/ord/, one file per job:
// server.ts (HTTP shell) · routes.ts (route table, built once) · store.ts (store and indexer) ·
// content.ts (/content, /preview) · api.ts (JSON) · reply.ts (replies, layers) · parse.ts
// (Rust-compatible parsers, sat math) · media.ts (media table) · templates.ts (HTML) · manifest.ts.
export { startOrdServer, type OrdServer, type OrdServerOptions } from "./ord/server.ts";
export {
  Store,
  blockHash,
  sha256Id,
  type Inscription,
  type InscriptionInput,
  type OrdChainOutput,
  type OrdChainTx,
  type OrdChainView,
} from "./ord/store.ts";
export { parseInscriptionId, parseOutPoint, parseRustInt, parseSat, satInfo } from "./ord/parse.ts";
export { PAGE_SIZE } from "./ord/routes.ts";
export { iframeMain, iframeThumbnail } from "./ord/templates.ts";
export type { Reply } from "./ord/reply.ts";
