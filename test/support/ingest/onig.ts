// Thin wrapper around vscode-oniguruma: the real Oniguruma C engine compiled to WASM.
// Elasticsearch's grok runs on Joni, a Java port of the same engine, so character classes,
// atomic groups, possessive quantifiers, look-behind and `.`-does-not-match-newline behave
// as in production, which a JS RegExp cannot promise.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type * as Onig from 'vscode-oniguruma';

const require = createRequire(import.meta.url);
const onig = require('vscode-oniguruma') as typeof Onig;

// Syntax.Ruby in vscode-oniguruma's const enum (a const enum cannot be imported under
// verbatimModuleSyntax). Joni's default syntax is the Ruby one.
const SYNTAX_RUBY = 10 as Onig.Syntax;
const UNMATCHED = 4294967295;

let loaded: Promise<void> | undefined;

export function loadOniguruma(): Promise<void> {
  if (!loaded) {
    const wasmPath = require.resolve('vscode-oniguruma/release/onig.wasm');
    const bytes = readFileSync(wasmPath);
    loaded = onig.loadWASM(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
  return loaded;
}

export interface OnigRegex {
  readonly source: string;
  /** Unanchored search from offset 0, like Joni's `matcher.search`. Group 0 is the whole match. */
  search(text: string): Array<{ start: number; end: number } | undefined> | null;
}

const cache = new Map<string, OnigRegex>();

export function compileOnig(source: string): OnigRegex {
  const hit = cache.get(source);
  if (hit) return hit;
  let scanner: Onig.OnigScanner;
  try {
    scanner = new onig.OnigScanner([source], { syntax: SYNTAX_RUBY });
  } catch (err) {
    throw new Error(`Oniguruma rejected regex: ${(err as Error).message}\n${source}`);
  }
  const regex: OnigRegex = {
    source,
    search(text: string) {
      const m = scanner.findNextMatchSync(text, 0);
      if (!m) return null;
      return m.captureIndices.map((c) => (c.start === UNMATCHED ? undefined : { start: c.start, end: c.end }));
    },
  };
  cache.set(source, regex);
  return regex;
}
