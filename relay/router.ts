// Room routing, sans-IO: who is in which topic, and which frames go to whom.
// The relay only ever sees opaque 16-byte topics, 8-byte peer ids and sealed payloads.
import { E, T, encode, type Frame } from "../protocol/frames.ts";
import { fromHex, hex } from "../protocol/bytes.ts";
import type { Limits } from "./limits.ts";

export type RouteOut = { key: string; data: Uint8Array };
/** `replaced`: the session that held this id in the room before (now out of it). */
export type RouteResult = { out: RouteOut[]; error?: { code: number; message: string }; replaced?: string };

export interface RoomStats {
  rooms: number;
  memberships: number;
}

export class Router {
  /** topic hex → (peer id hex → session key) */
  private rooms = new Map<string, Map<string, string>>();
  /** session key → (topic hex → { topic, id, host }) */
  private bySession = new Map<string, Map<string, { topic: Uint8Array; id: Uint8Array; host: string }>>();
  /** topic hex → (host → members from it) */
  private hosts = new Map<string, Map<string, number>>();

  constructor(private limits: Pick<Limits, "roomsPerSession" | "membersPerRoom"> & Partial<Pick<Limits, "membersPerIp">>) {}

  stats(): RoomStats {
    let memberships = 0;
    for (const r of this.rooms.values()) memberships += r.size;
    return { rooms: this.rooms.size, memberships };
  }

  /** Members of a topic's room (0 when nobody is in it). */
  size(topic: Uint8Array): number {
    return this.rooms.get(hex(topic))?.size ?? 0;
  }

  /** Route one room frame (JOIN, LEAVE, SEND, BCAST) from session `key`, whose address counts as `host`.
   *  `owns`: the session proved it holds the JOIN's id (the id is its DTLS certificate's): it takes the
   *  id over from another session holding it (a page that crashed and came back under its kept id). */
  handle(key: string, f: Frame, host = key, owns = false): RouteResult {
    const out: RouteOut[] = [];
    let replaced: string | undefined;
    switch (f.t) {
      case T.JOIN: {
        const th = hex(f.topic);
        const mine = this.bySession.get(key) ?? new Map();
        const room = this.rooms.get(th) ?? new Map<string, string>();
        const ih = hex(f.id);
        const prev = mine.get(th);
        if (prev) {
          if (hex(prev.id) !== ih) return { out, error: { code: E.ID_TAKEN, message: "already in this room under another id" } };
        } else {
          if (mine.size >= this.limits.roomsPerSession)
            return { out, error: { code: E.ROOMS, message: `at most ${this.limits.roomsPerSession} rooms per session` } };
          const holder = room.get(ih);
          if (holder && !owns) return { out, error: { code: E.ID_TAKEN, message: "peer id already in this room" } };
          if (!holder && room.size >= this.limits.membersPerRoom)
            return { out, error: { code: E.MEMBERS, message: `room is full (${this.limits.membersPerRoom} members)` } };
          // The same certificate in a new session: the old one is gone (a kept identity is used by one
          // tab at a time), or will learn it is out from NOT_JOINED. The others see LEFT, then JOINED.
          const cap = this.limits.membersPerIp ?? Infinity;
          const fromHost = (this.hosts.get(th)?.get(host) ?? 0) - (holder && this.bySession.get(holder)?.get(th)?.host === host ? 1 : 0);
          if (fromHost >= cap) return { out, error: { code: E.MEMBERS, message: `at most ${cap} members of one room from one address` } };
          if (holder) this.leave((replaced = holder), th, out);
          const perHost = this.hosts.get(th) ?? new Map<string, number>();
          perHost.set(host, (perHost.get(host) ?? 0) + 1);
          this.hosts.set(th, perHost);
          const topic = f.topic.slice(),
            id = f.id.slice();
          const joined = encode({ t: T.JOINED, topic, id });
          for (const k of room.values()) out.push({ key: k, data: joined });
          room.set(ih, key);
          mine.set(th, { topic, id, host });
          this.rooms.set(th, room);
          this.bySession.set(key, mine);
        }
        const ids: Uint8Array[] = [];
        for (const [other, k] of room) if (k !== key) ids.push(fromHex(other));
        out.push({ key, data: encode({ t: T.MEMBERS, topic: f.topic, ids }) });
        return { out, replaced };
      }
      case T.LEAVE: {
        this.leave(key, hex(f.topic), out);
        return { out };
      }
      case T.SEND:
      case T.BCAST: {
        const th = hex(f.topic);
        const me = this.bySession.get(key)?.get(th);
        if (!me) return { out, error: { code: E.NOT_JOINED, message: "not in this room" } };
        const room = this.rooms.get(th)!;
        if (f.t === T.SEND) {
          const k = room.get(hex(f.to));
          if (!k) return { out, error: { code: E.NO_PEER, message: "no such peer in this room" } };
          out.push({ key: k, data: encode({ t: T.DELIVER, topic: me.topic, from: me.id, bcast: false, data: f.data }) });
        } else {
          const data = encode({ t: T.DELIVER, topic: me.topic, from: me.id, bcast: true, data: f.data });
          for (const k of room.values()) if (k !== key) out.push({ key: k, data });
        }
        return { out };
      }
    }
    return { out, error: { code: E.UNEXPECTED, message: "not a room frame" } };
  }

  /** A session went away: it leaves every room it was in. */
  drop(key: string): RouteOut[] {
    const out: RouteOut[] = [];
    for (const th of [...(this.bySession.get(key)?.keys() ?? [])]) this.leave(key, th, out);
    return out;
  }

  private leave(key: string, th: string, out: RouteOut[]) {
    const mine = this.bySession.get(key);
    const me = mine?.get(th);
    if (!mine || !me) return;
    mine.delete(th);
    if (!mine.size) this.bySession.delete(key);
    const room = this.rooms.get(th)!;
    room.delete(hex(me.id));
    if (!room.size) this.rooms.delete(th);
    const perHost = this.hosts.get(th);
    const n = (perHost?.get(me.host) ?? 1) - 1;
    if (n > 0) perHost!.set(me.host, n);
    else perHost?.delete(me.host);
    if (perHost && !perHost.size) this.hosts.delete(th);
    const left = encode({ t: T.LEFT, topic: me.topic, id: me.id });
    for (const k of room.values()) out.push({ key: k, data: left });
  }
}
