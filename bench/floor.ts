// The floor under the idle relay's CPU: what answering the same datagrams costs a server that does
// nothing else. Idle links cost the relay one ICE consent check in and one answer out per ~2.7 s
// each (Chromium's rate, bench/layer1.ts), so the floor for N links is an echo server answering
// N / 2.7 datagrams per second, sent from N sockets in two generator processes (as the load
// generators hold them). Two echo servers: Bun.udpSocket (this runtime's own floor) and, when a C
// compiler is on the machine, a C program looping on epoll_wait / recvfrom / sendto (the kernel's).
// On loopback the sender's time includes the receiving socket's network stack and waking its
// process; a relay on a real network pays less per send.
// The generator here is lighter than the relay's real one: bench/capacity.ts also measures both
// echo servers bound to the relay's port after the relay is killed, answering the load generator's
// own sessions (measureEcho), which costs them more (bench/RESULTS.md: Bun 6.3 % there, 5.4 % here).
// Run as a child (`bun bench/floor.ts gen PORT RATE SOCKETS` / `bun bench/floor.ts echo [PORT]`) by
// udpFloor() and measureEcho().
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuSeconds } from "./util.ts";

const C_ECHO = `#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7f000001);
  a.sin_port = htons(argc > 1 ? atoi(argv[1]) : 0);
  if (bind(s, (void *)&a, sizeof a)) return 1;
  socklen_t l = sizeof a;
  getsockname(s, (void *)&a, &l);
  printf("%d\\n", ntohs(a.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  char buf[2048];
  for (;;) {
    struct epoll_event e;
    epoll_wait(ep, &e, 1, -1);
    for (;;) {
      struct sockaddr_in f;
      socklen_t fl = sizeof f;
      int n = recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, (void *)&f, &fl);
      if (n < 0) break;
      sendto(s, buf, n, 0, (void *)&f, fl);
    }
  }
}
`;

/** The C echo server, compiled into a temporary directory; null without a compiler. */
function cEcho(): string | null {
  const dir = mkdtempSync(join(tmpdir(), "lumamesh-floor-"));
  writeFileSync(join(dir, "echo.c"), C_ECHO);
  const r = spawnSync("cc", ["-O2", "-o", join(dir, "echo"), join(dir, "echo.c")], { stdio: "ignore" });
  return r.status === 0 ? join(dir, "echo") : null;
}

async function firstLine(p: Bun.Subprocess<"ignore", "pipe", "inherit">): Promise<string> {
  const reader = p.stdout.getReader();
  let s = "";
  while (!s.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("floor: echo server exited");
    s += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return s.trim();
}

/** The two echo servers' commands (the C one null without a compiler); `port` 0: any. */
export function echoCommands(port = 0): { bun: string[]; c: string[] | null } {
  const c = cEcho();
  return { bun: [process.execPath, import.meta.path, "echo", String(port)], c: c ? [c, String(port)] : null };
}

/** Datagrams received by every UDP socket on this machine so far (/proc/net/snmp, Udp InDatagrams). */
export function udpInDatagrams(): number {
  const l = readFileSync("/proc/net/snmp", "utf8")
    .split("\n")
    .filter((x) => x.startsWith("Udp:"));
  return Number(l[1]!.split(/\s+/)[l[0]!.split(/\s+/).indexOf("InDatagrams")]);
}

/**
 * CPU (% of one core) of an echo server started with `cmd` (it prints its port), measured for
 * `seconds` after one second, and the datagrams it answered per second: every UDP datagram the
 * machine received in that time, halved (each one it receives, the sender receives back).
 */
export async function measureEcho(cmd: string[], seconds: number): Promise<{ cpu: number; dps: number }> {
  const echo = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  try {
    await firstLine(echo);
    await Bun.sleep(1000);
    if (echo.exitCode !== null) throw new Error(`floor: echo server exited (${echo.exitCode}): ${cmd.join(" ")}`);
    const c0 = cpuSeconds(echo.pid),
      d0 = udpInDatagrams(),
      t0 = performance.now();
    await Bun.sleep(seconds * 1000);
    const secs = (performance.now() - t0) / 1000;
    return { cpu: (100 * (cpuSeconds(echo.pid) - c0)) / secs, dps: (udpInDatagrams() - d0) / secs / 2 };
  } finally {
    echo.kill();
    await echo.exited;
  }
}

/** CPU (% of one core) of each echo server answering `links / consentMs` datagrams/s from `links` sockets. */
export async function udpFloor(o: { links: number; consentMs: number; seconds: number }): Promise<{ bun: number; c: number | null }> {
  const rate = (o.links * 1000) / o.consentMs;
  const measure = async (cmd: string[]) => {
    const echo = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
    const port = await firstLine(echo);
    const gens = [0, 1].map(() =>
      Bun.spawn([process.execPath, import.meta.path, "gen", port, String(rate / 2), String(Math.ceil(o.links / 2))], {
        stdout: "ignore",
        stderr: "inherit",
        stdin: "ignore",
      }),
    );
    try {
      await Bun.sleep(5000); // sockets bound, sending at rate
      const c0 = cpuSeconds(echo.pid),
        t0 = performance.now();
      await Bun.sleep(o.seconds * 1000);
      return (100 * (cpuSeconds(echo.pid) - c0)) / ((performance.now() - t0) / 1000);
    } finally {
      for (const g of gens) g.kill();
      echo.kill();
      await Promise.all([echo.exited, ...gens.map((g) => g.exited)]);
    }
  };
  const bun = await measure([process.execPath, import.meta.path, "echo"]);
  const c = cEcho();
  return { bun, c: c ? await measure([c]) : null };
}

if (import.meta.main) {
  const [mode, port, rate, sockets] = process.argv.slice(2);
  if (mode === "echo") {
    const s = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: Number(port ?? 0),
      // A sender that closed its socket comes back as ECONNREFUSED: not a reason to stop echoing.
      socket: {
        data(sock, buf, p, a) {
          try {
            sock.send(buf, p, a);
          } catch {}
        },
        error() {},
      },
    });
    console.log(s.port);
  } else if (mode === "gen") {
    // `sockets` sockets, sending `rate` 100-byte datagrams per second between them, evenly spread.
    const n = Number(sockets),
      per = 1000 / Number(rate),
      socks: Bun.udp.Socket<"buffer">[] = [];
    for (let i = 0; i < n; i++) socks.push(await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }));
    const buf = new Uint8Array(100);
    let i = 0,
      next = performance.now();
    setInterval(() => {
      for (const now = performance.now(); next < now; next += per) socks[i++ % n]!.send(buf, Number(port), "127.0.0.1");
    }, 1);
  } else {
    console.error("usage: bun bench/floor.ts echo [PORT] | gen PORT RATE SOCKETS");
    process.exit(2);
  }
}
