// bench/RESULTS.md as text: the whole file from a full run, or one section's block replaced
// (`bun run bench -- --update SECTION…`), leaving every other section as it was measured.
// A block sits between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` lines, after the main table.

const open = (name: string) => `<!-- bench:${name} -->`;
const close = (name: string) => `<!-- /bench:${name} -->`;

/** The block for one section: a heading, what produced it and on what, and its table. */
export function sectionBlock(name: string, facts: string[], table: string): string {
  return [open(name), `## ${name}`, "", ...facts, "", table, close(name)].join("\n");
}

/** Every block in `md`, by section name. */
export function blocks(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^<!-- bench:([\w-]+) -->$/gm;
  for (let m; (m = re.exec(md)); ) {
    const end = md.indexOf("\n" + close(m[1]!), m.index);
    if (end >= 0) out.set(m[1]!, md.slice(m.index, end + 1 + close(m[1]!).length));
  }
  return out;
}

/** `md` with the block of `name` replaced by `block`, or `block` appended when there was none. */
export function replaceBlock(md: string, name: string, block: string): string {
  const old = blocks(md).get(name);
  if (old !== undefined) return md.replace(old, () => block);
  return md.replace(/\n*$/, "") + "\n\n" + block + "\n";
}

/** A full run's file: `main`, then the blocks of `md` (the previous file) for sections this run did not measure. */
export function withKeptBlocks(main: string, md: string, ran: string[]): string {
  let out = main;
  for (const [name, block] of blocks(md)) if (!ran.includes(name)) out = replaceBlock(out, name, block);
  return out;
}
