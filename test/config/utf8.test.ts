import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeUtf8, firstInvalidSequence } from '../../src/config/utf8.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

test('valid UTF-8 (multi-byte, 4-byte) decodes; a BOM is not text', () => {
  assert.deepEqual(decodeUtf8(new TextEncoder().encode('\uFEFFé ✓ 😀')), { ok: true, text: 'é ✓ 😀' });
});

test('the first ill-formed sequence is found at its first byte, with the reason', () => {
  assert.deepEqual(firstInvalidSequence(bytes(0x61, 0x80)), {
    offset: 1,
    reason: 'byte 0x80 is a continuation byte with no lead byte before it',
  });
  assert.deepEqual(firstInvalidSequence(bytes(0xc0, 0x80)), { offset: 0, reason: 'byte 0xC0 never occurs in UTF-8' });
  assert.equal(firstInvalidSequence(bytes(0xe0, 0x80, 0x80)).offset, 0); // overlong
  assert.equal(firstInvalidSequence(bytes(0x61, 0xed, 0xa0, 0x80)).offset, 1); // surrogate
  assert.equal(firstInvalidSequence(bytes(0xf4, 0x90, 0x80, 0x80)).offset, 0); // above U+10FFFF
  assert.deepEqual(firstInvalidSequence(bytes(0x61, 0xe2, 0x9c)), {
    offset: 1,
    reason: 'byte 0xE2 starts a 3-byte sequence cut off by the end of the file',
  });
});

test('line and column count characters before the bad byte, as an editor does', () => {
  const r = decodeUtf8(Uint8Array.from([...new TextEncoder().encode('a: 1\nb: é'), 0xe9]));
  assert.deepEqual(r, {
    ok: false,
    offset: 10,
    line: 2,
    col: 5,
    byte: 0xe9,
    reason: 'byte 0xE9 starts a 3-byte sequence cut off by the end of the file',
  });
});
