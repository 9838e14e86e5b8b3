import { formatBytes } from '../sources/patroni/parse.js';
import type { StatusSnapshot } from './snapshot.js';

/**
 * The cluster in one line, for a human watching the console: leader and timeline, each replica's
 * lag, where HAProxy sends writes, app backends, etcd quorum, alerts, and any source not answering.
 * Pure: the clock is the snapshot's.
 */
export function formatStatusLine(s: StatusSnapshot): string {
  const time = new Date(s.at).toISOString().slice(11, 19);
  const parts: string[] = [s.cluster];
  const p = s.patroni;
  if (p) {
    parts.push(
      p.leader ? `leader ${p.leader}${p.leaderHealthy ? '' : ' (UNHEALTHY)'} tl ${p.timeline ?? '?'}` : 'NO LEADER',
    );
    const replicas = p.members.filter((m) => !m.isLeader);
    if (replicas.length)
      parts.push(
        `replicas ${replicas.map((m) => `${m.name} ${m.state === 'streaming' || m.state === 'running' ? formatBytes(m.lagBytes ?? m.pgLagBytes) : m.state}`).join(', ')}`,
      );
    if (p.paused) parts.push('PAUSED');
  }
  const w = s.haproxy?.write;
  if (w)
    parts.push(
      w.upServer
        ? `writes → ${w.upServer}${w.matchesLeader === false ? ' (NOT the leader)' : ''}`
        : w.up === 0
          ? 'WRITES IMPOSSIBLE'
          : `${w.up} servers UP for writes`,
    );
  for (const a of s.haproxy?.apps ?? []) parts.push(`${a.name} ${a.up}/${a.total} UP`);
  if (s.etcd) parts.push(`etcd ${s.etcd.healthy}/${s.etcd.members}${s.etcd.hasQuorum ? '' : ' QUORUM LOST'}`);
  parts.push(`alerts ${s.alerts.firing} firing${s.alerts.pending ? `, ${s.alerts.pending} pending` : ''}`);
  const down = s.sources.filter((x) => x.state === 'unreachable' || x.state === 'no data');
  if (down.length) parts.push(down.map((x) => `${x.name} ${x.state}`).join(', '));
  return `[${time}] ${parts.join(' · ')}`;
}
