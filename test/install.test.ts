// install.sh end to end: release artifacts built by build.ts, served on 127.0.0.1, installed into a
// fake root by the real script (as a file and piped into sh) with the real relay binary; only
// systemctl/useradd/userdel/id are stand-ins that record their arguments. Also build.ts's release
// mode: SHA256SUMS in sha256sum format, and a cross target skipped with its reason when no runtime.
import { test, expect, beforeAll, afterAll } from "bun:test";
import {
  mkdtempSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
  existsSync,
  copyFileSync,
  appendFileSync,
  statSync,
  rmSync,
  readdirSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRelease, sha256sums, crossRuntime, type ReleaseTarget } from "../build.ts";
import {
  serveDir,
  makeBox,
  removeBoxes,
  pathWithout,
  runInstall,
  printedRecord,
  isEmptyDir,
  INSTALL_SH,
  type Box,
} from "./helpers/install.ts";
import { FP_RE } from "../protocol/addr.ts";

const HOST_TARGET: ReleaseTarget = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
const ASSET = `lumamesh-relay-${HOST_TARGET}`;
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

let work: string;
let release: string;
let server: ReturnType<typeof serveDir>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "lumamesh-release-"));
  release = join(work, "release");
  // Only this machine's own target: a cross target could need a download, and tests stay offline.
  const r = await buildRelease(release, { targets: [HOST_TARGET], offline: true, log: () => {} });
  expect(r.artifacts.map((a) => a.name)).toEqual([ASSET]);
  server = serveDir(release);
}, 120_000);

afterAll(() => {
  server?.stop();
  removeBoxes();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A copy of the release with one file changed, served in place of the real one. */
function variant(name: string, change: (dir: string) => void): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const f of [ASSET, "SHA256SUMS"]) copyFileSync(join(release, f), join(dir, f));
  change(dir);
  return dir;
}

const installed = (box: Box) => box.path("usr/local/bin/lumamesh-relay");
const unitPath = (box: Box) => box.path("etc/systemd/system/lumamesh-relay.service");
const dataDir = (box: Box) => box.path("var/lib/lumamesh");
const recordOf = (box: Box) => JSON.parse(Bun.spawnSync([installed(box), "record", "--data-dir", dataDir(box)]).stdout.toString());

/** Exactly one line on stderr, prefixed like every failure of the script. */
function expectOneLineFailure(r: { code: number; stderr: string }, message: string | RegExp) {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("install.sh: ");
  expect(lines[0]).toMatch(message);
}

test("shellcheck install.sh is clean (POSIX sh)", () => {
  const which = Bun.spawnSync(["sh", "-c", "command -v shellcheck"]);
  if (which.exitCode !== 0) throw new Error("shellcheck is not installed (Debian: apt-get install shellcheck; .ci/run installs it)");
  const p = Bun.spawnSync(["shellcheck", "--shell=sh", INSTALL_SH], { stdout: "pipe", stderr: "pipe" });
  expect(p.stdout.toString() + p.stderr.toString()).toBe("");
  expect(p.exitCode).toBe(0);
});

test("release: SHA256SUMS is in sha256sum format and `sha256sum -c` accepts it", () => {
  const sums = readFileSync(join(release, "SHA256SUMS"), "utf8");
  expect(sums).toBe(`${sha256(join(release, ASSET))}  ${ASSET}\n`);
  expect(
    sha256sums([
      { name: "a", sha256: "00" },
      { name: "b", sha256: "ff" },
    ]),
  ).toBe("00  a\nff  b\n");
  const p = Bun.spawnSync(["sha256sum", "-c", "SHA256SUMS"], { cwd: release, stdout: "pipe" });
  expect(p.stdout.toString()).toBe(`${ASSET}: OK\n`);
  expect(p.exitCode).toBe(0);
  expect(statSync(join(release, ASSET)).mode & 0o111).toBeTruthy();
  expect(Bun.spawnSync([join(release, ASSET), "--version"]).stdout.toString()).toMatch(/^lumamesh-relay \d+\.\d+\.\d+\n$/);
});

