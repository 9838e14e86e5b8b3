import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

// Kibana only applies a file it fully accepts; these checks stand in for an import into a real Kibana,
// which this environment does not have. Shapes follow Kibana 8.9+ exports (formBased Lens, prefixed panel refs).

const FILE = new URL('../../kibana/saved-objects.ndjson', import.meta.url);
const raw = readFileSync(FILE, 'utf8');

/** Data streams Filebeat writes (filebeat/ config). */
const DATA_STREAMS = ['logs-odoo.app-default', 'logs-patroni.log-default', 'logs-postgresql.log-default'];
const COMMON_FIELDS = [
  '@timestamp',
  'log.level',
  'log.logger',
  'host.name',
  'process.pid',
  'message',
  'error.stack_trace',
];
const FIELDS_BY_STREAM: Record<string, string[]> = {
  'logs-odoo.app-default': [
    ...COMMON_FIELDS,
    'odoo.db',
    'source.ip',
    'http.request.method',
    'url.original',
    'http.response.status_code',
    'odoo.perf.query_count',
    'odoo.perf.query_time',
    'odoo.perf.remaining_time',
    'odoo.event',
  ],
  'logs-patroni.log-default': [...COMMON_FIELDS, 'patroni.event', 'patroni.member'],
  'logs-postgresql.log-default': COMMON_FIELDS,
};
const ODOO_EVENTS = [
  'worker_timeout',
  'worker_cpu_limit',
  'worker_memory_limit',
  'serialization_retry',
  'readonly_transaction',
  'login_failed',
  'cron_started',
];
const PATRONI_EVENTS = ['promoted', 'demoted', 'following', 'rewind', 'dcs_error', 'paused'];
const GRID_COLUMNS = 48;

// ---- schemas ---------------------------------------------------------------------------------

const TYPES = ['index-pattern', 'search', 'lens', 'dashboard'] as const;
type SoType = (typeof TYPES)[number];

