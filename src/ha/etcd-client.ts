import { readFileSync } from 'node:fs';
import { ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import type { Config } from '../config/schema.js';

export type HaConfig = NonNullable<Config['ha']>;

/**
 * The etcd v3 client for leadership and the shared notification log: the maintained `etcd3`
 * package (gRPC, leases, transactions) rather than a hand-written consensus. Every call gets the
 * configured deadline, so an unreachable member costs one timeout, never a hang.
 */
export function createHaEtcdClient(ha: HaConfig, resolvePath: (p: string) => string = (p) => p): Etcd3 {
  const tls = ha.ca_file
    ? {
        credentials: {
          rootCertificate: readFileSync(resolvePath(ha.ca_file)),
          ...(ha.cert_file && ha.key_file
            ? { certChain: readFileSync(resolvePath(ha.cert_file)), privateKey: readFileSync(resolvePath(ha.key_file)) }
            : {}),
        },
      }
    : {};
  return new Etcd3({
    hosts: ha.endpoints,
    dialTimeout: ha.timeout,
    defaultCallOptions: () => ({ deadline: Date.now() + ha.timeout }),
    // A member that comes back must be used again within a round or two, not after gRPC's backoff
    // (up to 2 min) or the default 5 s circuit breaker: leadership decisions run every second.
    grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 2000 },
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
    },
    ...(ha.username && ha.password ? { auth: { username: ha.username, password: ha.password } } : {}),
    ...tls,
  });
}

/** Rejects after `ms`: gRPC streams (lease keepalive) do not always honour the call deadline. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: etcd did not answer within ${ms} ms`)), ms);
    }),
  ]);
}
