// The relay's command line as an operator meets it: --help, --version, record, bad flags, and a
// certificate that is created once and reused (its fingerprint gets published on-chain).
import { describe, test, expect } from "bun:test";
import { mkdtempSync, statSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { FP_RE } from "../../protocol/addr.ts";
import { checkRecord } from "../../relay/record.ts";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { bindError, openUdp } from "../../relay/udp.ts";
import { openRelayLink } from "../../relay/client.ts";
import { generateCertificate } from "../../relay/werift.ts";

const MAIN = join(import.meta.dir, "../../relay/main.ts");
const run = (...args: string[]) => {
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LUMAMESH_DATA_DIR: "" },
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};

describe("lumamesh-relay CLI", () => {
  test("--help lists every flag with its environment variable; --version prints the package version", () => {
    const h = run("--help");
    expect(h.code).toBe(0);
    for (const f of ["--host", "--port", "--public-ip", "--data-dir", "--log-level", "--limit", "record", "LUMAMESH_PORT"])
      expect(h.out).toContain(f);
    expect(run("--version")).toEqual({ code: 0, out: `lumamesh-relay ${pkg.version}\n`, err: "" });
  });

  test("a bad flag exits 2 with a one-line reason", () => {
    const r = run("--bogus");
    expect(r.code).toBe(2);
    expect(r.err).toBe('lumamesh-relay: unknown argument "--bogus" (see --help)\n');
  });

  test("record: JSON with address, port, identity and the SDP-style fingerprint; the same on every run", () => {
    const dir = mkdtempSync(join(tmpdir(), "lumamesh-cli-"));
    const a = run("record", "--data-dir", dir, "--public-ip", "203.0.113.5", "--port", "4884");
    expect(a.code).toBe(0);
    const rec = JSON.parse(a.out);
    expect(rec).toEqual({
      lumamesh: 1,
      addr: "203.0.113.5:4884",
      fp: expect.stringMatching(FP_RE),
      id: expect.stringMatching(/^[0-9a-f]{64}$/),
      seq: expect.any(Number),
      sig: expect.any(String),
    });
    // Signed by the relay's identity key.
    expect(checkRecord(rec)).toEqual(rec);
    expect(checkRecord({ ...rec, addr: "203.0.113.6:4884" })).toBe("bad signature");
    const b = JSON.parse(run("record", "--data-dir", dir, "--public-ip", "203.0.113.5").out);
    expect(b.fp).toBe(rec.fp);
    expect(b.id).toBe(rec.id);
    // Secrets are private to the relay's user.
    expect(statSync(join(dir, "cert.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "identity.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "cert.pem"), "utf8")).toStartWith("-----BEGIN CERTIFICATE-----");
    // A different data dir is a different relay.
    const other = JSON.parse(run("record", "--data-dir", mkdtempSync(join(tmpdir(), "lumamesh-cli-"))).out);
    expect(other.fp).not.toBe(rec.fp);
  });

  test("a UDP port it cannot bind: exit 1 and one line naming the address and what to do", async () => {
    const taken = createSocket("udp4");
    await new Promise<void>((r) => taken.bind(0, "127.0.0.1", () => r()));
    try {
      const dir = mkdtempSync(join(tmpdir(), "lumamesh-cli-"));
      const port = taken.address().port;
      const inUse = run("--host", "127.0.0.1", "--port", String(port), "--data-dir", dir, "--ord", "none", "--log-level", "warn");
      expect(inUse.code).toBe(1);
      expect(inUse.err).toBe(
        `lumamesh-relay: cannot bind UDP 127.0.0.1:${port}: the port is in use (another relay on it? pick another with --port)\n`,
      );
      // 203.0.113.9 (TEST-NET-3) is on no interface here: bind fails locally, nothing is sent.
      const notHere = run("--host", "203.0.113.9", "--port", "0", "--data-dir", dir, "--ord", "none", "--log-level", "warn");
      expect(notHere.code).toBe(1);
      expect(notHere.err).toStartWith("lumamesh-relay: cannot bind UDP 203.0.113.9:0: not an address of this machine");
      expect(notHere.err).toContain("--public-ip");
    } finally {
      taken.close();
    }
    // In process: the error keeps its code (npm start falls back to free ports on EADDRINUSE).
    const held = createSocket("udp4");
    await new Promise<void>((r) => held.bind(0, "127.0.0.1", () => r()));
    try {
      const e = await openUdp({ host: "127.0.0.1", port: held.address().port, onDatagram() {}, onError() {} }).catch((x) => x);
      expect(e.code).toBe("EADDRINUSE");
      expect(e.message).toContain("the port is in use");
    } finally {
      held.close();
    }
    // Tests run as root, where low ports bind: the message for EACCES, and for a code without one.
    const err = (code: string) => Object.assign(new Error(`bind ${code}`), { code });
    expect(bindError("::", 443, err("EACCES"))).toBe(
      "cannot bind UDP [::]:443: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
    );
    expect(bindError("0.0.0.0", 4884, err("EINVAL"))).toBe("cannot bind UDP 0.0.0.0:4884: bind EINVAL");
  });

  test("a stdout that goes away costs the log, not the relay: one line on stderr, and it goes on serving", async () => {
    // As `lumamesh-relay | head -1` or a closed terminal leaves it: the read end of stdout closed
    // while the relay runs. Before the fix, the next log line threw EPIPE and killed the process.
    const p = spawn(
      process.execPath,
      [
        MAIN,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        mkdtempSync(join(tmpdir(), "lumamesh-cli-")),
        "--ord",
        "none",
        "--log-level",
        "debug",
        "--stats-interval",
        "1",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      let err = "";
      p.stderr.on("data", (d) => (err += d));
      const exited = new Promise<number | null>((r) => p.on("exit", (code) => r(code)));
      const listening = await new Promise<any>((resolve, reject) => {
        let buf = "";
        p.stdout.on("data", (d) => {
          buf += d;
          for (const line of buf.split("\n").slice(0, -1)) {
            const l = JSON.parse(line);
            if (l.event === "relay.listening") resolve(l);
          }
          buf = buf.slice(buf.lastIndexOf("\n") + 1);
        });
        p.on("exit", () => reject(new Error(`relay exited before listening: ${err}`)));
      });
      p.stdout.destroy();
      // Every session logs debug events, and the stats line comes every second: each write now fails.
      const cert = await generateCertificate();
      for (let i = 0; i < 3; i++) {
        const link = await openRelayLink(listening.record, cert);
        expect(link.maxFrame).toBeGreaterThan(0);
        link.close();
      }
      while (!err.includes("stdout failed")) await Bun.sleep(50);
      await Bun.sleep(1500); // at least one more stats line attempted after the failure
      const link = await openRelayLink(listening.record, cert);
      expect(link.maxFrame).toBeGreaterThan(0);
      link.close();
      expect(p.exitCode).toBeNull();
      expect(err).toMatch(/^lumamesh-relay: stdout failed \(EPIPE\): logging stopped, the relay goes on\n$/);
      // and it still stops cleanly on SIGTERM
      p.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      p.kill("SIGKILL");
    }
  }, 60_000);
});