/** A string attribute that must itself contain JSON matching `schema`. */
const jsonString = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `not JSON: ${(e as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(schema);

const reference = z.strictObject({ id: z.string().min(1), name: z.string().min(1), type: z.enum(TYPES) });
const envelope = {
  id: z.string().regex(/^[a-z0-9-]+$/),
  references: z.array(reference),
  coreMigrationVersion: z.literal('8.8.0'),
  typeMigrationVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
  managed: z.literal(false),
};
const kuery = z.strictObject({ query: z.string(), language: z.literal('kuery') });

const runtimeField = z.strictObject({
  type: z.enum(['keyword', 'long', 'double', 'date', 'boolean', 'ip']),
  script: z.strictObject({ source: z.string().min(1) }),
});
const indexPattern = z.strictObject({
  ...envelope,
  type: z.literal('index-pattern'),
  attributes: z.strictObject({
    title: z.string().min(1),
    name: z.string().min(1),
    timeFieldName: z.literal('@timestamp'),
    allowNoIndex: z.boolean().optional(),
    fields: jsonString(z.array(z.unknown())),
    fieldAttrs: jsonString(z.record(z.string(), z.unknown())),
    fieldFormatMap: jsonString(z.record(z.string(), z.unknown())),
    runtimeFieldMap: jsonString(z.record(z.string(), runtimeField)),
    sourceFilters: jsonString(z.array(z.unknown())),
    typeMeta: jsonString(z.record(z.string(), z.unknown())),
  }),
});

const searchSource = z.strictObject({ query: kuery, filter: z.array(z.unknown()), indexRefName: z.string() });
const search = z.strictObject({
  ...envelope,
  type: z.literal('search'),
  attributes: z.strictObject({
    title: z.string().min(1),
    description: z.string(),
    columns: z.array(z.string()).min(1),
    sort: z.array(z.tuple([z.string(), z.enum(['asc', 'desc'])])),
    grid: z.record(z.string(), z.unknown()),
    hideChart: z.boolean(),
    isTextBasedQuery: z.literal(false),
    timeRestore: z.boolean(),
    kibanaSavedObjectMeta: z.strictObject({ searchSourceJSON: jsonString(searchSource) }),
  }),
});

const column = z.looseObject({
  label: z.string(),
  dataType: z.enum(['date', 'number', 'string']),
  operationType: z.enum(['date_histogram', 'count', 'terms', 'max', 'sum', 'average', 'percentile']),
  isBucketed: z.boolean(),
  sourceField: z.string(),
  params: z.looseObject({ secondaryFields: z.array(z.string()).optional() }).optional(),
});
const lensLayer = z.looseObject({ columnOrder: z.array(z.string()), columns: z.record(z.string(), column) });
const xyLayer = z.looseObject({
  layerId: z.string(),
  layerType: z.literal('data'),
  seriesType: z.string(),
  xAccessor: z.string().optional(),
  splitAccessor: z.string().optional(),
  accessors: z.array(z.string()).min(1),
});
const lens = z.strictObject({
  ...envelope,
  type: z.literal('lens'),
  attributes: z.strictObject({
    title: z.string().min(1),
    description: z.string().optional(),
    visualizationType: z.literal('lnsXY'),
    state: z.strictObject({
      datasourceStates: z.strictObject({ formBased: z.strictObject({ layers: z.record(z.string(), lensLayer) }) }),
      visualization: z.looseObject({ preferredSeriesType: z.string(), layers: z.array(xyLayer).min(1) }),
      query: kuery,
      filters: z.array(z.unknown()),
      adHocDataViews: z.record(z.string(), z.unknown()).optional(),
      internalReferences: z.array(z.unknown()).optional(),
    }),
  }),
});

const panel = z.strictObject({
  type: z.enum(['lens', 'search']),
  gridData: z.strictObject({
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    w: z.number().int().min(1),
    h: z.number().int().min(1),
    i: z.string(),
  }),
  panelIndex: z.string().min(1),
  embeddableConfig: z.record(z.string(), z.unknown()),
  panelRefName: z.string(),
});
const dashboard = z.strictObject({
  ...envelope,
  type: z.literal('dashboard'),
  attributes: z.strictObject({
    title: z.string().min(1),
    description: z.string(),
    timeRestore: z.boolean(),
    timeFrom: z.string().optional(),
    timeTo: z.string().optional(),
    refreshInterval: z.strictObject({ pause: z.boolean(), value: z.number() }).optional(),
    optionsJSON: jsonString(z.looseObject({ useMargins: z.boolean(), hidePanelTitles: z.boolean() })),
    panelsJSON: jsonString(z.array(panel).min(1)),
    kibanaSavedObjectMeta: z.strictObject({
      searchSourceJSON: jsonString(z.strictObject({ query: kuery, filter: z.array(z.unknown()) })),
    }),
  }),
});

const savedObject = z.discriminatedUnion('type', [indexPattern, search, lens, dashboard]);
type SavedObject = z.output<typeof savedObject>;
const exportDetails = z.looseObject({
  exportedCount: z.number(),
  missingRefCount: z.literal(0),
  missingReferences: z.array(z.unknown()).length(0),
});

// ---- parsing -----------------------------------------------------------------------------------

const lines = raw.split('\n');
const objects: SavedObject[] = [];
const lineErrors: string[] = [];
lines.forEach((line, i) => {
  if (line === '' && i === lines.length - 1) return;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    lineErrors.push(`line ${i + 1}: not JSON: ${(e as Error).message}`);
    return;
  }
  if (typeof json === 'object' && json !== null && 'exportedCount' in json) {
    if (i !== lines.length - 2) lineErrors.push(`line ${i + 1}: export details must be the last line`);
    const d = exportDetails.safeParse(json);
    if (!d.success) lineErrors.push(`line ${i + 1}: ${z.prettifyError(d.error)}`);
    return;
  }
  const r = savedObject.safeParse(json);
  if (!r.success) lineErrors.push(`line ${i + 1}: ${z.prettifyError(r.error)}`);
  else objects.push(r.data);
});

const byKey = new Map(objects.map((o) => [`${o.type}/${o.id}`, o]));
const ofType = <T extends SoType>(t: T) => objects.filter((o): o is Extract<SavedObject, { type: T }> => o.type === t);
const dataViewTitle = (id: string): string => {
  const dv = byKey.get(`index-pattern/${id}`);
  assert.ok(dv && dv.type === 'index-pattern', `no data view ${id}`);
  return dv.attributes.title;
};

function refByName(o: SavedObject, name: string, type: SoType): { id: string; type: SoType } {
  const matches = o.references.filter((r) => r.name === name);
  assert.equal(matches.length, 1, `${o.type}/${o.id}: expected exactly one reference named "${name}"`);
  const ref = matches[0]!;
  assert.equal(ref.type, type, `${o.type}/${o.id}: reference "${name}" should be a ${type}`);
  assert.ok(
    byKey.has(`${ref.type}/${ref.id}`),
    `${o.type}/${o.id}: reference "${name}" points at missing ${ref.type}/${ref.id}`,
  );
  return ref;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(name);
}

/** Streams a data view covers, and the fields (incl. its runtime fields) queries on it may use. */
function fieldsForDataView(id: string): Set<string> {
  const dv = byKey.get(`index-pattern/${id}`);
  assert.ok(dv && dv.type === 'index-pattern');
  const fields = new Set<string>(Object.keys(dv.attributes.runtimeFieldMap));
  for (const s of DATA_STREAMS.filter((s) => globMatch(dv.attributes.title, s)))
    for (const f of FIELDS_BY_STREAM[s]!) fields.add(f);
  return fields;
}

/** Field names a KQL query filters on, and the literal values it compares `*.event` fields with. */
function kqlFields(q: string): { fields: string[]; events: Map<string, string[]> } {
  const fields = [...q.matchAll(/([A-Za-z@_][\w.@]*)\s*(?::|>=|<=|>|<)/g)].map((m) => m[1]!);
  const events = new Map<string, string[]>();
  for (const m of q.matchAll(/(\w+\.event)\s*:\s*(?:\(([^)]*)\)|(\w+))/g)) {
    const vals = (m[2] ?? m[3]!).split(/\s+or\s+/i).map((v) => v.trim());
    events.set(m[1]!, vals);
  }
  return { fields, events };
}

function checkQuery(where: string, dvId: string, q: string): void {
  const allowed = fieldsForDataView(dvId);
  const { fields, events } = kqlFields(q);
  for (const f of fields) assert.ok(allowed.has(f), `${where}: query field ${f} is not in ${dataViewTitle(dvId)}`);
  for (const [field, vals] of events) {
    const known = field === 'odoo.event' ? ODOO_EVENTS : field === 'patroni.event' ? PATRONI_EVENTS : [];
    for (const v of vals) assert.ok(known.includes(v), `${where}: ${field} value "${v}" is not one the pipelines emit`);
  }
}

// ---- tests -------------------------------------------------------------------------------------

test('every line is JSON and matches the saved-object envelope for its type', () => {
  assert.deepEqual(lineErrors, []);
  assert.ok(raw.endsWith('\n'), 'file should end with a newline');
  assert.ok(objects.length >= 10);
});

test('ids are unique (across types too, so a bare id is never ambiguous)', () => {
  const ids = objects.map((o) => o.id);
  assert.deepEqual(
    ids.filter((id, i) => ids.indexOf(id) !== i),
    [],
  );
});

test('every reference resolves to an object in the file with the right type, and none is unused', () => {
  for (const o of objects) {
    const names = o.references.map((r) => r.name);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
      `${o.id}: duplicate reference names`,
    );
    for (const r of o.references)
      assert.ok(byKey.has(`${r.type}/${r.id}`), `${o.type}/${o.id} -> missing ${r.type}/${r.id}`);
  }
  // The used-name checks per type below then account for each reference.
  const used = new Set<string>();
  for (const o of ofType('search'))
    used.add(`${o.id}#${o.attributes.kibanaSavedObjectMeta.searchSourceJSON.indexRefName}`);
  for (const o of ofType('lens'))
    for (const l of Object.keys(o.attributes.state.datasourceStates.formBased.layers))
      used.add(`${o.id}#indexpattern-datasource-layer-${l}`);
  for (const o of ofType('dashboard'))
    for (const p of o.attributes.panelsJSON) used.add(`${o.id}#${p.panelIndex}:${p.panelRefName}`);
  for (const o of objects)
    for (const r of o.references)
      assert.ok(used.has(`${o.id}#${r.name}`), `${o.type}/${o.id}: reference "${r.name}" is not used`);
});

