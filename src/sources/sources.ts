import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createHttpProbe, type HttpProbe } from './http-probe.js';

/**
 * The clients rules read from, built once from the config and injected into every evaluation,
 * so tests can substitute any of them and rules never open connections themselves.
 */
export interface Sources {
  http: HttpProbe;
  close(): Promise<void>;
}

export function createSources(_config: Config, _logger: Logger): Sources {
  return {
    http: createHttpProbe(),
    async close() {},
  };
}
