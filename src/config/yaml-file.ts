import { readFileSync, statSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigIssue } from './issues.js';

/** Rule and config files are hand-written; anything larger is a mistake or an attack. */
export const MAX_YAML_BYTES = 1024 * 1024;
/** Aliases are legitimate for shared defaults; a billion-laughs document needs thousands. */
export const MAX_YAML_ALIASES = 200;

export interface YamlFile {
  file: string;
  source: string;
  value: unknown;
  /** Position of the node at `path`; for a path that does not exist, its nearest ancestor. */
  positionOf(path: readonly PropertyKey[], opts?: { key?: boolean }): { line: number; col: number };
  /** Position of `needle` inside the scalar at `path`, if it is written there verbatim. */
  positionIn(path: readonly PropertyKey[], needle: string): { line: number; col: number };
  /** The raw value at `path` (after alias resolution), for error messages. */
  valueAt(path: readonly PropertyKey[]): unknown;
}

export type YamlResult = { ok: true; yaml: YamlFile } | { ok: false; issues: ConfigIssue[] };

export function readYamlFile(file: string, displayName = file, readText: (f: string) => string = (f) => readFileSync(f, 'utf8')): YamlResult {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    return { ok: false, issues: [{ file: displayName, line: 1, col: 1, message: `cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})` }] };
  }
  if (size > MAX_YAML_BYTES) {
    return { ok: false, issues: [{ file: displayName, line: 1, col: 1, message: `file too large (expected at most ${MAX_YAML_BYTES} bytes, got ${size})` }] };
  }
  return parseYaml(readText(file), displayName);
}

export function parseYaml(source: string, file: string): YamlResult {
  if (Buffer.byteLength(source) > MAX_YAML_BYTES) {
    return { ok: false, issues: [{ file, line: 1, col: 1, message: `file too large (expected at most ${MAX_YAML_BYTES} bytes, got ${Buffer.byteLength(source)})` }] };
  }
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true });
  const at = (offset: number) => {
    const p = lc.linePos(offset);
    return { line: p.line, col: p.col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({ file, ...at(e.pos[0]), message: `YAML syntax error: ${firstLine(e.message)}` })),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    const firstAlias = source.search(/\*[A-Za-z0-9_-]/);
    return {
      ok: false,
      issues: [{ file, ...at(Math.max(0, firstAlias)), message: `refused: too many YAML alias expansions (expected at most ${MAX_YAML_ALIASES}; this looks like an alias bomb) — ${firstLine((e as Error).message)}` }],
    };
  }
  return { ok: true, yaml: makeYamlFile(file, source, doc, value, at) };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function makeYamlFile(file: string, source: string, doc: Document, value: unknown, at: (o: number) => { line: number; col: number }): YamlFile {
  /** Walk as far down `path` as the document goes; return the deepest node and, if the last step was a map key, its pair. */
  const walk = (path: readonly PropertyKey[]) => {
    let node: unknown = doc.contents;
    let keyNode: Node | undefined;
    let depth = 0;
    for (const seg of path) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
        node = node.items[seg];
      } else break;
      depth++;
    }
    return { node: node as Node | null, keyNode, complete: depth === path.length };
  };
  const rangeStart = (n: Node | null | undefined) => (n && n.range ? n.range[0] : 0);
  return {
    file,
    source,
    value,
    positionOf(path, opts = {}) {
      const { node, keyNode, complete } = walk(path);
      if (opts.key && keyNode && complete) return at(rangeStart(keyNode));
      return at(rangeStart(node));
    },
    positionIn(path, needle) {
      const { node } = walk(path);
      if (node && node.range) {
        const idx = source.slice(node.range[0], node.range[1]).indexOf(needle);
        if (idx >= 0) return at(node.range[0] + idx);
      }
      return at(rangeStart(node));
    },
    valueAt(path) {
      let v: unknown = value;
      for (const seg of path) {
        if (v === null || typeof v !== 'object') return undefined;
        v = (v as Record<PropertyKey, unknown>)[seg as string];
      }
      return v;
    },
  };
}
