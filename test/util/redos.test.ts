/**
 * Regexes applied to text from watched systems stay linear on 200 kB adversarial lines. Each case
 * runs in a worker with a generous budget: linear code needs milliseconds, the quadratic patterns
 * this replaced needed 6–20 s per line (and the suite must not hang when one regresses).
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { after, describe, it } from 'node:test';
import { CASES } from '../support/redos-worker.js';

const BUDGET_MS = 4000;

/** One worker for all cases (module loading is not timed); a case over budget kills it and fails. */
function startWorker(): Promise<Worker> {
  // Node 20 does not apply --import to a worker's entry module: register tsx in the worker first.
  const entry = JSON.stringify(new URL('../support/redos-worker.ts', import.meta.url).href);
  const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`, {
    eval: true,
    workerData: { redos: true },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve(worker));
    worker.once('error', reject);
  });
}

function runCase(worker: Worker, name: string): Promise<'done' | 'timeout'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      resolve('timeout');
    }, BUDGET_MS);
    const onMessage = (m: string) => {
      if (m === name) {
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve('done');
      }
    };
    worker.on('message', onMessage);
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    worker.postMessage(name);
  });
}

describe('linear time on 200 kB adversarial lines', () => {
  let worker: Worker | undefined;
  after(async () => {
    await worker?.terminate();
  });
  for (const name of Object.keys(CASES)) {
    it(name, async () => {
      worker ??= await startWorker();
      const r = await runCase(worker, name);
      if (r === 'timeout') {
        await worker.terminate();
        worker = undefined;
      }
      assert.equal(r, 'done', `${name}: not finished within ${BUDGET_MS} ms`);
    });
  }
});
