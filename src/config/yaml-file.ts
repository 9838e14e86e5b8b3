import { readFileSync, statSync } from 'node:fs';
import { Composer, Document, isMap, isPair, isScalar, isSeq, LineCounter, Parser, type Node } from 'yaml';
import { findControlChars } from './control-chars.js';
import type { ConfigIssue } from './issues.js';
import { decodeUtf8 } from './utf8.js';
import { findUnclosed, MISSING_CLOSER_MESSAGE, OPENER_TEXT } from './yaml-unclosed.js';

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

export function readYamlFile(
  file: string,
  displayName = file,
  readBytes: (f: string) => Uint8Array = (f) => readFileSync(f),
): YamlResult {
  const fail = (line: number, col: number, message: string): YamlResult => ({
    ok: false,
    issues: [{ file: displayName, line, col, message }],
  });
  let bytes: Uint8Array;
  try {
    const size = statSync(file).size;
    if (size > MAX_YAML_BYTES)
      return fail(1, 1, `file too large (expected at most ${MAX_YAML_BYTES} bytes, got ${size})`);
    bytes = readBytes(file);
  } catch (e) {
    return fail(1, 1, `cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const text = decodeUtf8(bytes);
  if (!text.ok) {
    return fail(
      text.line,
      text.col,
      `not valid UTF-8: ${text.reason} (byte offset ${text.offset}; expected UTF-8 text: was the file saved as Latin-1 or Windows-1252? Re-save it as UTF-8)`,
    );
  }
  return parseYaml(text.text, displayName);
}

/** Beyond this many, the rest of a pasted coloured terminal log is summed up in one line. */
export const MAX_CONTROL_CHAR_ISSUES = 10;

/**
 * Parses one hand-written YAML file. Every problem is reported where the user has to edit: control
 * characters where they are, unclosed quotes and brackets where they were opened, and a second YAML
 * document at its `---` (a config or rule file is exactly one mapping; two documents are refused,
 * with the syntax problems of every document listed too).
 */
export function parseYaml(source: string, file: string): YamlResult {
  if (Buffer.byteLength(source) > MAX_YAML_BYTES) {
    return {
      ok: false,
      issues: [
        {
          file,
          line: 1,
          col: 1,
          message: `file too large (expected at most ${MAX_YAML_BYTES} bytes, got ${Buffer.byteLength(source)})`,
        },
      ],
    };
  }
  const lc = new LineCounter();
  const tokens = Array.from(new Parser(lc.addNewLine).parse(source));
  const docs = Array.from(new Composer({ uniqueKeys: true, strict: true }).compose(tokens));
  const at = (offset: number) => {
    const p = lc.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const issues: ConfigIssue[] = [];
  const issue = (offset: number, message: string) => issues.push({ file, ...at(offset), message });

  const controls = findControlChars(source);
  for (const c of controls.slice(0, MAX_CONTROL_CHAR_ISSUES))
    issue(c.offset, `${c.description} (${c.hint ? `${c.hint} ` : ''}expected printable text: delete it)`);
  const more = controls[MAX_CONTROL_CHAR_ISSUES];
  if (more)
    issue(
      more.offset,
      `${controls.length - MAX_CONTROL_CHAR_ISSUES} more control character(s) from here on (only the first ${MAX_CONTROL_CHAR_ISSUES} are listed)`,
    );

  const errors = docs.flatMap((d) => d.errors);
  const explained = new Set<unknown>();
  const unclosed = findUnclosed(tokens);
  for (const u of unclosed) {
    const gaveUp = errors.find(
      (e) => !explained.has(e) && e.pos[0] >= u.offset && MISSING_CLOSER_MESSAGE[u.kind].test(e.message),
    );
    if (gaveUp) explained.add(gaveUp);
    if (u.swallowed) continue;
    const { open, close, what } = OPENER_TEXT[u.kind];
    const end = gaveUp ? at(gaveUp.pos[0]) : undefined;
    issue(
      u.offset,
      `YAML syntax error: unclosed ${what}: ${open} opened here has no matching ${close}${end ? ` (the parser gave up looking for it at ${end.line}:${end.col})` : ''}`,
    );
  }
  // After an unclosed quote or bracket the parser is lost: what it reports further on is mostly a consequence
  // (e.g. "Implicit keys need to be on a single line" on good lines), so only what comes before is listed.
  const lostFrom = unclosed.find((u) => !u.swallowed)?.offset ?? Infinity;
  for (const e of errors)
    if (!explained.has(e) && e.pos[0] < lostFrom) issue(e.pos[0], `YAML syntax error: ${firstLine(e.message)}`);

  tokens
    .filter((t) => t.type === 'document')
    .slice(1)
    .forEach((t, i) => {
      const marker = t.type === 'document' ? t.start.find((s) => s.type === 'doc-start') : undefined;
      const where = marker ? 'at this "---"' : 'here, after a "..." end marker';
      issue(
        marker?.offset ?? t.offset,
        `refused: YAML document ${i + 2} starts ${where} (expected exactly one document per file: delete the separator, merge the documents, or move the second one into its own file)`,
      );
    });

  if (issues.length > 0) return { ok: false, issues: issues.sort((a, b) => a.line - b.line || a.col - b.col) };
  const doc = docs[0] ?? new Document(null);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    const firstAlias = source.search(/\*[A-Za-z0-9_-]/);
    return {
      ok: false,
      issues: [
        {
          file,
          ...at(Math.max(0, firstAlias)),
          message: `refused: too many YAML alias expansions (expected at most ${MAX_YAML_ALIASES}; this looks like an alias bomb) — ${firstLine((e as Error).message)}`,
        },
      ],
    };
  }
  return { ok: true, yaml: makeYamlFile(file, source, doc, value, at) };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function makeYamlFile(
  file: string,
  source: string,
  doc: Document,
  value: unknown,
  at: (o: number) => { line: number; col: number },
): YamlFile {
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
  const rangeStart = (n: Node | null | undefined) => (n?.range ? n.range[0] : 0);
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
      if (node?.range) {
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
