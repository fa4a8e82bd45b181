// Self-test of the namespace test network: the two NAT flavours really map and filter as
// documented (observed with UDP through echo hosts), private LANs are unreachable from each other,
// and every namespace goes away on destroy(), at exit, on SIGTERM, and when left by a dead process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestNet, type NatRouter, type NetHost, type TestNet } from "./netns.ts";
import { udpAgent, type UdpAgent } from "./udp.ts";

const listNamespaces = async () =>
  (await Bun.$`ip netns list`.text())
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter(Boolean);
const ECHO = 7000;

describe("test network", () => {
  let net: TestNet;
  let echo1: NetHost, echo2: NetHost, stranger: NetHost;
  let cone: NatRouter, sym: NatRouter;
  let e1: UdpAgent, e1b: UdpAgent, e2: UdpAgent, str: UdpAgent;

  beforeAll(async () => {
    net = await createTestNet();
    echo1 = await net.publicHost("echo1");
    echo2 = await net.publicHost("echo2");
    stranger = await net.publicHost("stranger");
    cone = await net.natRouter("home1", "cone");
    sym = await net.natRouter("home2", "symmetric");
    [e1, e1b, e2, str] = await Promise.all([
      udpAgent(echo1, { port: ECHO, echo: true }),
      udpAgent(echo1, { port: ECHO + 1 }), // same public address as echo1, another port
      udpAgent(echo2, { port: ECHO, echo: true }),
      udpAgent(stranger),
    ]);
  }, 15_000);
  afterAll(() => net?.destroy());

  test("addresses: public hosts on 10.77.0.0/24, LAN hosts on the router's 192.168.N.0/24", async () => {
    const a = await cone.host("addr");
    expect(echo1.ip).toMatch(/^10\.77\.0\.\d+$/);
    expect(cone.ip).toMatch(/^10\.77\.0\.\d+$/);
    expect(cone.lanIp).toBe("192.168.1.1");
    expect(sym.lanIp).toBe("192.168.2.1");
    expect(a.ip).toMatch(/^192\.168\.1\.\d+$/);
    const addrs = await a.run(["ip", "-4", "-o", "addr", "show"]);
    expect(addrs).toContain(`inet ${a.ip}/24`);
    expect(await a.run(["ip", "route", "show", "default"])).toContain(`via ${cone.lanIp}`);
    // Only loopback and the one veth: nothing else for a browser to gather candidates from.
    expect(
      (await a.run(["ip", "-o", "link", "show"]))
        .trim()
        .split("\n")
        .map((l) => l.split(":")[1]!.trim().split("@")[0]),
    ).toEqual(["lo", "eth0"]);
  });

  /** Mapped addresses seen by echo1 and echo2 for one socket on `host`. */
  async function mappings(host: NetHost) {
    const inner = await udpAgent(host);
    inner.send(`${echo1.ip}:${ECHO}`, "probe");
    inner.send(`${echo2.ip}:${ECHO}`, "probe");
    const m1 = (await inner.waitFor((d) => d.from === `${echo1.ip}:${ECHO}`)).text;
    const m2 = (await inner.waitFor((d) => d.from === `${echo2.ip}:${ECHO}`)).text;
    return { inner, m1, m2 };
  }

  /** Unsolicited datagrams to the mapping `mapped` are dropped; echo1's (a flow the inner host started) arrives. */
  async function expectFiltered(inner: UdpAgent, mapped: string, router: NatRouter) {
    const before = await router.droppedInbound();
    str.send(mapped, "from-stranger");
    e1b.send(mapped, "from-echo1-other-port");
    await Bun.sleep(50);
    e1.send(mapped, "from-echo1"); // the control: same path, sent last, must arrive
    await inner.waitFor((d) => d.text === "from-echo1");
    await Bun.sleep(200);
    expect(inner.received().map((d) => d.text)).not.toContain("from-stranger");
    expect(inner.received().map((d) => d.text)).not.toContain("from-echo1-other-port");
    expect(await router.droppedInbound()).toBeGreaterThanOrEqual(before + 2);
  }

  test("cone NAT: one socket has one mapping (the router's WAN ip, the inner port) for every destination", async () => {
    const { inner, m1, m2 } = await mappings(await cone.host("c1"));
    expect(m1).toBe(`${cone.ip}:${inner.port}`);
    expect(m2).toBe(m1);
    await expectFiltered(inner, m1, cone);
  });

  test("symmetric NAT: each destination gets its own mapped port", async () => {
    const { inner, m1, m2 } = await mappings(await sym.host("s1"));
    expect(m1.startsWith(`${sym.ip}:`)).toBe(true);
    expect(m2.startsWith(`${sym.ip}:`)).toBe(true);
    expect(m1).not.toBe(m2);
    await expectFiltered(inner, m1, sym);
  });

  test("hosts behind different routers cannot reach each other's private addresses, even with a route", async () => {
    const a = await cone.host("pa");
    const b = await sym.host("pb");
    const [ua, ub] = await Promise.all([udpAgent(a), udpAgent(b)]);
    ua.send(`${b.ip}:${ub.port}`, "no-route"); // home1's router has no route to 192.168.2.0/24
    // Give home1's router a route to home2's LAN via home2's WAN: now only home2's WAN filter stands.
    await cone.run(["ip", "route", "add", sym.subnet, "via", sym.ip]);
    const before = await sym.droppedInbound();
    ua.send(`${b.ip}:${ub.port}`, "routed");
    ua.send(`${echo1.ip}:${ECHO}`, "control"); // sent last over the same first hop: must come back
    await ua.waitFor((d) => d.from === `${echo1.ip}:${ECHO}`);
    await Bun.sleep(200);
    expect(ub.received()).toEqual([]);
    expect(await sym.droppedInbound()).toBeGreaterThan(before); // it reached home2's WAN and was dropped there
  });

  test("destroy() removes every namespace and kills the processes started in them", async () => {
    const names = net.namespaces();
    expect(names.length).toBeGreaterThan(5);
    expect(await listNamespaces()).toEqual(expect.arrayContaining(names));
    const pids = (await Promise.all(names.map((ns) => Bun.$`ip netns pids ${ns}`.text())))
      .join(" ")
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    expect(pids.length).toBeGreaterThanOrEqual(4); // the UDP agents
    await net.destroy();
    const left = await listNamespaces();
    expect(left.filter((n) => n.startsWith(net.prefix + "-"))).toEqual([]);
    const alive = (pid: number) => {
      try {
        return process.kill(pid, 0);
      } catch {
        return false;
      }
    };
    expect(pids.filter(alive)).toEqual([]);
  });
});

