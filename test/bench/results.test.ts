// bench/results.ts: one section's block in bench/RESULTS.md replaced or appended, the rest of the
// file byte for byte as it was; a full run keeps the blocks of sections it did not measure.
import { describe, expect, test } from "bun:test";
import { blocks, replaceBlock, sectionBlock, withKeptBlocks } from "../../bench/results.ts";

const MAIN = "# Benchmark results\n\n- date: x\n\n| section | value |\n|---|---|\n| size | 1 |\n";

describe("bench/results", () => {
  test("a block is appended after the main table, then replaced in place; the rest is untouched", () => {
    const a1 = sectionBlock("attack", ["- date: 1"], "| a |\n|---|\n| 1 |");
    const md1 = replaceBlock(MAIN, "attack", a1);
    expect(md1.startsWith(MAIN.trimEnd())).toBe(true);
    expect(blocks(md1).get("attack")).toBe(a1);
    const other = sectionBlock("other", ["- date: 2"], "| o |\n|---|\n| 2 |");
    const md2 = replaceBlock(md1, "other", other);
    const a2 = sectionBlock("attack", ["- date: 3"], "| a |\n|---|\n| $& 3 |"); // "$&" stays literal
    const md3 = replaceBlock(md2, "attack", a2);
    expect([...blocks(md3).keys()]).toEqual(["attack", "other"]);
    expect(blocks(md3).get("attack")).toBe(a2);
    expect(blocks(md3).get("other")).toBe(other);
    expect(md3.replace(a2, "")).toBe(md2.replace(a1, ""));
  });

  test("a full run keeps blocks of sections it did not run and drops those it did", () => {
    const md = replaceBlock(replaceBlock(MAIN, "attack", sectionBlock("attack", [], "| a |")), "extra", sectionBlock("extra", [], "| e |"));
    const next = withKeptBlocks("# Benchmark results\n\nnew table\n", md, ["size", "attack"]);
    expect([...blocks(next).keys()]).toEqual(["extra"]);
    expect(next.startsWith("# Benchmark results\n\nnew table\n")).toBe(true);
  });
});
