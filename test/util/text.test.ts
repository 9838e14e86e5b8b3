import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeControl, truncate } from '../../src/util/text.js';

const hasLoneSurrogate = (s: string) => /\p{Surrogate}/u.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));

describe('truncate', () => {
  it('returns short text unchanged', () => {
    assert.equal(truncate('abc', 3), 'abc');
    assert.equal(truncate('', 0), '');
  });

  it('cuts to max including the ellipsis', () => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('abcdef', 4, '...'), 'a...');
    assert.equal(truncate('abcdef', 1), '…');
    assert.equal(truncate('abcdef', 0), '');
    assert.equal(truncate('abcdef', 2, '...'), '..');
  });

  it('never splits a surrogate pair, at every cut position', () => {
    const text = 'ab😀c😀😀d🇫🇷e'.repeat(3);
    for (let max = 0; max <= text.length + 1; max++) {
      const out = truncate(text, max);
      assert.ok(out.length <= max, `max=${max} got ${out.length}`);
      assert.equal(hasLoneSurrogate(out), false, `max=${max} left a lone surrogate: ${JSON.stringify(out)}`);
    }
  });

  it('keeps graphemes whole (flag, skin tone, combining accent)', () => {
    assert.equal(truncate('x🇫🇷y', 4), 'x…'); // cutting inside the flag would leave half a flag
    assert.equal(truncate('x👍🏽yy', 5), 'x…');
    assert.equal(truncate('xe\u0301yy', 3), 'x…');
    assert.equal(truncate('xe\u0301yy', 4), 'xe\u0301…');
  });

  it('falls back to code points when one grapheme exceeds the budget', () => {
    const zalgo = `a${'\u0301'.repeat(50)}`;
    const out = truncate(zalgo, 10);
    assert.equal(out.length, 10);
    assert.ok(out.startsWith('a\u0301'));
    const emoji = '😀😀😀';
    assert.equal(truncate(emoji, 2), '…'); // one code unit of budget cannot hold half an emoji
  });

  it('is cheap on a 200 kB line', () => {
    const line = '😀'.repeat(100_000);
    const out = truncate(line, 300);
    assert.equal(out.length, 299);
    assert.equal(hasLoneSurrogate(out), false);
  });
});

describe('escapeControl', () => {
  it('escapes C0/C1 controls but keeps \\n and \\t', () => {
    assert.equal(escapeControl('a\x1b[31mred\x07\r\n\tz\0'), 'a\\x1b[31mred\\x07\\r\n\tz\\0');
    assert.equal(escapeControl('del\x7f c1\x9b'), 'del\\x7f c1\\x9b');
  });

  it('leaves ordinary text and emoji alone', () => {
    assert.equal(escapeControl('ERROR café 😀 ok'), 'ERROR café 😀 ok');
  });
});