test("release: a cross target with no runtime on disk is skipped with its reason, offline, and left out of SHA256SUMS", async () => {
  const other: ReleaseTarget = HOST_TARGET === "linux-x64" ? "linux-arm64" : "linux-x64";
  const empty = join(work, "no-runtime-cache");
  mkdirSync(empty);
  const saved = {
    cache: process.env.BUN_INSTALL_CACHE_DIR,
    env: process.env.LUMAMESH_BUN_LINUX_ARM64,
    env2: process.env.LUMAMESH_BUN_LINUX_X64,
  };
  process.env.BUN_INSTALL_CACHE_DIR = empty;
  delete process.env.LUMAMESH_BUN_LINUX_ARM64;
  delete process.env.LUMAMESH_BUN_LINUX_X64;
  try {
    const lines: string[] = [];
    const out = join(work, "cross");
    const r = await buildRelease(out, { targets: [other], offline: true, runtimeCache: empty, log: (l) => lines.push(l) });
    expect(r.artifacts).toEqual([]);
    expect(r.skipped[0].target).toBe(other);
    expect(r.skipped[0].reason).toContain("runtime on disk (offline");
    expect(lines.join("\n")).toContain(`build: skipping lumamesh-relay-${other}: `);
    expect(readFileSync(join(out, "SHA256SUMS"), "utf8")).toBe("");
    // A runtime given by path must be for that CPU: this machine's own Bun is not.
    process.env["LUMAMESH_BUN_" + other.toUpperCase().replace("-", "_")] = process.execPath;
    expect(crossRuntime(other, { offline: true })).toEqual({ reason: expect.stringContaining(`is not a ${other} executable`) });
  } finally {
    for (const [k, v] of [
      ["BUN_INSTALL_CACHE_DIR", saved.cache],
      ["LUMAMESH_BUN_LINUX_ARM64", saved.env],
      ["LUMAMESH_BUN_LINUX_X64", saved.env2],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
});

test("install with systemd: checked binary, user, state dir, hardened unit, service enabled, record printed", async () => {
  const box = makeBox({ systemd: true });
  const r = await runInstall(box, server.url, ["--public-ip", "203.0.113.7"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(server.requests.slice(-2)).toEqual(["SHA256SUMS", ASSET]);
  expect(r.stdout).toContain(`Checksum OK (${sha256(join(release, ASSET))})`);

  // The binary: byte for byte the release, executable, runnable.
  expect(sha256(installed(box))).toBe(sha256(join(release, ASSET)));
  expect(Bun.spawnSync([installed(box), "--version"]).stdout.toString()).toMatch(/^lumamesh-relay \d+\.\d+\.\d+\n$/);
  expect(statSync(dataDir(box)).mode & 0o777).toBe(0o700);
  expect(existsSync(join(dataDir(box), "cert.pem"))).toBe(true);
  // Every key, including any the install made after creating the user, belongs to the service user.
  for (const f of ["", ...readdirSync(dataDir(box))]) {
    const st = statSync(join(dataDir(box), f));
    expect([f, st.uid, st.gid]).toEqual([f, box.uid, box.gid]);
  }

  const unit = readFileSync(unitPath(box), "utf8");
  for (const line of [
    "User=lumamesh",
    "StateDirectory=lumamesh",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "CapabilityBoundingSet=",
    "Restart=on-failure",
    "ExecStart=/usr/local/bin/lumamesh-relay --data-dir /var/lib/lumamesh",
    "Environment=LUMAMESH_PUBLIC_IP=203.0.113.7",
    "Environment=LUMAMESH_PORT=4884",
    "WantedBy=multi-user.target",
  ])
    expect(unit.split("\n")).toContain(line);
  // Bun's JIT needs W+X pages: the unit explains why MemoryDenyWriteExecute is absent, and does not set it.
  expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
  expect(unit).toContain("# MemoryDenyWriteExecute= is deliberately not set");

  expect(box.calls()).toEqual([
    "id -u lumamesh",
    "useradd --system --user-group --home-dir /var/lib/lumamesh --no-create-home --shell /usr/sbin/nologin lumamesh",
    "id -u lumamesh",
    "id -g lumamesh",
    "systemctl daemon-reload",
    "systemctl enable --now lumamesh-relay",
  ]);

  const rec = printedRecord(r.stdout);
  expect(rec.addr).toBe("203.0.113.7:4884");
  expect(rec.fp).toMatch(FP_RE);
  expect(rec.fp).toBe(recordOf(box).fp);
  expect(r.stdout).toContain("Open UDP port 4884");
  expect(r.stdout).toMatch(/Funding address/);
  expect(isEmptyDir(box.tmp)).toBe(true);
}, 60_000);

test("install with no flag at all: the unit gives no address (the relay learns it), the output says how to see what it learned", async () => {
  const box = makeBox({ systemd: true });
  const r = await runInstall(box, server.url, [], { piped: true });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const unit = readFileSync(unitPath(box), "utf8").split("\n");
  expect(unit).toContain("ExecStart=/usr/local/bin/lumamesh-relay --data-dir /var/lib/lumamesh");
  expect(unit.filter((l) => l.startsWith("Environment="))).toEqual(["Environment=LUMAMESH_PORT=4884"]);
  expect(box.calls().slice(-1)).toEqual(["systemctl enable --now lumamesh-relay"]);
  expect(printedRecord(r.stdout).fp).toBe(recordOf(box).fp);
  expect(r.stdout).toContain("it learns its public address from other");
  expect(r.stdout).toContain("lumamesh-relay status --data-dir /var/lib/lumamesh");
  // An earlier --public-ip is kept on a re-run, until --public-ip auto hands the address back to the relay.
  expect((await runInstall(box, server.url, ["--public-ip", "203.0.113.7"])).code).toBe(0);
  expect((await runInstall(box, server.url, [])).code).toBe(0);
  expect(readFileSync(unitPath(box), "utf8")).toContain("Environment=LUMAMESH_PUBLIC_IP=203.0.113.7");
  expect((await runInstall(box, server.url, ["--public-ip", "auto"])).code).toBe(0);
  expect(readFileSync(unitPath(box), "utf8")).not.toContain("LUMAMESH_PUBLIC_IP");
}, 60_000);

test("curl | sh: the script piped into `sh -s -- FLAGS`, without systemd, prints how to run the relay", async () => {
  const box = makeBox({ systemd: false });
  const r = await runInstall(box, server.url, ["--port", "5000", "--public-ip", "198.51.100.4"], { piped: true });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(sha256(installed(box))).toBe(sha256(join(release, ASSET)));
  expect(existsSync(unitPath(box))).toBe(false);
  expect(box.calls().filter((c) => c.startsWith("systemctl"))).toEqual([]);
  expect(r.stdout).toContain("/usr/local/bin/lumamesh-relay --data-dir /var/lib/lumamesh --port 5000 --public-ip 198.51.100.4");
  expect(printedRecord(r.stdout).addr).toBe("198.51.100.4:5000");
  expect(r.stdout).toContain("Open UDP port 5000");
  expect(isEmptyDir(box.tmp)).toBe(true);
}, 60_000);

test("without curl it downloads with wget; with neither it stops before changing anything", async () => {
  const box = makeBox({ systemd: false });
  const r = await runInstall(box, server.url, [], { env: { PATH: pathWithout(box, ["curl"]) } });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(sha256(installed(box))).toBe(sha256(join(release, ASSET)));
  const none = makeBox({ systemd: false });
  expectOneLineFailure(
    await runInstall(none, server.url, [], { env: { PATH: pathWithout(none, ["curl", "wget"]) } }),
    /neither curl nor wget is installed/,
  );
  expect(existsSync(none.path("usr"))).toBe(false);
  expect(isEmptyDir(none.tmp)).toBe(true);
}, 60_000);

test("a download that checks out but does not run here is refused before anything is installed", async () => {
  server.setDir(
    variant("not-runnable", (d) => {
      writeFileSync(join(d, ASSET), new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, ...new Array(57).fill(0)]));
      writeFileSync(join(d, "SHA256SUMS"), `${sha256(join(d, ASSET))}  ${ASSET}\n`);
    }),
  );
  try {
    const box = makeBox({ systemd: true });
    expectOneLineFailure(
      await runInstall(box, server.url, []),
      /the downloaded relay does not run on this machine: .*; nothing was installed/,
    );
    expect(readdirSync(box.path("usr/local/bin"))).toEqual([]);
    expect(existsSync(box.path("etc"))).toBe(false);
    expect(existsSync(box.path("var"))).toBe(false);
    expect(box.calls()).toEqual([]);
    expect(isEmptyDir(box.tmp)).toBe(true);
  } finally {
    server.setDir(release);
  }
}, 60_000);

test("a wrong checksum (bad SHA256SUMS or bad binary) aborts with one line and installs nothing", async () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      "bad-sums",
      (d) => writeFileSync(join(d, "SHA256SUMS"), `${"0".repeat(64)}  ${ASSET}\n`),
      /checksum mismatch for .*; nothing was installed/,
    ],
    ["bad-binary", (d) => appendFileSync(join(d, ASSET), "tampered"), /checksum mismatch for .*; nothing was installed/],
    ["no-line", (d) => writeFileSync(join(d, "SHA256SUMS"), `${"0".repeat(64)}  lumamesh-relay-other\n`), /SHA256SUMS .* has no line for/],
  ];
  try {
    for (const [name, change, message] of cases) {
      server.setDir(variant(name, change));
      for (const systemd of [true, false]) {
        const box = makeBox({ systemd });
        const r = await runInstall(box, server.url, []);
        expectOneLineFailure(r, message);
        expect(existsSync(box.path("usr"))).toBe(false);
        expect(existsSync(box.path("etc"))).toBe(false);
        expect(existsSync(box.path("var"))).toBe(false);
        expect(box.calls()).toEqual([]);
        expect(isEmptyDir(box.tmp)).toBe(true);
      }
    }
    // Nothing served at all: the download fails with the URL named.
    const box = makeBox({ systemd: true });
    expectOneLineFailure(
      await runInstall(box, server.url + "/nowhere", []),
      /could not download http:\/\/127\.0\.0\.1:\d+\/nowhere\/SHA256SUMS/,
    );
    expect(isEmptyDir(box.tmp)).toBe(true);
  } finally {
    server.setDir(release);
  }
}, 120_000);

