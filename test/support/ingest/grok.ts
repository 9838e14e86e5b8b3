// Grok expander with Elasticsearch semantics, executed by Oniguruma (see onig.ts).
// Written here because no npm package ships ES's grok behaviour or its pattern bank.
import { readFileSync } from 'node:fs';
import { compileOnig, type OnigRegex } from './onig.js';

export type GrokType = 'string' | 'int' | 'long' | 'float' | 'double' | 'boolean';

export interface GrokCapture {
  field: string;
  type: GrokType;
}

export interface CompiledGrok {
  readonly pattern: string;
  readonly regex: string;
  readonly captures: readonly GrokCapture[];
  /** Returns field → converted value for every participating named group, or null on no match. */
  match(text: string): Map<string, unknown> | null;
}

let defaultBank: Map<string, string> | undefined;

export function loadPatternBank(): Map<string, string> {
  if (defaultBank) return defaultBank;
  const text = readFileSync(new URL('./grok-patterns.txt', import.meta.url), 'utf8');
  const bank = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const sp = line.indexOf(' ');
    if (sp <= 0) throw new Error(`bad grok pattern line: ${line}`);
    bank.set(line.slice(0, sp), line.slice(sp + 1));
  }
  defaultBank = bank;
  return bank;
}

const TYPES: ReadonlySet<string> = new Set(['int', 'long', 'float', 'double', 'boolean']);

// Mirrors ES GrokCaptureConfig: the group name is "PATTERN:field[:type]" for %{} references and
// the raw name for (?<name>...) groups, split on ':'.
function parseCaptureName(name: string, fromReference: boolean): GrokCapture {
  const parts = name.split(':');
  const field = fromReference ? parts[1] : parts[0];
  const type = fromReference ? parts[2] : parts[1];
  if (!field) throw new Error(`grok: empty field name in "${name}"`);
  if (type !== undefined && !TYPES.has(type)) {
    // ES silently treats unknown suffixes as strings; refusing them catches typos such as ":integer".
    throw new Error(`grok: unsupported capture type "${type}" in "${name}"`);
  }
  return { field, type: (type as GrokType | undefined) ?? 'string' };
}

interface ExpandState {
  bank: ReadonlyMap<string, string>;
  captures: GrokCapture[];
  stack: string[];
}

// Same character set ES accepts in the semantic part of %{PATTERN:semantic}.
const REFERENCE = /^%\{([A-Za-z0-9_]+)(?::([A-Za-z0-9@[\]_:.-]+))?(=[^}]*)?\}/;

