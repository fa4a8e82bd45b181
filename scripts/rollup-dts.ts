// Rolls the per-module declaration files tsc emits into ONE self-contained .d.ts holding exactly
// what the entry module exports and the declarations those exports reach (build.ts, for
// dist/lumamesh.d.ts). It reads tsc's own output, whose layout is regular: every top-level
// statement starts in column 0 and everything nested is indented, so statements are found by
// line, not by a full parser. Anything it does not understand throws rather than guess, and
// build.ts type-checks the result. Not reached: the module's other exports, @internal members
// (tsc --stripInternal removes those before this runs).
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

interface Decl {
  name: string;
  text: string;
  exported: boolean;
}
interface Module {
  decls: Map<string, Decl[]>;
  /** local name → where it comes from (import, or `export … from` re-export) */
  imports: Map<string, { from: string; name: string }>;
  /** names this module exports by re-export (`export { a } from "./b"`) */
  reexports: Set<string>;
}

const DECL =
  /^(export\s+)?(?:declare\s+)?(?:abstract\s+)?(?:const\s+enum|enum|interface|type|class|function|const|let|var|namespace)\s+([A-Za-z_$][\w$]*)/;
const FROM = /^(import|export)\s+(type\s+)?\{([^}]*)\}\s+from\s+["']((?:\.\.?\/)+[\w./-]+)["'];$/;
/** TypeScript words that are never references to a declaration. */
const KEYWORDS = new Set(
  "export declare const let var function class interface type enum namespace extends implements readonly keyof typeof infer is in of new import from as unique abstract static private protected public get set void null undefined true false never unknown any string number boolean bigint symbol object asserts this".split(
    " ",
  ),
);

/** Top-level statements of one tsc-emitted .d.ts, each with the comment lines above it. */
export function statements(text: string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let comment: string[] = [];
  let inComment = false;
  for (const line of text.split("\n")) {
    if (inComment) {
      comment.push(line);
      inComment = !line.includes("*/");
    } else if (/^\/[*/]/.test(line)) {
      // A comment in column 0 ends the statement before it and belongs to the next one.
      if (cur.length) out.push(cur.join("\n"));
      cur = [];
      comment.push(line);
      inComment = line.startsWith("/*") && !line.includes("*/");
    } else if (/^[A-Za-z]/.test(line)) {
      // A new statement starts in column 0 with a word; `}`, `)`, `|`… in column 0 close or continue one.
      if (cur.length) out.push(cur.join("\n"));
      cur = [...comment, line];
      comment = [];
    } else if (line.trim()) {
      if (!cur.length) throw new Error(`rollup-dts: a line outside any statement: ${JSON.stringify(line)}`);
      cur.push(line);
    }
  }
  if (cur.length) out.push(cur.join("\n"));
  return out;
}

function parse(text: string, file: string): Module {
  const m: Module = { decls: new Map(), imports: new Map(), reexports: new Set() };
  for (const s of statements(text)) {
    const code = s.replace(/^\s*(\/\*[\s\S]*?\*\/|\/\/.*)\s*/gm, "").trim();
    if (code === "export {};") continue;
    const f = FROM.exec(code.replace(/\s+/g, " "));
    if (f) {
      for (const item of f[3]
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)) {
        const n = /^(?:type\s+)?([A-Za-z_$][\w$]*)$/.exec(item);
        if (!n) throw new Error(`rollup-dts: ${file}: renamed import/export not supported: ${JSON.stringify(item)}`);
        // Module paths relative to the declaration folder (src/… and protocol/… side by side).
        m.imports.set(n[1], { from: normalize(join(dirname(file), f[4].replace(/\.(ts|js)$/, ".d.ts"))), name: n[1] });
        if (f[1] === "export") m.reexports.add(n[1]);
      }
      continue;
    }
    const d = DECL.exec(code);
    if (!d) throw new Error(`rollup-dts: ${file}: statement not understood: ${JSON.stringify(code.slice(0, 120))}`);
    const list = m.decls.get(d[2]) ?? [];
    list.push({ name: d[2], text: s, exported: !!d[1] });
    m.decls.set(d[2], list);
  }
  return m;
}

/** Identifiers a statement refers to (comments, string literals and property accesses left out). */
export function references(text: string): Set<string> {
  const code = text.replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, " ").replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
  const out = new Set<string>();
  for (const m of code.matchAll(/(?<![\w$.])[A-Za-z_$][\w$]*/g)) if (!KEYWORDS.has(m[0])) out.add(m[0]);
  return out;
}

/** A declaration that is reached but not public loses its `export` (tsc already wrote `declare` where a value needs it). */
const privatize = (text: string) => text.replace(/^export\s+(?=declare\s|interface\s|type\s)/m, "");

/**
 * One .d.ts for `entry` in `dir` (tsc's declaration output): the entry's exports, exported, and
 * every declaration they reach, not exported. Throws on a name two modules both need.
 */
export function rollupDts(dir: string, entry = "index.d.ts", header = ""): string {
  const mods = new Map<string, Module>();
  const mod = (file: string) => {
    let m = mods.get(file);
    if (!m) mods.set(file, (m = parse(readFileSync(join(dir, file), "utf8"), file)));
    return m;
  };
  /** Follow imports and re-exports to the module that declares `name`. */
  const resolve = (file: string, name: string, seen = 0): { file: string; decls: Decl[] } | null => {
    if (seen > 32) throw new Error(`rollup-dts: import cycle resolving ${name}`);
    const m = mod(file);
    const d = m.decls.get(name);
    if (d) return { file, decls: d };
    const i = m.imports.get(name);
    return i ? resolve(i.from, i.name, seen + 1) : null;
  };
  const root = mod(entry);
  // The entry's own declarations (connect) first, then what it re-exports, each followed by what it reaches.
  const publicNames = new Set([
    ...[...root.decls.values()]
      .flat()
      .filter((d) => d.exported)
      .map((d) => d.name),
    ...root.reexports,
  ]);
  const owner = new Map<string, string>();
  const order: { decls: Decl[]; file: string }[] = [];
  const visit = (file: string, name: string) => {
    const r = resolve(file, name);
    if (!r) return; // a global (lib.dom: RTCPeerConnection, Promise…) or a type parameter
    const prev = owner.get(name);
    if (prev === r.file) return;
    if (prev) throw new Error(`rollup-dts: two declarations named ${name} (${prev}, ${r.file}) are both needed`);
    owner.set(name, r.file);
    order.push(r);
    for (const d of r.decls) for (const ref of references(d.text)) if (ref !== name) visit(r.file, ref);
  };
  for (const n of publicNames) visit(entry, n);
  const body = order.flatMap((r) =>
    r.decls.map((d) => {
      if (!publicNames.has(d.name)) return privatize(d.text);
      if (!d.exported) throw new Error(`rollup-dts: ${r.file}: ${d.name} is public but not exported there`);
      return d.text;
    }),
  );
  return header + body.join("\n") + "\nexport {};\n";
}
