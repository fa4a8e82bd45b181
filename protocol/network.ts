// The public network's fixed points, written once: the project's sats (library, bootstrap config,
// crypto fallback), the ord origin a page outside an inscription reads them from, and the relays
// compiled into builds as the fallback when no ord server answers. build.ts compiles these into
// the browser library and the relay executable alike (LUMAMESH_BUILD), so a page and a relay
// started with no configuration look for relays in the same places (docs/protocol.md §5).
import type { RelayInfo } from "./bootstrap.ts";

/** The project's sats. Placeholders until the maintainers inscribe them on mainnet (docs/inscribe.md). */
export const SATS = /* @__PURE__ */ Object.freeze({ lib: 25483050765715, boot: 25483050765716, fallback: 25483050765717 } as const);

/** The ord server read when not inside an inscription (pages: src/discover.ts; relays: relay/discover.ts). */
export const ORD_ORIGIN = "https://ordinals.com";

/** Relays compiled in, used when no ord server answers: none until the maintainers run relays of their own. */
export const COMPILED_RELAYS: readonly RelayInfo[] = /* @__PURE__ */ Object.freeze([]);

/** What a build compiles in (see build.ts): the bootstrap sat, the relays, where the crypto fallback is. */
export interface BuildConfig {
  /** The bootstrap sat: its newest inscription is the relay list (docs/protocol.md §5). */
  bootSat: number;
  /** Relays compiled in, used when no ord server answers. */
  relays: { addr: string; fp: string }[];
  /** Where the crypto fallback module is, relative to the library's own URL. */
  fallback: string;
}

export const DEFAULT_BUILD: BuildConfig = /* @__PURE__ */ Object.freeze({
  bootSat: SATS.boot,
  relays: [...COMPILED_RELAYS],
  fallback: `/r/sat/${SATS.fallback}/at/-1/content`,
});
