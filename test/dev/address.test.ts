// dev/address.ts: which address `npm start`'s relay listens on, from a /proc/net/route text and
// an os.networkInterfaces() shape (both as Linux reports them).
import { describe, expect, test } from "bun:test";
import type { NetworkInterfaceInfo } from "node:os";
import { defaultRouteIfaces, pickRelayAddress } from "../../dev/address.ts";

const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
`;
const v4 = (address: string, internal = false): NetworkInterfaceInfo =>
  ({
    address,
    family: "IPv4",
    internal,
    netmask: "255.255.255.0",
    mac: "00:00:00:00:00:00",
    cidr: `${address}/24`,
  }) as NetworkInterfaceInfo;
const v6 = (address: string): NetworkInterfaceInfo =>
  ({
    address,
    family: "IPv6",
    internal: false,
    netmask: "ffff:ffff:ffff:ffff::",
    mac: "00:00:00:00:00:00",
    cidr: `${address}/64`,
    scopeid: 0,
  }) as NetworkInterfaceInfo;

describe("defaultRouteIfaces", () => {
  test("only destination 0/0 rows, in order, once each; a header-only table has none", () => {
    expect(defaultRouteIfaces(ROUTE)).toEqual(["wlan0"]);
    expect(defaultRouteIfaces(ROUTE.split("\n")[0]!)).toEqual([]);
    expect(defaultRouteIfaces("")).toEqual([]);
  });
});

describe("pickRelayAddress", () => {
  const ifaces = { lo: [v4("127.0.0.1", true)], docker0: [v4("172.17.0.1")], wlan0: [v6("fe80::1"), v4("192.168.1.23")] };
  test("the default route's interface first, even when another interface is listed before it", () => {
    expect(pickRelayAddress(ifaces, ["wlan0"])).toEqual({ address: "192.168.1.23", iface: "wlan0", reason: "default-route" });
  });
  test("without a default route: the first other non-loopback, non-link-local IPv4 address", () => {
    expect(pickRelayAddress({ lo: ifaces.lo, eth1: [v4("169.254.3.4")], docker0: ifaces.docker0 }, [])).toEqual({
      address: "172.17.0.1",
      iface: "docker0",
      reason: "other-interface",
    });
    // a default route on an interface with no IPv4 address is skipped
    expect(pickRelayAddress({ lo: ifaces.lo, tun0: [v6("2001:db8::1")], docker0: ifaces.docker0 }, ["tun0"]).address).toBe("172.17.0.1");
  });
  test("loopback only when the machine has nothing else", () => {
    expect(pickRelayAddress({ lo: ifaces.lo, eth0: [v6("fe80::2")] }, [])).toEqual({
      address: "127.0.0.1",
      iface: "lo",
      reason: "loopback-only",
    });
  });
});