test("re-running upgrades in place: new binary, same certificate and settings, service restarted", async () => {
  const box = makeBox({ systemd: true });
  const first = await runInstall(box, server.url, ["--public-ip", "203.0.113.9", "--port", "4999"]);
  expect(first.code).toBe(0);
  const before = recordOf(box);
  const unitBefore = readFileSync(unitPath(box), "utf8");

  // A "new release": the same executable with bytes appended (it still runs), and its own sum.
  const next = variant("upgrade", (d) => {
    appendFileSync(join(d, ASSET), "\nnext release\n");
    writeFileSync(join(d, "SHA256SUMS"), `${sha256(join(d, ASSET))}  ${ASSET}\n`);
  });
  server.setDir(next);
  try {
    const second = await runInstall(box, server.url, []);
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/Upgraded \/usr\/local\/bin\/lumamesh-relay: lumamesh-relay \S+ -> lumamesh-relay \S+/);
  } finally {
    server.setDir(release);
  }
  expect(sha256(installed(box))).toBe(sha256(join(next, ASSET)));
  expect(sha256(installed(box))).not.toBe(sha256(join(release, ASSET)));
  expect(existsSync(installed(box) + ".new")).toBe(false);
  const after = recordOf(box);
  expect(after.fp).toBe(before.fp);
  expect(after.id).toBe(before.id);
  // Flags not given again are kept from the installed unit.
  expect(readFileSync(unitPath(box), "utf8")).toBe(unitBefore);
  const calls = box.calls();
  expect(calls.filter((c) => c.startsWith("useradd"))).toHaveLength(1);
  expect(calls.slice(-3)).toEqual(["systemctl daemon-reload", "systemctl enable --now lumamesh-relay", "systemctl restart lumamesh-relay"]);
  expect(isEmptyDir(box.tmp)).toBe(true);
}, 60_000);

