// A folder of your own inscription's files, for `npm start -- --serve <folder>`: its
// manifest.json when it has one (manifest.ts, full control), otherwise every file in it, each on
// a sat of its own. Such a sat is derived from the file's path, so `/r/sat/<sat>/at/-1/content`
// names the same file across edits and restarts while `/content/<id>` follows its content.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { mediaForPath } from "../../inscribe/envelope.ts";
import { readManifest } from "./manifest.ts";
import type { InscriptionInput } from "./store.ts";

export interface FolderEntry {
  /** Path relative to the folder, with '/' (undefined for a manifest entry without a file). */
  file: string | undefined;
  input: InscriptionInput;
}

export interface Folder {
  /** From manifest.json, or every file. */
  from: "manifest" | "files";
  height: number | undefined;
  entries: FolderEntry[];
  /** Files left out: no manifest and an extension ord's table does not know (give it in a manifest). */
  skipped: string[];
}

// Sats for files: 10^15 + (48 bits of sha256("lumamesh dev sat " + path) mod 10^15), all below
// Sat::LAST (2.1·10^15) and far from the sats build.ts gives the library, fallback and bootstrap.
const FILE_SAT_BASE = 1_000_000_000_000_000;

/** The sat a folder file is inscribed on without a manifest; `taken` bumps it past collisions. */
export function fileSat(path: string, taken: (sat: number) => boolean = () => false): number {
  const h = createHash("sha256").update(`lumamesh dev sat ${path}`).digest();
  let sat = FILE_SAT_BASE + (h.readUIntBE(0, 6) % FILE_SAT_BASE);
  while (taken(sat)) sat++;
  return sat;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join("/"));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Reads `dir` as inscriptions. Throws with a clear message when it is missing or holds nothing to inscribe. */
export async function readFolder(dir: string): Promise<Folder> {
  if (!existsSync(dir)) throw new Error(`serve: no folder ${dir}`);
  if (existsSync(join(dir, "manifest.json"))) {
    const m = await readManifest(dir);
    return { from: "manifest", height: m.height, entries: m.inscriptions.map((input, k) => ({ file: m.files[k], input })), skipped: [] };
  }
  const entries: FolderEntry[] = [];
  const skipped: string[] = [];
  const sats = new Set<number>();
  for (const file of await filesUnder(dir)) {
    const media = mediaForPath(file);
    if (!media) {
      skipped.push(file);
      continue;
    }
    const sat = fileSat(file, (s) => sats.has(s));
    sats.add(sat);
    entries.push({ file, input: { body: new Uint8Array(await readFile(join(dir, file))), content_type: media.contentType, sat } });
  }
  if (entries.length === 0)
    throw new Error(`serve: ${dir} has no file to inscribe${skipped.length ? ` (unknown extensions: ${skipped.join(", ")})` : ""}`);
  return { from: "files", height: undefined, entries, skipped };
}