describe("cleanup", () => {
  /** A child bun process that builds a net and then does `then` (JS source) without destroy(). */
  function child(then: string) {
    const src = `import { createTestNet } from ${JSON.stringify(import.meta.dir + "/netns.ts")};
const net = await createTestNet(); const r = await net.natRouter("r", "cone"); await r.host("h"); await net.publicHost("p");
console.log(net.prefix); ${then}`;
    return Bun.spawn([process.execPath, "-e", src], { stdout: "pipe", stderr: "pipe" });
  }
  const firstLine = async (p: ReturnType<typeof child>) => {
    const reader = p.stdout.getReader();
    let s = "";
    while (!s.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("child said nothing: " + (await new Response(p.stderr).text()));
      s += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return s.trim();
  };

  test("a process that exits without destroy() leaves no namespace", async () => {
    const p = child("setTimeout(() => process.exit(0), 50);");
    const prefix = await firstLine(p);
    expect(prefix).toMatch(/^lm\d+x0$/);
    expect(await p.exited).toBe(0);
    expect((await listNamespaces()).filter((n) => n.startsWith(prefix + "-"))).toEqual([]);
  }, 15_000);

  test("SIGTERM (and SIGINT) on a process with a live net leaves no namespace", async () => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const p = child("setInterval(() => {}, 1000);");
      const prefix = await firstLine(p);
      expect((await listNamespaces()).filter((n) => n.startsWith(prefix + "-")).length).toBe(4);
      p.kill(sig);
      expect(await p.exited).toBe(sig === "SIGTERM" ? 143 : 130);
      expect((await listNamespaces()).filter((n) => n.startsWith(prefix + "-"))).toEqual([]);
    }
  }, 15_000);

  test("namespaces left by a dead process (SIGKILL: no cleanup ran) are removed by the next createTestNet()", async () => {
    const p = child("setInterval(() => {}, 1000);");
    const prefix = await firstLine(p);
    p.kill("SIGKILL");
    await p.exited;
    expect((await listNamespaces()).filter((n) => n.startsWith(prefix + "-")).length).toBe(4);
    const net = await createTestNet();
    try {
      expect((await listNamespaces()).filter((n) => n.startsWith(prefix + "-"))).toEqual([]);
    } finally {
      await net.destroy();
    }
  }, 15_000);
});
