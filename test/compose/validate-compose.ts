// Engine-free docker-compose.yml checker: compose-spec JSON schema (as bundled in dclint) via ajv,
// plus the cross-reference checks the schema cannot express. Every problem is reported as
// `file:line:col message` so a failing test points straight at the offending YAML.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';

// ajv is CommonJS; under NodeNext the class sits on `.default`.
const Ajv = AjvModule.default;

let compiled: ValidateFunction | undefined;

function composeValidator(): ValidateFunction {
  if (compiled) return compiled;
  // The schema is not in dclint's package `exports`, so resolve the package and read it by path.
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('dclint/package.json');
  const schema = JSON.parse(readFileSync(join(dirname(pkg), 'schemas', 'compose.schema.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  // ajv would try to fetch the draft-07 meta-schema by this key and fail ("no schema with key or ref").
  delete schema['$schema'];
  const ajv = new Ajv({ allErrors: true, strict: false });
  compiled = ajv.compile(schema);
  return compiled;
}

export interface ComposeCheckOptions {
  /** Directory relative bind mounts and build contexts are resolved against; skips those checks when absent. */
  projectDir?: string;
}

type Path = (string | number)[];

export function validateCompose(source: string, file: string, opts: ComposeCheckOptions = {}): string[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  const problems: string[] = [];
  const at = (offset: number | undefined, msg: string): void => {
    const pos = lineCounter.linePos(offset ?? 0);
    problems.push(`${file}:${pos.line}:${pos.col} ${msg}`);
  };

  for (const e of doc.errors) {
    problems.push(
      `${file}:${e.linePos?.[0].line ?? 1}:${e.linePos?.[0].col ?? 1} ${e.code}: ${e.message.split('\n')[0]}`,
    );
  }
  if (doc.errors.length > 0) return problems;

  const data: unknown = doc.toJS();
  const validate = composeValidator();
  if (!validate(data)) {
    for (const err of validate.errors ?? []) reportSchemaError(doc, err, at);
  }

  if (!isRecord(data)) return problems;
  const services = isRecord(data['services']) ? data['services'] : {};
  const volumes = isRecord(data['volumes']) ? data['volumes'] : {};
  const keyAt = (path: Path): number | undefined => keyOffset(doc, path);

  for (const [name, svc] of Object.entries(services)) {
    if (!isRecord(svc)) continue;

    // depends_on: list form or map form; targets must be services, and service_healthy needs a healthcheck.
    const deps = svc['depends_on'];
    const depEntries: [string, unknown][] = Array.isArray(deps)
      ? deps.map((d) => [String(d), undefined])
      : isRecord(deps)
        ? Object.entries(deps)
        : [];
    depEntries.forEach(([target, cond], i) => {
      const path: Path = Array.isArray(deps)
        ? ['services', name, 'depends_on', i]
        : ['services', name, 'depends_on', target];
      const off = Array.isArray(deps) ? nodeOffset(doc, path) : keyAt(path);
      if (target === name) at(off, `services.${name}.depends_on: a service cannot depend on itself`);
      else if (!(target in services)) at(off, `services.${name}.depends_on: undefined service "${target}"`);
      else if (isRecord(cond) && cond['condition'] === 'service_healthy') {
        const t = services[target];
        if (isRecord(t) && !isRecord(t['healthcheck'])) {
          at(
            off,
            `services.${name}.depends_on.${target}: condition service_healthy but "${target}" has no healthcheck`,
          );
        }
      }
    });

    // volumes: named volumes must be declared; literal repo-relative bind sources must exist.
    const mounts = Array.isArray(svc['volumes']) ? svc['volumes'] : [];
    mounts.forEach((m, i) => {
      const path: Path = ['services', name, 'volumes', i];
      const off = nodeOffset(doc, path);
      const mount = parseMount(m);
      if (!mount) return;
      if (mount.kind === 'volume') {
        if (!(mount.source in volumes))
          at(off, `services.${name}.volumes: named volume "${mount.source}" is not declared under top-level volumes`);
        return;
      }
      // Sources built from ${VARS} point at host paths chosen in .env, not at files in this repo.
      if (opts.projectDir === undefined || mount.source.includes('$') || isAbsolute(mount.source)) return;
      if (!mount.source.startsWith('.')) return;
      if (!existsSync(resolve(opts.projectDir, mount.source))) {
        at(off, `services.${name}.volumes: bind source "${mount.source}" does not exist in ${opts.projectDir}`);
      }
    });

    // build: the context must contain the Dockerfile, and a named target must be a stage in it.
    const build = svc['build'];
    if (opts.projectDir !== undefined && build !== undefined) {
      const context =
        typeof build === 'string'
          ? build
          : isRecord(build) && typeof build['context'] === 'string'
            ? build['context']
            : '.';
      const dockerfile =
        isRecord(build) && typeof build['dockerfile'] === 'string' ? build['dockerfile'] : 'Dockerfile';
      const target = isRecord(build) && typeof build['target'] === 'string' ? build['target'] : undefined;
      const off = keyAt(['services', name, 'build']);
      const dfPath = resolve(opts.projectDir, context, dockerfile);
      if (!existsSync(dfPath) || !statSync(dfPath).isFile()) {
        at(off, `services.${name}.build: ${dockerfile} not found in context "${context}"`);
      } else if (target !== undefined && !dockerfileStages(readFileSync(dfPath, 'utf8')).includes(target)) {
        at(off, `services.${name}.build.target: no stage "${target}" in ${dockerfile}`);
      }
    }
  }

  checkInterpolation(doc, at);
  return problems;
}

/** `FROM image AS name` stage names, lower-cased as Docker treats them. */
export function dockerfileStages(dockerfile: string): string[] {
  const out: string[] = [];
  for (const m of dockerfile.matchAll(/^\s*FROM\s+(?:--\S+\s+)*\S+\s+AS\s+(\S+)\s*$/gim)) out.push(m[1]!.toLowerCase());
  return out;
}

/** Variables the file interpolates, e.g. `ELASTIC_PASSWORD` from `${ELASTIC_PASSWORD:?…}`; `$$` escapes are skipped. */
export function interpolatedVariables(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
    if (m[1] === '$') continue;
    const name = m[2] ?? m[3];
    if (name !== undefined) names.add(name);
  }
  return names;
}

// Compose rejects a `$` that starts neither `$$`, `${NAME…}` nor `$NAME` ("invalid interpolation format");
// the usual culprit is shell like `$(cmd)` or `$@` inside a command that should have been written `$$(cmd)`.
// Only values are interpolated, so YAML comments are skipped but shell comments inside a command are not.
function checkInterpolation(doc: Document, report: (offset: number | undefined, msg: string) => void): void {
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string') return;
      const text = node.value;
      for (let i = 0; i < text.length; i++) {
        if (text[i] !== '$') continue;
        const next = text[i + 1];
        if (next === '$') {
          i++;
          continue;
        }
        if (next === '{' && /^\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+])[^}]*)?\}/.test(text.slice(i + 1))) continue;
        if (next !== undefined && /[A-Za-z_]/.test(next)) continue;
        report(node.range?.[0], `invalid interpolation "${text.slice(i, i + 4)}…": write $$ for a literal dollar`);
      }
    },
  });
}

