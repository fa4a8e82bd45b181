// JSON bodies of the dev ord server, in ord's shapes and key order (src/api.rs; serde_json
// keeps declaration order). Written by hand where a u64 must be echoed exactly.
import type { SatInfo } from "./parse.ts";
import { GENESIS_TIME, type Inscription, type Store } from "./store.ts";

const outputOf = (satpoint: string) => satpoint.split(":").slice(0, 2).join(":");

/** api.rs InscriptionRecursive (/r/inscription/<ID>). */
export function inscriptionRecursiveJson(store: Store, i: Inscription): string {
  const satpoint = store.location(i);
  return JSON.stringify({
    charms: i.charms,
    content_type: i.content_type,
    content_length: i.body === null ? null : i.body.length,
    delegate: i.delegate,
    fee: i.fee,
    height: i.height,
    id: i.id,
    number: i.number,
    output: outputOf(satpoint),
    sat: i.sat,
    satpoint,
    timestamp: i.timestamp,
    value: i.value,
    address: i.address,
  });
}

/** api.rs RelativeInscriptionRecursive (/r/children|parents/<ID>/inscriptions). */
export function relativeInscription(store: Store, i: Inscription): Record<string, unknown> {
  const satpoint = store.location(i);
  return {
    charms: i.charms,
    fee: i.fee,
    height: i.height,
    id: i.id,
    number: i.number,
    output: outputOf(satpoint),
    sat: i.sat,
    satpoint,
    timestamp: i.timestamp,
  };
}

/** api.rs Inscription, for /inscription/<id> with `Accept: application/json` (server.rs inscription_inner). */
export function inscriptionJson(store: Store, i: Inscription): string {
  const target = i.delegate === null ? i : store.get(i.delegate);
  const satpoint = store.location(i);
  const children = store.childrenOf(i);
  return JSON.stringify({
    address: i.address,
    charms: i.charms,
    child_count: children.length,
    children: children.slice(0, 4).map((c) => c.id),
    content_length: i.body === null ? null : i.body.length,
    content_type: i.content_type,
    effective_content_type: target ? target.content_type : null,
    fee: i.fee,
    height: i.height,
    id: i.id,
    metaprotocol: null,
    next: store.list[i.sequence + 1]?.id ?? null,
    number: i.number,
    parents: store
      .parentsOf(i)
      .slice(0, 4)
      .map((p) => p.id),
    previous: store.list[i.sequence - 1]?.id ?? null,
    properties: { gallery: [], attributes: { title: null, traits: {} } },
    rune: null,
    sat: i.sat,
    satpoint,
    timestamp: i.timestamp,
    value: i.value,
  });
}

/** api.rs Children / Parents: `{ids, more, <pageKey>}`, the page echoed as the u64 it was. */
export function idsPage(items: Inscription[], more: boolean, pageKey: "page" | "page_index", page: bigint): string {
  return `{"ids":${JSON.stringify(items.map((i) => i.id))},"more":${more},"${pageKey}":${page}}`;
}

/** api.rs ChildInscriptions / ParentInscriptions: `{<listKey>: [RelativeInscriptionRecursive], more, page}`. */
export function inscriptionsPage(store: Store, listKey: "children" | "parents", items: Inscription[], more: boolean, page: bigint): string {
  return `{"${listKey}":${JSON.stringify(items.map((i) => relativeInscription(store, i)))},"more":${more},"page":${page}}`;
}

/** api.rs Sat (/sat/<N> with `Accept: application/json`); u64 fields written as they are. */
export function satJson(sat: bigint, info: SatInfo, address: string | null, satpoint: string | null, on: Inscription[]): string {
  const s = JSON.stringify;
  const fields: [string, string][] = [
    ["address", s(address)],
    ["block", String(info.height)],
    ["charms", s(info.charms)],
    ["cycle", String(info.cycle)],
    ["decimal", s(info.decimal)],
    ["degree", s(info.degree)],
    ["epoch", String(info.epoch)],
    ["inscriptions", s(on.map((i) => i.id))],
    ["name", s(info.name)],
    ["number", String(sat)],
    ["offset", String(info.offset)],
    ["percentile", s(info.percentile)],
    ["period", String(info.period)],
    ["rarity", s(info.rarity)],
    ["satpoint", s(satpoint)],
    ["timestamp", String(GENESIS_TIME + Number(info.height) * 600)],
  ];
  return `{${fields.map(([k, v]) => `"${k}":${v}`).join(",")}}`;
}
