// relay/config.ts: flags, their environment variables, precedence, commands and error messages.
import { describe, expect, test } from "bun:test";
import { ConfigError, DEFAULT_PORT, FLAGS, USAGE, advertisedIp, parseConfig, type Config } from "../../relay/config.ts";
import { ORD_ORIGIN } from "../../protocol/network.ts";

const HOME = { HOME: "/home/op" };
const p = (argv: string[], env: Record<string, string | undefined> = HOME) => parseConfig(argv, env);
/** The ConfigError message parseConfig throws (fails the test when it does not throw one). */
function fails(argv: string[], env: Record<string, string | undefined> = HOME): string {
  try {
    p(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`parseConfig(${JSON.stringify(argv)}) did not throw`);
}

const DEFAULTS: Config = {
  command: "serve",
  host: "0.0.0.0",
  port: 4884,
  publicIp: undefined,
  dataDir: "/home/op/.lumamesh",
  logLevel: "info",
  logAddresses: false,
  recordFrames: undefined,
  idleTimeout: 30,
  statsInterval: 60,
  limits: {},
  peers: [],
  ord: "https://ordinals.com",
};

describe("parseConfig", () => {
  test("defaults", () => {
    expect(DEFAULT_PORT).toBe(4884);
    expect(p([])).toEqual(DEFAULTS);
  });

  test("every flag in its two-argument form", () => {
    expect(
      p([
        "--host",
        "192.0.2.5",
        "--port",
        "9000",
        "--public-ip",
        "198.51.100.1",
        "--data-dir",
        "/srv/luma",
        "--log-level",
        "debug",
        "--log-addresses",
        "--idle-timeout",
        "45",
        "--stats-interval",
        "0",
        "--record-frames",
        "/tmp/f.log",
      ]),
    ).toEqual({
      command: "serve",
      host: "192.0.2.5",
      port: 9000,
      publicIp: "198.51.100.1",
      dataDir: "/srv/luma",
      logLevel: "debug",
      logAddresses: true,
      recordFrames: "/tmp/f.log",
      idleTimeout: 45,
      statsInterval: 0,
      limits: {},
      peers: [],
      ord: "https://ordinals.com",
    });
  });

  test("--flag=value form, including values with = and empty strings for text flags", () => {
    expect(p(["--host=::", "--port=0", "--log-level=warn", "--data-dir=/a=b", "--log-addresses=true", "--idle-timeout=2.5"])).toEqual({
      ...DEFAULTS,
      host: "::",
      port: 0,
      logLevel: "warn",
      dataDir: "/a=b",
      logAddresses: true,
      idleTimeout: 2.5,
    });
    expect(p(["--log-addresses=false"]).logAddresses).toBe(false);
    // Same spellings as the environment variable: 0 is off (addresses stay redacted).
    expect(p(["--log-addresses=0"]).logAddresses).toBe(false);
    expect(p(["--log-addresses=1"]).logAddresses).toBe(true);
  });

  test("--limit overrides, repeatable, and LUMAMESH_LIMITS; unknown names and bad values are refused", () => {
    expect(p(["--limit", "sessionsPerIp=2000", "--limit=msgRate=50"]).limits).toEqual({ sessionsPerIp: 2000, msgRate: 50 });
    expect(p([], { HOME: "/h", LUMAMESH_LIMITS: "roomsPerSession=2,membersPerRoom=8" }).limits).toEqual({
      roomsPerSession: 2,
      membersPerRoom: 8,
    });
    expect(fails(["--limit", "nope=1"])).toContain('--limit: unknown limit "nope"');
    expect(fails(["--limit", "msgRate=-1"])).toBe('--limit msgRate must be a positive number, got "-1"');
    expect(fails(["--limit", "msgRate"])).toBe("--limit msgRate must be a positive number, got undefined");
  });

  test("a value that looks like a flag is still taken as the value", () => {
    expect(p(["--data-dir", "--weird"]).dataDir).toBe("--weird");
  });

  test("environment variables", () => {
    expect(
      p([], {
        HOME: "/root",
        LUMAMESH_HOST: "10.0.0.1",
        LUMAMESH_PORT: "5000",
        LUMAMESH_PUBLIC_IP: "203.0.113.9",
        LUMAMESH_DATA_DIR: "/var/lib/luma",
        LUMAMESH_LOG_LEVEL: "error",
        LUMAMESH_LOG_ADDRESSES: "1",
        LUMAMESH_IDLE_TIMEOUT: "10",
        LUMAMESH_STATS_INTERVAL: "5",
        LUMAMESH_RECORD_FRAMES: "/tmp/r",
      }),
    ).toEqual({
      command: "serve",
      host: "10.0.0.1",
      port: 5000,
      publicIp: "203.0.113.9",
      dataDir: "/var/lib/luma",
      logLevel: "error",
      logAddresses: true,
      recordFrames: "/tmp/r",
      idleTimeout: 10,
      statsInterval: 5,
      limits: {},
      peers: [],
      ord: "https://ordinals.com",
    });
  });

  test("boolean environment values: 0 and false mean off; empty means unset", () => {
    for (const v of ["0", "false", ""]) expect(p([], { ...HOME, LUMAMESH_LOG_ADDRESSES: v }).logAddresses).toBe(false);
    for (const v of ["1", "true", "yes"]) expect(p([], { ...HOME, LUMAMESH_LOG_ADDRESSES: v }).logAddresses).toBe(true);
  });

  test("empty environment values are ignored (the default applies)", () => {
    expect(p([], { ...HOME, LUMAMESH_PORT: "", LUMAMESH_HOST: "", LUMAMESH_LOG_LEVEL: "" })).toEqual(DEFAULTS);
  });

  test("flags override the environment", () => {
    const env = { ...HOME, LUMAMESH_PORT: "5000", LUMAMESH_LOG_LEVEL: "error", LUMAMESH_LOG_ADDRESSES: "1", LUMAMESH_HOST: "10.0.0.1" };
    const c = p(["--port", "6000", "--log-level=debug", "--log-addresses=false"], env);
    expect(c.port).toBe(6000);
    expect(c.logLevel).toBe("debug");
    expect(c.logAddresses).toBe(false);
    expect(c.host).toBe("10.0.0.1"); // not given as a flag: the environment stands
  });

  test("the last of a repeated flag wins", () => {
    expect(p(["--port", "1", "--port=2"]).port).toBe(2);
  });

  test("dataDir defaults under HOME", () => {
    expect(p([], { HOME: "/x/y" }).dataDir).toBe("/x/y/.lumamesh");
  });

  test("bad ports → ConfigError naming --port and the value", () => {
    expect(fails(["--port", "abc"])).toBe('--port must be 0..65535, got "abc"');
    expect(fails(["--port", "65536"])).toBe('--port must be 0..65535, got "65536"');
    expect(fails(["--port=-1"])).toBe('--port must be 0..65535, got "-1"');
    expect(fails(["--port", "80.5"])).toBe('--port must be 0..65535, got "80.5"');
    expect(fails([], { ...HOME, LUMAMESH_PORT: "http" })).toBe('--port must be 0..65535, got "http"');
    expect(p(["--port", "65535"]).port).toBe(65535);
  });

  test("an empty or non-decimal port is an error, not port 0 or a hex/exponent reading", () => {
    // `--port=$PORT` with PORT unset must not silently bind a random port (0 means "pick one").
    expect(fails(["--port="])).toBe('--port must be 0..65535, got ""');
    expect(fails(["--port", ""])).toBe('--port must be 0..65535, got ""');
    expect(fails(["--port", " "])).toBe('--port must be 0..65535, got " "');
    expect(fails(["--port", "0x50"])).toBe('--port must be 0..65535, got "0x50"');
    expect(fails(["--port", "1e3"])).toBe('--port must be 0..65535, got "1e3"');
    expect(fails(["--port", "+80"])).toBe('--port must be 0..65535, got "+80"');
    expect(p(["--port", "0"]).port).toBe(0);
    expect(p(["--port", "080"]).port).toBe(80);
  });

  test("bad log level → ConfigError listing the levels", () => {
    expect(fails(["--log-level", "loud"])).toBe("--log-level must be one of debug, info, warn, error, silent");
    expect(fails([], { ...HOME, LUMAMESH_LOG_LEVEL: "INFO" })).toBe("--log-level must be one of debug, info, warn, error, silent");
    for (const l of ["debug", "info", "warn", "error", "silent"] as const) expect(p(["--log-level", l]).logLevel).toBe(l);
  });

  test("bad numbers for --idle-timeout and --stats-interval", () => {
    expect(fails(["--idle-timeout", "0"])).toBe('--idle-timeout must be a number ≥ 1, got "0"');
    expect(fails(["--idle-timeout", "soon"])).toBe('--idle-timeout must be a number ≥ 1, got "soon"');
    expect(fails(["--stats-interval=-5"])).toBe('--stats-interval must be a number ≥ 0, got "-5"');
    expect(fails([], { ...HOME, LUMAMESH_STATS_INTERVAL: "Infinity" })).toBe('--stats-interval must be a number ≥ 0, got "Infinity"');
  });

  test("unknown flags and stray arguments → ConfigError", () => {
    expect(fails(["--prot", "1"])).toBe('unknown argument "--prot" (see --help)');
    expect(fails(["--Port=1"])).toBe('unknown argument "--Port=1" (see --help)');
    expect(fails(["-p"])).toBe('unknown argument "-p" (see --help)');
    expect(fails(["start"])).toBe('unknown argument "start" (see --help)');
    expect(fails(["--publicIp", "x"])).toBe('unknown argument "--publicIp" (see --help)');
  });

  test("a value flag at the end with no value → ConfigError", () => {
    expect(fails(["--host"])).toBe("--host needs a value");
    expect(fails(["--port", "1", "--data-dir"])).toBe("--data-dir needs a value");
  });

  test("--ord: the ord server the bootstrap sat is read from; default the public origin pages use (protocol/network.ts); none for no lookup", () => {
    expect(p([]).ord).toBe(ORD_ORIGIN);
    expect(p(["--ord", "http://10.77.0.9:8080/"]).ord).toBe("http://10.77.0.9:8080");
    expect(p([], { ...HOME, LUMAMESH_ORD: "https://ord.example/" }).ord).toBe("https://ord.example");
    expect(p(["--ord", "none"]).ord).toBeNull();
    expect(fails(["--ord", "ordinals.com"])).toBe('--ord must be an http(s) URL or none, got "ordinals.com"');
    expect(fails(["--ord", "ftp://x/"])).toBe('--ord must be an http(s) URL or none, got "ftp://x/"');
    // register still needs one named: it checks every UTXO with it.
    expect(fails(["register", "--esplora", "http://e"])).toBe("register needs --ord URL (an ord server that indexes sats)");
    expect(p(["register", "--esplora", "http://e", "--ord", "http://o"]).register!.ord).toBe("http://o");
  });

  test("commands: serve (default), status, record, help, version", () => {
    expect(p(["serve"]).command).toBe("serve");
    expect(p(["status", "--data-dir", "/d"]).command).toBe("status");
    expect(p(["record"]).command).toBe("record");
    expect(p(["record", "--port", "7000"])).toEqual({ ...DEFAULTS, command: "record", port: 7000 });
    expect(p(["--port", "7000", "record"]).command).toBe("record");
    for (const a of ["--help", "-h", "help"]) expect(p([a]).command).toBe("help");
    for (const a of ["--version", "-v"]) expect(p([a]).command).toBe("version");
    // --help still parses (and validates) the rest of the line.
    expect(p(["--help", "--port", "1"]).port).toBe(1);
  });
});

describe("advertisedIp", () => {
  test("explicit public IP, else the bound host, else loopback for a wildcard bind", () => {
    expect(advertisedIp(p(["--public-ip", "198.51.100.1", "--host", "10.0.0.1"]))).toBe("198.51.100.1");
    expect(advertisedIp(p(["--host", "10.0.0.1"]))).toBe("10.0.0.1");
    expect(advertisedIp(p([]))).toBe("127.0.0.1");
    expect(advertisedIp(p(["--host", "::"]))).toBe("127.0.0.1");
    expect(advertisedIp(p(["--host", "2001:db8::2"]))).toBe("2001:db8::2");
    expect(advertisedIp(p([], { ...HOME, LUMAMESH_PUBLIC_IP: "203.0.113.4" }))).toBe("203.0.113.4");
  });
});

describe("USAGE", () => {
  test("names every flag in kebab case with its environment variable", () => {
    for (const f of FLAGS) {
      const flag = "--" + ((f as { flag?: string }).flag ?? f.name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
      expect(USAGE).toContain(flag);
      expect(USAGE).toContain(`[${f.env}]`);
      // and that spelling parses
      if (f.bool) expect(p([flag])[f.name]).toBe(true);
    }
    expect(FLAGS.map((f) => f.env)).toEqual([
      "LUMAMESH_HOST",
      "LUMAMESH_PORT",
      "LUMAMESH_PUBLIC_IP",
      "LUMAMESH_DATA_DIR",
      "LUMAMESH_LOG_LEVEL",
      "LUMAMESH_LOG_ADDRESSES",
      "LUMAMESH_IDLE_TIMEOUT",
      "LUMAMESH_STATS_INTERVAL",
      "LUMAMESH_ORD",
      "LUMAMESH_PEERS",
      "LUMAMESH_LIMITS",
      "LUMAMESH_RECORD_FRAMES",
    ]);
  });
});