test('data views cover exactly the Filebeat data streams', () => {
  const views = ofType('index-pattern');
  assert.deepEqual(views.map((v) => v.attributes.title).sort(), [
    'logs-odoo.app-*',
    'logs-patroni.log-*',
    'logs-postgresql.log-*',
  ]);
  for (const stream of DATA_STREAMS) {
    const covering = views.filter((v) => globMatch(v.attributes.title, stream));
    assert.equal(covering.length, 1, `${stream} is covered by ${covering.length} data views`);
  }
  for (const v of views) assert.equal(v.references.length, 0);
});

test('runtime fields only build on fields the data view has', () => {
  for (const v of ofType('index-pattern')) {
    const base = fieldsForDataView(v.id);
    for (const [name, rf] of Object.entries(v.attributes.runtimeFieldMap)) {
      assert.ok(
        !DATA_STREAMS.some((s) => FIELDS_BY_STREAM[s]!.includes(name)),
        `${name} would shadow an indexed field`,
      );
      for (const m of rf.script.source.matchAll(/doc\['([^']+)'\]/g))
        assert.ok(base.has(m[1]!), `${name} reads unknown ${m[1]}`);
      // Unguarded doc['x'] throws on documents without the field and fails the whole search.
      assert.match(rf.script.source, /containsKey/);
    }
  }
});

test('saved searches: indexRefName resolves to a data view; columns and KQL use known fields', () => {
  for (const s of ofType('search')) {
    const src = s.attributes.kibanaSavedObjectMeta.searchSourceJSON;
    assert.equal(src.indexRefName, 'kibanaSavedObjectMeta.searchSourceJSON.index');
    const ref = refByName(s, src.indexRefName, 'index-pattern');
    const allowed = fieldsForDataView(ref.id);
    for (const c of s.attributes.columns)
      assert.ok(allowed.has(c), `${s.id}: column ${c} not in ${dataViewTitle(ref.id)}`);
    for (const [f] of s.attributes.sort) assert.ok(allowed.has(f), `${s.id}: sort field ${f}`);
    checkQuery(`search/${s.id}`, ref.id, src.query.query);
  }
});

test('the required saved searches exist on the right data views', () => {
  const want: [RegExp, string][] = [
    [/^Odoo errors$/, 'logs-odoo.app-*'],
    [/worker limit/i, 'logs-odoo.app-*'],
    [/failover/i, 'logs-patroni.log-*'],
    [/slow requests/i, 'logs-odoo.app-*'],
    [/login failures/i, 'logs-odoo.app-*'],
  ];
  for (const [title, dv] of want) {
    const s = ofType('search').find((x) => title.test(x.attributes.title));
    assert.ok(s, `no saved search titled ${title}`);
    assert.equal(dataViewTitle(refByName(s, 'kibanaSavedObjectMeta.searchSourceJSON.index', 'index-pattern').id), dv);
  }
});

test('Lens: each datasource layer has its indexpattern-datasource-layer-<layerId> reference; accessors exist', () => {
  for (const l of ofType('lens')) {
    const layers = l.attributes.state.datasourceStates.formBased.layers;
    const dvIds = new Set<string>();
    for (const [layerId, layer] of Object.entries(layers)) {
      const ref = refByName(l, `indexpattern-datasource-layer-${layerId}`, 'index-pattern');
      dvIds.add(ref.id);
      assert.deepEqual(
        [...layer.columnOrder].sort(),
        Object.keys(layer.columns).sort(),
        `${l.id}/${layerId}: columnOrder vs columns`,
      );
      const allowed = fieldsForDataView(ref.id);
      for (const [cid, col] of Object.entries(layer.columns)) {
        if (col.operationType === 'count') assert.equal(col.sourceField, '___records___');
        else assert.ok(allowed.has(col.sourceField), `${l.id}/${cid}: field ${col.sourceField}`);
        for (const f of col.params?.secondaryFields ?? [])
          assert.ok(allowed.has(f), `${l.id}/${cid}: secondary field ${f}`);
        const orderBy = (col.params as { orderBy?: { type: string; columnId?: string } } | undefined)?.orderBy;
        if (orderBy?.type === 'column')
          assert.ok(orderBy.columnId! in layer.columns, `${l.id}/${cid}: orderBy ${orderBy.columnId}`);
      }
    }
    for (const vl of l.attributes.state.visualization.layers) {
      const layer = layers[vl.layerId];
      assert.ok(layer, `${l.id}: visualization layer ${vl.layerId} has no datasource layer`);
      for (const a of [vl.xAccessor, vl.splitAccessor, ...vl.accessors].filter((x): x is string => x !== undefined)) {
        assert.ok(a in layer.columns, `${l.id}: accessor ${a} is not a column of ${vl.layerId}`);
      }
      if (vl.xAccessor !== undefined) assert.equal(layer.columns[vl.xAccessor]!.isBucketed, true);
      for (const a of vl.accessors)
        assert.equal(layer.columns[a]!.isBucketed, false, `${l.id}: metric ${a} must not be bucketed`);
    }
    assert.equal(dvIds.size, 1, `${l.id}: one query applies to all layers, so they should share a data view`);
    checkQuery(`lens/${l.id}`, [...dvIds][0]!, l.attributes.state.query.query);
  }
});

test('dashboard "Odoo HA": panel refs named <panelIndex>:panel_<panelIndex>, 48-column grid, no overlaps', () => {
  const dashes = ofType('dashboard');
  assert.deepEqual(
    dashes.map((d) => d.attributes.title),
    ['Odoo HA'],
  );
  const d = dashes[0]!;
  const panels = d.attributes.panelsJSON;
  const indexes = panels.map((p) => p.panelIndex);
  assert.deepEqual(
    indexes.filter((x, i) => indexes.indexOf(x) !== i),
    [],
    'panelIndex must be unique',
  );
  for (const p of panels) {
    assert.equal(p.panelRefName, `panel_${p.panelIndex}`);
    assert.equal(p.gridData.i, p.panelIndex);
    refByName(d, `${p.panelIndex}:${p.panelRefName}`, p.type);
    assert.ok(p.gridData.x + p.gridData.w <= GRID_COLUMNS, `${p.panelIndex} overflows the ${GRID_COLUMNS}-column grid`);
  }
  for (let i = 0; i < panels.length; i++) {
    for (let j = i + 1; j < panels.length; j++) {
      const a = panels[i]!.gridData;
      const b = panels[j]!.gridData;
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.equal(overlap, false, `panels ${a.i} and ${b.i} overlap`);
    }
  }
  if (d.attributes.timeRestore)
    assert.ok(d.attributes.timeFrom && d.attributes.timeTo, 'timeRestore needs timeFrom/timeTo');
});

test('dashboard shows errors by host and db, worker limits, slow requests and the failover timeline', () => {
  const d = ofType('dashboard')[0]!;
  const lensOnDash = d.attributes.panelsJSON
    .filter((p) => p.type === 'lens')
    .map((p) => byKey.get(`lens/${refByName(d, `${p.panelIndex}:${p.panelRefName}`, 'lens').id}`))
    .filter((o): o is Extract<SavedObject, { type: 'lens' }> => o?.type === 'lens');

  const splitFields = (l: Extract<SavedObject, { type: 'lens' }>): string[] => {
    const vl = l.attributes.state.visualization.layers[0]!;
    const col = l.attributes.state.datasourceStates.formBased.layers[vl.layerId]!.columns[vl.splitAccessor ?? '']!;
    return [col.sourceField, ...(col.params?.secondaryFields ?? [])];
  };
  const find = (title: RegExp) => {
    const l = lensOnDash.find((x) => title.test(x.attributes.title));
    assert.ok(l, `no Lens panel titled ${title} on the dashboard`);
    return l;
  };
  const errors = find(/errors over time/i);
  assert.deepEqual(splitFields(errors), ['host.name', 'odoo.db']);
  assert.match(errors.attributes.state.query.query, /log\.level/);
  assert.match(find(/worker limit/i).attributes.state.query.query, /worker_timeout/);
  assert.match(find(/slow requests/i).attributes.state.query.query, /odoo\.perf\./);
  const failover = find(/failover timeline/i);
  assert.equal(
    dataViewTitle(refByName(failover, 'indexpattern-datasource-layer-layer1', 'index-pattern').id),
    'logs-patroni.log-*',
  );
  assert.match(failover.attributes.state.query.query, /promoted/);
  // Every time series shares the date histogram x axis so the panels line up under the same time picker.
  for (const l of lensOnDash) {
    const vl = l.attributes.state.visualization.layers[0]!;
    const x = l.attributes.state.datasourceStates.formBased.layers[vl.layerId]!.columns[vl.xAccessor ?? '']!;
    assert.equal(x.operationType, 'date_histogram');
    assert.equal(x.sourceField, '@timestamp');
  }
});

test('migration versions match the shapes used (Kibana >= 8.9 can import without guessing)', () => {
  const expected: Record<SoType, string> = {
    'index-pattern': '8.0.0',
    search: '8.0.0',
    lens: '8.9.0',
    dashboard: '8.9.0',
  };
  for (const o of objects) assert.equal(o.typeMigrationVersion, expected[o.type], `${o.type}/${o.id}`);
});