type Mount = { kind: 'bind' | 'volume'; source: string };

function parseMount(m: unknown): Mount | undefined {
  if (typeof m === 'string') {
    const parts = m.split(':');
    if (parts.length < 2) return undefined; // anonymous volume
    // Windows drive letters don't occur in this repo; `${VAR:-./x}:/y` is split carefully below.
    const source = m.startsWith('${') ? m.slice(0, m.indexOf('}') + 1) : parts[0]!;
    const bind = /^[.~/$]/.test(source);
    return { kind: bind ? 'bind' : 'volume', source };
  }
  if (isRecord(m) && typeof m['source'] === 'string') {
    if (m['type'] === 'volume') return { kind: 'volume', source: m['source'] };
    if (m['type'] === 'bind') return { kind: 'bind', source: m['source'] };
  }
  return undefined;
}

function reportSchemaError(
  doc: Document,
  err: ErrorObject,
  at: (offset: number | undefined, msg: string) => void,
): void {
  const path = pointerToPath(err.instancePath);
  const where = err.instancePath === '' ? '(root)' : err.instancePath;
  if (err.keyword === 'additionalProperties') {
    const prop = String((err.params as { additionalProperty: string }).additionalProperty);
    at(
      keyOffset(doc, [...path, prop]) ?? nodeOffset(doc, path),
      `${where} must NOT have additional property "${prop}"`,
    );
    return;
  }
  at(nodeOffset(doc, path), `${where} ${err.message ?? err.keyword}`);
}

function pointerToPath(pointer: string): Path {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Offset of the value at `path`, or of the nearest ancestor that exists. */
function nodeOffset(doc: Document, path: Path): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object' && 'range' in node && Array.isArray(node.range))
      return node.range[0] as number;
  }
  return undefined;
}

/** Offset of the mapping key that ends `path` (for "unknown key" errors the key is the interesting part). */
function keyOffset(doc: Document, path: Path): number | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && String(pair.key.value) === String(last)) return pair.key.range?.[0];
    }
  }
  if (isSeq(parent) && typeof last === 'number') return nodeOffset(doc, path);
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
