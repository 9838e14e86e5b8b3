// Loads the log corpora (test/fixtures/logs/*-corpus.yaml) and the shipped pipeline JSON, and
// builds the document Filebeat would send for one multiline event.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Doc, PipelineBody } from './pipeline.js';

export const REPO_ROOT = new URL('../../../', import.meta.url);

export interface CorpusEntry {
  name: string;
  source?: string;
  /** The event exactly as Filebeat's multiline parser emits it (lines joined by "\n"). */
  raw: string;
  /** Sets event.timezone like filebeat.yml's fields do; omitted = field not sent. */
  timezone?: string;
  /** Dotted path → expected value (deep-equal). */
  expect?: Record<string, unknown>;
  /** Dotted paths that must not exist in the output. */
  absent?: string[];
  /** true when the pipeline-level on_failure handler is expected to run. */
  failure?: boolean;
  /** Generated filler: every occurrence of token in raw is replaced with text repeated times. */
  expand?: { token: string; text: string; times: number };
}

export function repoPath(rel: string): string {
  return new URL(rel, REPO_ROOT).pathname;
}

export function loadPipeline(name: string): PipelineBody {
  return JSON.parse(readFileSync(repoPath(`filebeat/ingest/${name}.json`), 'utf8')) as PipelineBody;
}

export function loadCorpus(file: string): CorpusEntry[] {
  const parsed = parse(readFileSync(repoPath(`test/fixtures/logs/${file}`), 'utf8')) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${file}: expected a YAML list`);
  const names = new Set<string>();
  return parsed.map((e: CorpusEntry, i) => {
    if (typeof e?.name !== 'string' || typeof e.raw !== 'string')
      throw new Error(`${file}[${i}]: name and raw are required`);
    if (names.has(e.name)) throw new Error(`${file}: duplicate entry name "${e.name}"`);
    names.add(e.name);
    let raw = e.raw;
    if (e.expand) raw = raw.split(e.expand.token).join(e.expand.text.repeat(e.expand.times));
    return { ...e, raw };
  });
}

/** Roughly what Filebeat ships for a filestream event before the ingest pipeline runs. */
export function filebeatEvent(entry: CorpusEntry, dataset: string, role: 'app' | 'db'): Doc {
  const doc: Doc = {
    '@timestamp': '2030-01-01T00:00:00.000Z',
    message: entry.raw,
    host: { name: role === 'app' ? 'odoo-app-1' : 'pg-1' },
    log: { file: { path: `/var/log/${dataset}.log` }, offset: 0 },
    input: { type: 'filestream' },
    data_stream: { type: 'logs', dataset, namespace: 'default' },
    event: { dataset },
    odoo_ha: { node_role: role },
  };
  if (entry.timezone !== undefined) (doc.event as Doc).timezone = entry.timezone;
  return doc;
}

export function getPath(doc: Doc, path: string): { found: boolean; value: unknown } {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !(part in cur))
      return { found: false, value: undefined };
    cur = (cur as Doc)[part];
  }
  return { found: true, value: cur };
}

/** Leaf paths of a document (arrays count as leaves). */
export function leafPaths(doc: Doc, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(...leafPaths(v as Doc, p));
    else out.push(p);
  }
  return out;
}
