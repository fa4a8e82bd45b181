// Which address of this machine `npm start`'s relay listens on. Firefox gathers no loopback ICE
// candidates (it will not use 127.0.0.1 for WebRTC), so a relay on loopback is reachable from
// Chromium only; a non-loopback address of the machine is reachable from both, the pages' own
// traffic to it never leaving the machine. Preferred: the IPv4 address of the interface holding
// the default route (Chromium, without a media permission, gathers host candidates only there);
// then any other non-loopback, non-link-local IPv4 address; loopback when there is none.
import { readFileSync } from "node:fs";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";

export interface RelayAddress {
  address: string;
  /** The interface it belongs to ("lo" for the loopback fallback). */
  iface: string;
  /** Why this one: the default route's interface, another interface, or no other address. */
  reason: "default-route" | "other-interface" | "loopback-only";
}

/** The interfaces holding a default route in /proc/net/route text (Linux), first first. */
export function defaultRouteIfaces(procNetRoute: string): string[] {
  const out: string[] = [];
  for (const line of procNetRoute.split("\n").slice(1)) {
    const [iface, dest, , , , , , mask] = line.trim().split(/\s+/);
    if (iface && dest === "00000000" && mask === "00000000" && !out.includes(iface)) out.push(iface);
  }
  return out;
}

const usable = (a: NetworkInterfaceInfo) => a.family === "IPv4" && !a.internal && !a.address.startsWith("169.254.");

/** Picks the relay's address from the machine's interfaces and its default-route interfaces. */
export function pickRelayAddress(ifaces: Record<string, NetworkInterfaceInfo[] | undefined>, defaults: string[]): RelayAddress {
  for (const iface of defaults) {
    const a = ifaces[iface]?.find(usable);
    if (a) return { address: a.address, iface, reason: "default-route" };
  }
  for (const [iface, list] of Object.entries(ifaces)) {
    const a = list?.find(usable);
    if (a) return { address: a.address, iface, reason: "other-interface" };
  }
  return { address: "127.0.0.1", iface: "lo", reason: "loopback-only" };
}

/** This machine's relay address, from os.networkInterfaces() and /proc/net/route (absent off Linux). */
export function machineRelayAddress(): RelayAddress {
  let routes = "";
  try {
    routes = readFileSync("/proc/net/route", "utf8");
  } catch {
    // not Linux: no default-route hint, the first usable interface is taken
  }
  return pickRelayAddress(networkInterfaces(), defaultRouteIfaces(routes));
}

/** True for loopback and unspecified addresses, which no browser elsewhere can use. */
export const isLoopback = (host: string) => /^(127\.|::1$|localhost$)/.test(host);
export const isUnspecified = (host: string) => host === "0.0.0.0" || host === "::" || host === "[::]";
