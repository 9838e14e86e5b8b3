import type { Logger } from '../../log.js';
import { failed, observed, type Observation } from '../observation.js';
import { httpGetText, type Got } from '../http-get.js';
import { mergeClusterState, type MemberPoll, type PatroniClusterState } from './merge.js';
import { MalformedBody, parseCluster, parseDynamicConfig, parseHistory, parseNodeStatus } from './parse.js';

export interface PatroniClientOptions {
  members: { name: string; url: string }[];
  username?: string;
  password?: string;
  timeoutMs: number;
}

export interface PatroniSource {
  readonly members: readonly { name: string; url: string }[];
  /**
   * Polls every member's `/patroni`, `/cluster`, `/history` and `/config` in parallel and merges
   * them. Fails (unreachable) only when no member answered at all.
   */
  poll(signal?: AbortSignal): Promise<Observation<PatroniClusterState>>;
}

async function getParsed<T>(
  url: string,
  parse: (body: string) => T,
  o: PatroniClientOptions,
  signal?: AbortSignal,
): Promise<Got<T>> {
  const r = await httpGetText(url, {
    timeoutMs: o.timeoutMs,
    ...(signal ? { signal } : {}),
    ...(o.username ? { auth: { username: o.username, password: o.password ?? '' } } : {}),
  });
  if (!r.ok) return r;
  try {
    return { ok: true, value: parse(r.value) };
  } catch (e) {
    if (e instanceof MalformedBody) return { ok: false, error: { kind: 'malformed', message: e.message, target: url } };
    throw e;
  }
}

export function createPatroniSource(o: PatroniClientOptions, logger?: Logger): PatroniSource {
  const base = (u: string) => u.replace(/\/+$/, '');
  return {
    members: o.members,
    async poll(signal) {
      const at = new Date();
      const polls: MemberPoll[] = await Promise.all(
        o.members.map(async (m): Promise<MemberPoll> => {
          const [status, cluster, history, config] = await Promise.all([
            getParsed(`${base(m.url)}/patroni`, parseNodeStatus, o, signal),
            getParsed(`${base(m.url)}/cluster`, parseCluster, o, signal),
            getParsed(`${base(m.url)}/history`, parseHistory, o, signal),
            getParsed(`${base(m.url)}/config`, parseDynamicConfig, o, signal),
          ]);
          return { name: m.name, url: m.url, status, cluster, history, config };
        }),
      );
      const merged = mergeClusterState(polls, at.getTime());
      if (!merged) {
        const first = polls[0]?.status;
        const detail = polls.map((p) => `${p.name}: ${p.status.ok ? 'ok' : p.status.error.message}`).join('; ');
        logger?.debug({ detail }, 'patroni: no member answered');
        return failed(
          'patroni',
          {
            kind: first && !first.ok ? first.error.kind : 'unreachable',
            message: `no Patroni member answered (${detail})`,
          },
          at,
        );
      }
      return observed('patroni', merged, at);
    },
  };
}
