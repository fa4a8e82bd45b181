// The gossip core at scale (test/helpers/gossip-sim.ts): 200 relays on a fake network and clock, 5 %
// of them behind NATs nobody can dial into, then 30 % churn (a third of the leavers come back at a
// new address). Asserts that everyone agrees again, who is confirmed, and that every bound holds;
// times and bytes are printed here and measured at 1,000 relays by `npm run bench -- gossip`.
import { describe, expect, test } from "bun:test";
import { simulate } from "../helpers/gossip-sim.ts";

describe("gossip simulation", () => {
  test("200 relays from two bootstrap relays: all agree on the live reachable relays, after start and after 30 % churn, within bounds", () => {
    const r = simulate({ relays: 200, seed: 16, unreachable: 0.05, churn: 0.3, steadyMs: 120_000 });
    console.log(
      `gossip sim, 200 relays: all list all ${r.cold.learned! / 1000} s after the last start (a page reading one relay: ${r.cold.pageMedian! / 1000} s, median), ` +
        `${r.churn.learned! / 1000} s after 30 % churn (the leavers dropped everywhere: ${r.churn.converged! / 1000} s); ${Math.round(r.steady.bytesPerRelayMin)} B/relay/min steady, ${Math.round(r.cold.bytesPerRelayMin)} starting, ${Math.round(r.churn.bytesPerRelayMin)} churning; ` +
        `max kept ${JSON.stringify(r.max)}; ${r.events} events in ${Math.round(r.wallMs)} ms`,
    );
    // Every running relay's list is exactly the running reachable relays at their current addresses.
    expect(r.cold.learned).not.toBeNull();
    expect(r.cold.converged).not.toBeNull();
    expect(r.churn.learned).not.toBeNull();
    expect(r.churn.converged).not.toBeNull();
    expect(r.churn.relaysAtEnd).toBeGreaterThan(200);
    // Each relay learned the address others reach it at; reachable ones were confirmed, the rest never.
    expect(r.addressesLearned).toBe(true);
    expect(r.confirmed.reachable).toBe(r.confirmed.of);
    expect(r.confirmed.ofUnreachable).toBeGreaterThan(0);
    expect(r.confirmed.unreachable).toBe(0);
    // Bounds, at every relay at every check.
    const L = r.limits;
    expect(r.max.known).toBeLessThanOrEqual(L.maxKnown);
    expect(r.max.pending).toBeLessThanOrEqual(L.maxPending);
    expect(r.max.inflight).toBeLessThanOrEqual(L.maxInflight);
    expect(r.max.inbound).toBeLessThanOrEqual(L.maxInbound);
    expect(r.max.links).toBeLessThanOrEqual(L.maxLinks + L.maxInflight);
    expect(r.max.failed).toBeLessThanOrEqual(4096);
    expect(r.max.payers).toBeLessThanOrEqual(L.maxPayers);
  }, 120_000);
});
