/** C0 names as terminals and `man ascii` print them. */
const C0 = [
  'NUL',
  'SOH',
  'STX',
  'ETX',
  'EOT',
  'ENQ',
  'ACK',
  'BEL',
  'BS',
  'HT',
  'LF',
  'VT',
  'FF',
  'CR',
  'SO',
  'SI',
  'DLE',
  'DC1',
  'DC2',
  'DC3',
  'DC4',
  'NAK',
  'SYN',
  'ETB',
  'CAN',
  'EM',
  'SUB',
  'ESC',
  'FS',
  'GS',
  'RS',
  'US',
];

/** Tab, LF and CR are ordinary text; every other control character is invisible in an editor and wrong in a value. */
const CONTROL_RE = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]/g;
/** An ANSI CSI sequence (colours, cursor moves) as copied from a coloured terminal. */
const CSI_RE = /^\x1b\[[0-?]*[ -/]*[@-~]/;

export interface ControlChar {
  offset: number;
  /** What it is, in words: `control character ESC (U+001B)`, and the escape code it starts, if any. */
  description: string;
  /** Where it probably came from, if that can be told. */
  hint?: string;
}

const codepoint = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;

export function findControlChars(text: string): ControlChar[] {
  const found: ControlChar[] = [];
  for (const m of text.matchAll(CONTROL_RE)) {
    const c = m[0].charCodeAt(0);
    const name = c < 0x20 ? C0[c]! : c === 0x7f ? 'DEL' : 'C1';
    const csi = c === 0x1b ? CSI_RE.exec(text.slice(m.index, m.index + 32)) : null;
    found.push({
      offset: m.index,
      description: `control character ${name} (${codepoint(c)})${csi ? ` starting the terminal escape code "ESC${csi[0].slice(1)}"` : ''}`,
      ...(csi ? { hint: 'pasted from a coloured terminal?' } : {}),
    });
  }
  return found;
}
