/**
 * Strict UTF-8 decoding for hand-written files. A Latin-1 "é" silently turned into U+FFFD would end up
 * in a rule id or a URL; refusing the file at the first bad byte tells the user exactly what to re-save.
 */
export type Utf8Result =
  | { ok: true; text: string }
  | { ok: false; offset: number; line: number; col: number; byte: number; reason: string };

const hex = (b: number) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

export function decodeUtf8(bytes: Uint8Array): Utf8Result {
  try {
    // The decoder is the judge; it says whether, not where.
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const bad = firstInvalidSequence(bytes);
    const lineStart = bytes.lastIndexOf(0x0a, bad.offset - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    // Everything before the bad byte is valid, so the column counts characters as an editor does.
    const prefix = new TextDecoder('utf-8').decode(bytes.subarray(lineStart, bad.offset)).replace(/^\uFEFF/, '');
    return {
      ok: false,
      offset: bad.offset,
      line,
      col: prefix.length + 1,
      byte: bytes[bad.offset]!,
      reason: bad.reason,
    };
  }
}

/** Where the first ill-formed sequence starts (Unicode 15, table 3-7), and why it is ill-formed. */
export function firstInvalidSequence(bytes: Uint8Array): { offset: number; reason: string } {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else if (b >= 0x80 && b <= 0xbf)
      return { offset: i, reason: `byte ${hex(b)} is a continuation byte with no lead byte before it` };
    else return { offset: i, reason: `byte ${hex(b)} never occurs in UTF-8` };
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      const [min, max] = k === 1 ? [lo, hi] : [0x80, 0xbf];
      if (c === undefined)
        return {
          offset: i,
          reason: `byte ${hex(b)} starts a ${need + 1}-byte sequence cut off by the end of the file`,
        };
      if (c < min || c > max)
        return { offset: i, reason: `byte ${hex(b)} starts a ${need + 1}-byte sequence but is followed by ${hex(c)}` };
    }
    i += need + 1;
  }
  return { offset: bytes.length, reason: 'unexpected end of file' };
}
