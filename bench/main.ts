#!/usr/bin/env bun
// `bun run bench`: every benchmark section, one table each. Not a test: nothing here asserts.
import { benchLayer1 } from "./layer1.ts";
import { benchRooms } from "./rooms.ts";
import { table, type Row } from "./util.ts";

const only = process.argv[2];
const sections: [string, () => Promise<Row[]>][] = [
  ["layer1", () => benchLayer1()],
  ["rooms", () => benchRooms()],
];
for (const [name, run] of sections) {
  if (only && only != name) continue;
  console.log(`\n## ${name}\n`);
  console.log(table(await run()));
}
