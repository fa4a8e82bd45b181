// The nftables ruleset of a test NAT router: which NAT flavour (RFC 4787 mapping behaviour) and
// a WAN side that lets in only what belongs to a connection the LAN started.
//
//   cone       endpoint-independent mapping: plain masquerade. Linux keeps the inner source port
//              when it is free, so one inner socket appears as the same outer ip:port to every
//              destination. Filtering is conntrack's: a reply must come from the exact ip:port the
//              LAN host sent to (address- and port-dependent filtering: a port-restricted cone).
//   symmetric  endpoint-dependent mapping: masquerade with fully-random port allocation, so every
//              new destination ip:port gets its own random outer port. Same filtering.

export type NatKind = "cone" | "symmetric";

/** Interface names inside a router namespace. */
export const WAN = "wan";
export const LAN = "lan";

/** The ruleset for `nft -f -` inside the router's namespace (and only there). The "unsolicited"
 * drop rules count what they drop: `droppedPackets()` sums them. */
export function natRuleset(kind: NatKind): string {
  const masquerade = kind === "symmetric" ? "masquerade fully-random" : "masquerade";
  return `
table ip lumamesh_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${WAN}" ${masquerade}
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "${LAN}" oifname "${WAN}" accept
    iifname "${WAN}" counter drop comment "unsolicited"
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${WAN}" ct state established,related accept
    iifname "${WAN}" counter drop comment "unsolicited"
  }
}
`;
}

/** Packets dropped so far by the "unsolicited" rules, from `nft -j list table ip lumamesh_nat`. */
export function droppedPackets(nftJson: string): number {
  type Expr = { counter?: { packets: number } };
  const items = (JSON.parse(nftJson) as { nftables: { rule?: { comment?: string; expr: Expr[] } }[] }).nftables;
  let n = 0;
  for (const { rule } of items) if (rule?.comment === "unsolicited") for (const e of rule.expr) n += e.counter?.packets ?? 0;
  return n;
}
