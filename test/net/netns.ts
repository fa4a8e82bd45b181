// A test network made of Linux network namespaces: a "public" segment (a bridge in a switch
// namespace), hosts on it, and NAT routers with hosts behind them. Needs root; touches nothing in
// the root namespace (every veth is created from inside the namespaces it joins). See docs/testing.md.
//
//   public hosts 10.77.0.X ── br0 (switch ns) ── wan 10.77.0.Y [router: NAT] lan 192.168.N.1 ── hosts 192.168.N.K
import type { Spawn, Subprocess } from "bun";
import { atExit, deleteNamespaceSync, sweepStale } from "./cleanup.ts";
import { droppedPackets, LAN, natRuleset, WAN, type NatKind } from "./nat.ts";
import { watchOutput } from "./output.ts";
import { encodeRoutes, type Routes } from "./serve.ts";

export type { NatKind } from "./nat.ts";
export type { Route, Routes } from "./serve.ts";

export const PUBLIC_SUBNET = "10.77.0.0/24";
const publicIp = (n: number) => `10.77.0.${n}`;
/** The switch namespace's own address: the public segment's default gateway, which forwards nothing.
 * Browsers need a default route: Chromium, without a media permission, gathers host candidates only
 * on the interface of the default route (and none when there is no default route at all). */
export const GATEWAY = publicIp(1);

export interface Served {
  /** Base URL, valid inside the serving namespace (and, for a non-loopback hostname, on its network). */
  url: string;
  port: number;
  stop(): void;
}

export interface NetHost {
  /** The name given to publicHost()/host()/natRouter(). */
  readonly name: string;
  /** The network namespace (`ip netns exec <ns> …`). */
  readonly ns: string;
  /** Its address: 10.77.0.X on the public segment, 192.168.N.K behind a router (a router's is its WAN). */
  readonly ip: string;
  /** Start `cmd` inside the namespace. The process is killed by destroy() and at exit. */
  spawn<
    const In extends Spawn.Writable = "ignore",
    const Out extends Spawn.Readable = "pipe",
    const Err extends Spawn.Readable = "inherit",
  >(cmd: string[], opts?: Spawn.SpawnOptions<In, Out, Err>): Subprocess<In, Out, Err>;
  /** Run `cmd` inside the namespace to completion; resolves with stdout, throws with stderr on failure. */
  run(cmd: string[], opts?: { stdin?: string }): Promise<string>;
  /** A static HTTP server inside the namespace, on `hostname` (default 127.0.0.1: a secure context
   * for pages; "0.0.0.0" serves the host's network too, and the URL then names `ip`). */
  serve(routes: Routes, opts?: { hostname?: string }): Promise<Served>;
}

export interface NatRouter extends NetHost {
  readonly nat: NatKind;
  /** The router's LAN address, 192.168.N.1 (its `ip` is the WAN address on the public segment). */
  readonly lanIp: string;
  /** 192.168.N.0/24 */
  readonly subnet: string;
  /** A host on this router's LAN: 192.168.N.K/24, default route via the router. */
  host(name: string): Promise<NetHost>;
  /** Inbound packets on the WAN dropped so far as unsolicited (not part of a LAN-started flow). */
  droppedInbound(): Promise<number>;
}

export interface TestNet {
  /** `lm<pid>x<n>`: every namespace of this net is `<prefix>-<name>`. */
  readonly prefix: string;
  /** The namespace holding the public segment's bridge. */
  readonly switchNs: string;
  /** Every namespace made so far, switch included. */
  namespaces(): string[];
  publicHost(name: string): Promise<NetHost>;
  natRouter(name: string, nat: NatKind): Promise<NatRouter>;
  /** Kill every process started in the net and delete every namespace. Idempotent. */
  destroy(): Promise<void>;
}

let nets = 0;

/** Run a root-namespace command (only `ip netns …`/`ip -n …` here); throws with stderr on failure. */
async function sh(cmd: string[], stdin?: string): Promise<string> {
  const p = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")}: exit ${code}: ${err.trim()}`);
  return out;
}

/** Shell commands run inside `ns` that give it loopback and no IPv6 (no extra ICE candidates, no DAD). */
const baseSetup = [
  // (A kernel booted without IPv6 has no such files, and nothing to turn off.)
  "if [ -d /proc/sys/net/ipv6 ]; then echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; fi",
  "ip link set lo up",
];