test("--uninstall removes binary, unit and user but keeps the keys; --uninstall --purge removes them too", async () => {
  const box = makeBox({ systemd: true });
  expect((await runInstall(box, server.url, [])).code).toBe(0);
  const fp = recordOf(box).fp;
  const mark = box.calls().length;

  const u = await runInstall(box, server.url, ["--uninstall"]);
  expect(u.stderr).toBe("");
  expect(u.code).toBe(0);
  expect(existsSync(installed(box))).toBe(false);
  expect(existsSync(unitPath(box))).toBe(false);
  expect(existsSync(join(dataDir(box), "cert.pem"))).toBe(true);
  expect(u.stdout).toContain("kept /var/lib/lumamesh");
  expect(box.calls().slice(mark)).toEqual([
    "systemctl disable --now lumamesh-relay",
    "systemctl daemon-reload",
    "id -u lumamesh",
    "userdel lumamesh",
  ]);

  // Installing again picks the kept keys up: same fingerprint.
  const again = await runInstall(box, server.url, []);
  expect(again.code).toBe(0);
  expect(printedRecord(again.stdout).fp).toBe(fp);

  const p = await runInstall(box, server.url, ["--uninstall", "--purge"]);
  expect(p.stderr).toBe("");
  expect(p.code).toBe(0);
  expect(existsSync(installed(box))).toBe(false);
  expect(existsSync(unitPath(box))).toBe(false);
  expect(existsSync(dataDir(box))).toBe(false);
  expect(box.calls().at(-1)).toBe("userdel lumamesh");
}, 60_000);