function expand(text: string, st: ExpandState): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '%' && text[i + 1] === '{') {
      const m = REFERENCE.exec(text.slice(i));
      if (!m) throw new Error(`grok: malformed reference at "${text.slice(i, i + 40)}"`);
      const [whole, name, semantic, inlineDef] = m;
      if (inlineDef) throw new Error(`grok: inline definitions (%{NAME=...}) are not supported: ${whole}`);
      const def = st.bank.get(name!);
      if (def === undefined) throw new Error(`grok: unknown pattern %{${name}}`);
      if (st.stack.includes(name!)) throw new Error(`grok: circular reference ${[...st.stack, name].join(' -> ')}`);
      st.stack.push(name!);
      if (semantic !== undefined) {
        const cap = parseCaptureName(`${name}:${semantic}`, true);
        const idx = st.captures.push(cap);
        out += `(?<_g${idx}>${expand(def, st)})`;
      } else {
        out += `(?:${expand(def, st)})`;
      }
      st.stack.pop();
      i += whole!.length;
      continue;
    }
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new Error('grok: trailing backslash');
      if (/[1-9k]/.test(next)) throw new Error('grok: back-references are not supported by this emulator');
      out += ch + next;
      i += 2;
      continue;
    }
    if (ch === '[') {
      const end = classEnd(text, i);
      out += text.slice(i, end);
      i = end;
      continue;
    }
    if (ch === '(') {
      if (text[i + 1] !== '?') {
        // Plain groups become non-capturing so that group numbers map 1:1 to our named groups
        // (Joni with named groups does not capture plain ones either).
        out += '(?:';
        i += 1;
        continue;
      }
      const named = /^\(\?<([A-Za-z_][^>]*)>/.exec(text.slice(i));
      if (named) {
        const cap = parseCaptureName(named[1]!, false);
        const idx = st.captures.push(cap);
        out += `(?<_g${idx}>`;
        i += named[0].length;
        continue;
      }
      if (/^\(\?P?</.test(text.slice(i)) && !/^\(\?<[=!]/.test(text.slice(i))) {
        throw new Error(`grok: unsupported group syntax at "${text.slice(i, i + 20)}"`);
      }
    }
    out += ch;
    i += 1;
  }
  return out;
}

// Oniguruma classes nest ([a-z&&[^x]], [[:alpha:]]) and allow ']' right after '[' or '[^'.
function classEnd(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === '[') {
      depth += 1;
      i += 1;
      if (text[i] === '^') i += 1;
      if (text[i] === ']') i += 1;
      continue;
    }
    if (ch === ']') {
      depth -= 1;
      i += 1;
      if (depth === 0) return i;
      continue;
    }
    i += 1;
  }
  throw new Error(`grok: unterminated character class in "${text.slice(start, start + 40)}"`);
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function convert(value: string, type: GrokType, field: string): unknown {
  switch (type) {
    case 'string':
      return value;
    case 'int':
    case 'long': {
      // Integer.parseInt / Long.parseLong: optional sign, digits only, range-checked.
      if (!/^[+-]?\d+$/.test(value)) throw new Error(`For input string: "${value}" (grok ${type} field [${field}])`);
      const big = BigInt(value);
      const [min, max] = type === 'int' ? [BigInt(INT_MIN), BigInt(INT_MAX)] : [LONG_MIN, LONG_MAX];
      if (big < min || big > max)
        throw new Error(`For input string: "${value}" out of ${type} range (field [${field}])`);
      if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new Error(`emulator limitation: ${value} exceeds JS safe integers (field [${field}])`);
      }
      return Number(big);
    }
    case 'float':
    case 'double': {
      const t = value.trim();
      if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fFdD]?$/.test(t)) {
        throw new Error(`For input string: "${value}" (grok ${type} field [${field}])`);
      }
      // Java renders a parsed float with its shortest round-trip form ("0.8173"), which is also
      // what JSON.stringify gives for the double, so no float32 rounding is modelled.
      return Number(t.replace(/[fFdD]$/, ''));
    }
    case 'boolean':
      return value.toLowerCase() === 'true';
  }
}

export function compileGrok(pattern: string, definitions: Readonly<Record<string, string>> = {}): CompiledGrok {
  const bank = new Map(loadPatternBank());
  for (const [k, v] of Object.entries(definitions)) bank.set(k, v);
  const st: ExpandState = { bank, captures: [], stack: [] };
  const regexSource = expand(pattern, st);
  const regex: OnigRegex = compileOnig(regexSource);
  const captures = st.captures;
  return {
    pattern,
    regex: regexSource,
    captures,
    match(text: string) {
      const groups = regex.search(text);
      if (!groups) return null;
      if (groups.length !== captures.length + 1) {
        throw new Error(`grok emulator: expected ${captures.length} groups, engine returned ${groups.length - 1}`);
      }
      const result = new Map<string, unknown>();
      captures.forEach((cap, idx) => {
        const g = groups[idx + 1];
        // The same field may be named in several alternation branches; the branch that
        // participated wins, as with Joni's multi-backref name entries.
        if (!g || result.has(cap.field)) return;
        result.set(cap.field, convert(text.slice(g.start, g.end), cap.type, cap.field));
      });
      return result;
    },
  };
}