export async function createTestNet(): Promise<TestNet> {
  if (process.getuid?.() !== 0) throw new Error("test/net: network namespaces need root (run the tests as root)");
  if (!Bun.which("ip")) throw new Error("test/net: `ip` (iproute2) is missing: apt-get install -y iproute2");
  if (!Bun.which("nft")) throw new Error("test/net: `nft` is missing: apt-get install -y nftables");
  sweepStale();

  const prefix = `lm${process.pid}x${nets++}`;
  const switchNs = `${prefix}-sw`;
  const made: string[] = [];
  const procs = new Set<Subprocess<any, any, any>>();
  const names = new Set<string>();
  let nextPublic = 2;
  let nextSwitchPort = 0;
  let nextLan = 1;
  let destroyed = false;

  const killAll = () => {
    for (const p of procs) p.kill("SIGKILL");
  };
  const unregister = atExit(() => {
    killAll();
    for (const ns of [...made].reverse()) deleteNamespaceSync(ns);
  });

  const addNs = async (name: string) => {
    if (destroyed) throw new Error("test/net: this net was destroyed");
    if (!/^[a-z][a-z0-9]{0,15}$/.test(name)) throw new TypeError(`test/net: bad host name ${JSON.stringify(name)} (a-z0-9, max 16)`);
    if (names.has(name)) throw new Error(`test/net: duplicate host name ${name}`);
    names.add(name);
    const ns = `${prefix}-${name}`;
    await sh(["ip", "netns", "add", ns]);
    made.push(ns);
    return ns;
  };
  const inNs = (ns: string, lines: string[]) => sh(["ip", "netns", "exec", ns, "sh", "-ec", lines.join("\n")]);

  const makeHost = (name: string, ns: string, ip: string): NetHost => {
    const spawn: NetHost["spawn"] = (cmd, opts) => {
      const p = Bun.spawn(["ip", "netns", "exec", ns, ...cmd], opts);
      procs.add(p);
      void p.exited.then(() => procs.delete(p));
      return p;
    };
    return {
      name,
      ns,
      ip,
      spawn,
      async run(cmd, opts = {}) {
        return sh(["ip", "netns", "exec", ns, ...cmd], opts.stdin);
      },
      async serve(routes, opts = {}) {
        const hostname = opts.hostname ?? "127.0.0.1";
        const p = spawn([process.execPath, `${import.meta.dir}/serve.ts`, hostname], {
          stdin: new TextEncoder().encode(encodeRoutes(routes)),
          stdout: "pipe",
          stderr: "pipe",
        });
        const out = watchOutput(p.stdout);
        const err = watchOutput(p.stderr);
        try {
          const port = Number((await out.match(/listening (\d+)/))[1]);
          return { url: `http://${hostname === "0.0.0.0" ? ip : hostname}:${port}`, port, stop: () => p.kill() };
        } catch (e) {
          p.kill();
          throw new Error(`test/net: server in ${ns} did not start: ${(e as Error).message}\n${err.text()}`);
        }
      },
    };
  };

  /** A veth from the switch's bridge to `ns`, named `dev` inside `ns`. */
  const plugIntoSwitch = async (ns: string, dev: string) => {
    const port = `s${nextSwitchPort++}`;
    await sh(["ip", "-n", switchNs, "link", "add", port, "type", "veth", "peer", "name", dev, "netns", ns]);
    await sh(["ip", "-n", switchNs, "link", "set", port, "master", "br0", "up"]);
  };

  await sh(["ip", "netns", "add", switchNs]);
  made.push(switchNs);
  await inNs(switchNs, [
    ...baseSetup,
    "ip link add br0 type bridge forward_delay 0",
    `ip addr add ${GATEWAY}/24 dev br0`,
    "ip link set br0 up",
  ]);

  return {
    prefix,
    switchNs,
    namespaces: () => [...made],

    async publicHost(name) {
      // Addresses are taken before the first await: hosts made in parallel still get them in call order.
      const ip = publicIp(nextPublic++);
      const ns = await addNs(name);
      await plugIntoSwitch(ns, "eth0");
      await inNs(ns, [...baseSetup, `ip addr add ${ip}/24 dev eth0`, "ip link set eth0 up", `ip route add default via ${GATEWAY}`]);
      return makeHost(name, ns, ip);
    },

    async natRouter(name, nat) {
      const ip = publicIp(nextPublic++);
      const n = nextLan++;
      const ns = await addNs(name);
      const lanIp = `192.168.${n}.1`;
      await plugIntoSwitch(ns, WAN);
      await inNs(ns, [
        ...baseSetup,
        `ip addr add ${ip}/24 dev ${WAN}`,
        `ip link set ${WAN} up`,
        `ip route add default via ${GATEWAY}`,
        `ip link add ${LAN} type bridge forward_delay 0`,
        `ip addr add ${lanIp}/24 dev ${LAN}`,
        `ip link set ${LAN} up`,
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
      ]);
      await sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], natRuleset(nat));
      let nextHost = 2;
      let nextPort = 0;
      return {
        ...makeHost(name, ns, ip),
        nat,
        lanIp,
        subnet: `192.168.${n}.0/24`,
        async host(hostName) {
          const hip = `192.168.${n}.${nextHost++}`;
          const port = `l${nextPort++}`;
          const hns = await addNs(hostName);
          await sh(["ip", "-n", ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", hns]);
          await sh(["ip", "-n", ns, "link", "set", port, "master", LAN, "up"]);
          await inNs(hns, [...baseSetup, `ip addr add ${hip}/24 dev eth0`, "ip link set eth0 up", `ip route add default via ${lanIp}`]);
          return makeHost(hostName, hns, hip);
        },
        async droppedInbound() {
          return droppedPackets(await sh(["ip", "netns", "exec", ns, "nft", "-j", "list", "table", "ip", "lumamesh_nat"]));
        },
      };
    },

    async destroy() {
      if (destroyed) return;
      destroyed = true;
      const dying = [...procs];
      killAll();
      await Promise.all(dying.map((p) => p.exited));
      for (const ns of [...made].reverse()) deleteNamespaceSync(ns);
      made.length = 0;
      unregister();
    },
  };
}
