// relay/socket.ts: after a wave of handshakes and a quiet spell, the relay collects its heap once
// (memory.releases), and the sessions it holds go on as before.
import { expect, test } from "bun:test";
import { startRelay } from "../../relay/socket.ts";
import { generateCertificate } from "../../relay/werift.ts";
import { createLogger } from "../../relay/log.ts";
import { openRelayLink, type RelayLink } from "../../relay/client.ts";
import { T } from "../../protocol/frames.ts";
import { until } from "../helpers/pipe.ts";

test("memory is given back once after `after` new sessions and `quietMs` without a ClientHello, not again before `everyMs`", async () => {
  const cert = await generateCertificate();
  const relay = await startRelay({
    host: "127.0.0.1",
    port: 0,
    cert,
    log: createLogger("warn", { write: () => {} }),
    release: { after: 3, quietMs: 300, everyMs: 60_000 },
    timerSlackMs: 50,
  });
  const rec = { addr: `127.0.0.1:${relay.port}`, fp: cert.fingerprint };
  const links: RelayLink[] = [];
  const releases = () => relay.core.counters["memory.releases"] ?? 0;
  try {
    const c = await generateCertificate();
    for (let i = 0; i < 2; i++) links.push(await openRelayLink(rec, c));
    // Two sessions: below `after`, whatever the quiet.
    await Bun.sleep(2600);
    expect(releases()).toBe(0);
    links.push(await openRelayLink(rec, c));
    // The third: its next deadline (the rest of the relay list, 2 s after HELLO) finds the relay quiet.
    await until(() => releases() === 1, 5000, "one release");
    // Every link still answers.
    const pongs = links.map(() => 0);
    links.forEach((l, i) => {
      l.onframe = (f) => void (f.t === T.PONG && pongs[i]!++);
      l.send({ t: T.PING, data: new Uint8Array(0) });
    });
    await until(() => pongs.every((n) => n === 1), 3000, "PONG on every link");
    // Three more soon after: not again within everyMs.
    for (let i = 0; i < 3; i++) links.push(await openRelayLink(rec, c));
    await Bun.sleep(2600);
    expect(releases()).toBe(1);
    expect(relay.sessions()).toBe(6);
  } finally {
    for (const l of links) l.close();
    await relay.stop();
  }
}, 30_000);
