import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failed, observed, type Observation } from '../../src/sources/observation.js';
import { cachedPoll } from '../../src/sources/sources.js';

describe('cachedPoll', () => {
  it('shares one poll within the ttl, polls again after it; a failed poll is not reused', async () => {
    let t = 0;
    let calls = 0;
    let fail = false;
    const poll = cachedPoll(2000, async (): Promise<Observation<number>> => { calls++; return fail ? failed('x', { kind: 'unreachable', message: 'no' }) : observed('x', calls); }, () => t);
    const [a, b] = await Promise.all([poll(), poll()]);
    assert.equal(calls, 1);
    assert.deepEqual([a.ok && a.value, b.ok && b.value], [1, 1]);
    t = 1999;
    await poll();
    assert.equal(calls, 1);
    t = 2000;
    await poll();
    assert.equal(calls, 2);
    fail = true;
    t = 5000;
    assert.equal((await poll()).ok, false);
    await poll();
    assert.equal(calls, 4);
  });

  it("a caller's abort stops its wait without cancelling the shared poll", async () => {
    let release!: () => void;
    const poll = cachedPoll(2000, () => new Promise<Observation<number>>((r) => { release = () => r(observed('x', 7)); }));
    const ac = new AbortController();
    const first = poll(ac.signal);
    const second = poll();
    ac.abort(new Error('deadline'));
    await assert.rejects(first, /deadline/);
    release();
    const o = await second;
    assert.ok(o.ok && o.value === 7);
  });
});