test("bad flags, an unknown CPU, and --help: one clear line and a non-zero exit, or usage", async () => {
  const box = makeBox({ systemd: true });
  expectOneLineFailure(await runInstall(box, server.url, ["--frobnicate"]), /unknown option --frobnicate \(see --help\)/);
  expectOneLineFailure(await runInstall(box, server.url, ["--purge"]), /--purge only goes with --uninstall/);
  expectOneLineFailure(await runInstall(box, server.url, ["--port", "80"]), /--port must be 1024-65535/);
  expectOneLineFailure(await runInstall(box, server.url, ["--port", "12ab"]), /--port must be a number/);
  expectOneLineFailure(await runInstall(box, server.url, ["--public-ip"]), /--public-ip needs a value/);
  expectOneLineFailure(
    await runInstall(box, server.url, ["--public-ip", "1.2.3.4\nExecStartPre=/bin/evil"]),
    /--public-ip must be an IPv4 or IPv6 address/,
  );
  const mips = makeBox({ systemd: true, uname: "mips" });
  expectOneLineFailure(await runInstall(mips, server.url, []), /no relay build for this CPU \(mips\)/);
  expect(existsSync(mips.path("usr"))).toBe(false);
  const help = await runInstall(box, server.url, ["--help"], { piped: true });
  expect(help.code).toBe(0);
  for (const f of ["--public-ip", "--port", "--systemd", "--no-systemd", "--uninstall", "--purge", "LUMAMESH_BASE_URL", "LUMAMESH_ROOT"])
    expect(help.stdout).toContain(f);
  expect(box.calls()).toEqual([]);
}, 60_000);
