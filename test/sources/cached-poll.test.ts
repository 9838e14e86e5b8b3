import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failed, observed, type Observation } from '../../src/sources/observation.js';
import { cachedPoll } from '../../src/sources/sources.js';

describe('cachedPoll', () => {
  it('shares one poll within the ttl, polls again after it; a failed poll is not reused', async () => {
    let t = 0;
    let calls = 0;
    let fail = false;
    const poll = cachedPoll(
      2000,
      async (): Promise<Observation<number>> => {
        calls++;
        return fail ? failed('x', { kind: 'unreachable', message: 'no' }) : observed('x', calls);
      },
      () => t,
    );
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
    const poll = cachedPoll(
      2000,
      () =>
        new Promise<Observation<number>>((r) => {
          release = () => r(observed('x', 7));
        }),
    );
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

describe('cachedPoll after a cluster event (refresh)', () => {
  it('does not reuse a settled poll from before the refresh, even within the ttl; a poll in flight is still shared', async () => {
    const epoch = { value: 0 };
    let calls = 0;
    let release: (() => void) | undefined;
    const poll = cachedPoll(
      60_000,
      () => {
        calls++;
        return new Promise<Observation<number>>((r) => {
          release = () => r(observed('x', calls));
        });
      },
      () => 0,
      epoch,
    );
    const first = poll();
    epoch.value += 1; // an event while the poll is in flight: it is still shared, never stacked
    const second = poll();
    assert.equal(calls, 1);
    release?.();
    await Promise.all([first, second]);
    epoch.value += 1; // an event after it settled: the next reader polls afresh
    const third = poll();
    assert.equal(calls, 2);
    release?.();
    const o = await third;
    assert.equal(o.ok && o.value, 2);
    await poll(); // same epoch, within the ttl: shared again
    assert.equal(calls, 2);
  });
});
