import type { CST } from 'yaml';

export type OpenerKind = 'double-quote' | 'single-quote' | 'flow-seq' | 'flow-map';

/** A quote, `[` or `{` the parser never saw closed, at the offset where it was opened. */
export interface Unclosed {
  offset: number;
  kind: OpenerKind;
  /** A bracket whose closer was swallowed by an unclosed quote or bracket inside it: reported through that one only. */
  swallowed: boolean;
}

export const OPENER_TEXT: Record<OpenerKind, { open: string; close: string; what: string }> = {
  'double-quote': { open: '"', close: '"', what: 'double-quoted string' },
  'single-quote': { open: "'", close: "'", what: 'single-quoted string' },
  'flow-seq': { open: '[', close: ']', what: 'list' },
  'flow-map': { open: '{', close: '}', what: 'mapping' },
};

/**
 * The yaml parser reports a missing closer where it gave up (often the end of the file); the user has to
 * edit where the quote or bracket was opened. This finds those openers in the concrete syntax tree.
 */
export function findUnclosed(tokens: Iterable<CST.Token>): Unclosed[] {
  const found: Unclosed[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const t = node as {
      type?: string;
      offset?: number;
      source?: string;
      end?: { type: string; source: string }[];
      start?: { source?: string };
    };
    if (t.type === 'double-quoted-scalar' && t.source !== undefined && !closedDouble(t.source))
      found.push({ offset: t.offset!, kind: 'double-quote', swallowed: false });
    if (t.type === 'single-quoted-scalar' && t.source !== undefined && !closedSingle(t.source))
      found.push({ offset: t.offset!, kind: 'single-quote', swallowed: false });
    if (t.type === 'flow-collection') {
      const kind: OpenerKind = t.start?.source === '{' ? 'flow-map' : 'flow-seq';
      const before = found.length;
      for (const v of Object.values(node)) if (v && typeof v === 'object') visit(v);
      // A quote or bracket left open inside swallows the closing bracket: the inner one is the place to edit.
      const swallowed = found.length > before;
      // Same test as the composer: only the first end token can close the collection.
      if (t.end?.[0]?.source !== OPENER_TEXT[kind].close) found.push({ offset: t.offset!, kind, swallowed });
      return;
    }
    for (const v of Object.values(node)) if (v && typeof v === 'object') visit(v);
  };
  for (const tok of tokens) visit(tok);
  return found.sort((a, b) => a.offset - b.offset);
}

function closedDouble(src: string): boolean {
  for (let i = 1; i < src.length; i++) {
    if (src[i] === '\\') i++;
    else if (src[i] === '"') return true;
  }
  return false;
}

function closedSingle(src: string): boolean {
  for (let i = 1; i < src.length; i++) {
    if (src[i] !== "'") continue;
    if (src[i + 1] === "'") i++;
    else return true;
  }
  return false;
}

/** The composer's own message for each missing closer, reported where it gave up looking. */
export const MISSING_CLOSER_MESSAGE: Record<OpenerKind, RegExp> = {
  'double-quote': /^Missing closing "quote/,
  'single-quote': /^Missing closing 'quote/,
  'flow-seq': /^Flow sequence .*end with a \]/,
  'flow-map': /^Flow map .*end with a \}/,
};
