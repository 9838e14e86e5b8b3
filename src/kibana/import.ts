import { readFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { basename } from 'node:path';
import axios, { type AxiosRequestConfig } from 'axios';
import { z } from 'zod';

export type KibanaAuth = { username: string; password: string } | { apiKey: string };

export interface ImportOptions {
  /** Kibana base URL, e.g. `http://kibana:5601` (a base path such as `/kibana` is kept). */
  url: string;
  /** NDJSON file in Kibana's export format. */
  file: string;
  /** Kibana space id; omitted means the default space. */
  space?: string;
  /** Replace objects that already exist with the same id (makes re-running setup idempotent). */
  overwrite?: boolean;
  auth?: KibanaAuth;
  /** Whole-request deadline; default 30 s. */
  timeoutMs?: number;
  /** PEM bundle to trust for an https Kibana with a private CA. */
  caFile?: string;
}

export interface ImportObjectError {
  id: string;
  type: string;
  title: string | undefined;
  /** Kibana's error type: `conflict`, `ambiguous_conflict`, `missing_references`, `unsupported_type`, `unknown`, … */
  errorType: string;
  /** For `missing_references`: what the object points at that Kibana could not find. */
  missingReferences: { type: string; id: string }[];
}

export interface ImportSuccess {
  id: string;
  type: string;
  title: string | undefined;
}

export interface ImportResult {
  /** False when Kibana answered 200 but rejected some objects; callers must treat that as a failure. */
  success: boolean;
  successCount: number;
  successResults: ImportSuccess[];
  errors: ImportObjectError[];
}

export type ImportFailureKind = 'file' | 'http' | 'connection' | 'timeout' | 'bad_response' | 'options';

/** Raised when there is no usable import result at all; the message never contains credentials. */
export class KibanaImportError extends Error {
  override readonly name = 'KibanaImportError';
  constructor(
    message: string,
    readonly kind: ImportFailureKind,
    readonly status?: number,
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
// Kibana's space id rule; validating here turns a typo into a clear error instead of a 404.
const SPACE_ID = /^[a-z0-9_-]+$/;

const meta = z.object({ title: z.string().optional() }).loose().optional();
const importResponse = z
  .object({
    success: z.boolean(),
    successCount: z.number().int().nonnegative(),
    successResults: z.array(z.object({ id: z.string(), type: z.string(), meta }).loose()).optional(),
    errors: z
      .array(
        z
          .object({
            id: z.string(),
            type: z.string(),
            title: z.string().optional(),
            meta,
            error: z
              .object({
                type: z.string(),
                references: z.array(z.object({ type: z.string(), id: z.string() }).loose()).optional(),
              })
              .loose(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();

/** Upload a saved-objects NDJSON file through Kibana's `_import` API. */
export async function importSavedObjects(opts: ImportOptions): Promise<ImportResult> {
  const endpoint = importUrl(opts);
  const shownEndpoint = redactUrl(endpoint);
  const secrets = secretsOf(opts);

  let bytes: Buffer;
  try {
    bytes = await readFile(opts.file);
  } catch (err) {
    throw new KibanaImportError(
      `cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'file',
    );
  }

  const form = new FormData();
  // Kibana rejects uploads whose file name does not end in .ndjson, whatever the content.
  const name = basename(opts.file).endsWith('.ndjson') ? basename(opts.file) : `${basename(opts.file)}.ndjson`;
  form.append('file', new Blob([bytes], { type: 'application/ndjson' }), name);

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const config: AxiosRequestConfig = {
    headers: { 'kbn-xsrf': 'true', ...authHeader(opts.auth) },
    // axios' own timeout only covers socket idleness; the signal bounds the whole exchange.
    timeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
    // Kibana enforces its own savedObjects.maxImportPayloadBytes; don't fail earlier with a vaguer error.
    maxBodyLength: Infinity,
    maxRedirects: 0,
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: (data: unknown) => data,
  };
  if (opts.caFile !== undefined) {
    let ca: Buffer;
    try {
      ca = await readFile(opts.caFile);
    } catch (err) {
      throw new KibanaImportError(
        `cannot read CA file ${opts.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        'file',
      );
    }
    config.httpsAgent = new HttpsAgent({ ca });
  }

  let status: number;
  let body: string;
  try {
    const res = await axios.post<string>(endpoint.toString(), form, config);
    status = res.status;
    body = typeof res.data === 'string' ? res.data : String(res.data);
  } catch (err) {
    throw transportError(err, shownEndpoint, timeoutMs, secrets);
  }

  if (status < 200 || status >= 300) {
    const detail = scrub(kibanaMessage(body), secrets);
    throw new KibanaImportError(
      `Kibana import to ${shownEndpoint} failed: HTTP ${status}${detail ? `: ${detail}` : ''}${hintFor(status)}`,
      'http',
      status,
    );
  }

  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new KibanaImportError(
      `Kibana import to ${shownEndpoint}: HTTP ${status} with a non-JSON body`,
      'bad_response',
      status,
    );
  }
  const parsed = importResponse.safeParse(json);
  if (!parsed.success) {
    throw new KibanaImportError(
      `Kibana import to ${shownEndpoint}: unexpected response shape (${z.prettifyError(parsed.error).replace(/\n/g, ' ')})`,
      'bad_response',
      status,
    );
  }
  const r = parsed.data;
  return {
    success: r.success,
    successCount: r.successCount,
    successResults: (r.successResults ?? []).map((s) => ({ id: s.id, type: s.type, title: s.meta?.title })),
    errors: (r.errors ?? []).map((e) => ({
      id: e.id,
      type: e.type,
      title: e.title ?? e.meta?.title,
      errorType: e.error.type,
      missingReferences: (e.error.references ?? []).map((ref) => ({ type: ref.type, id: ref.id })),
    })),
  };
}

/** One line per rejected object, e.g. `dashboard odoo-ha-dashboard ("Odoo HA"): conflict`. */
export function describeImportError(e: ImportObjectError): string {
  const title = e.title !== undefined ? ` ("${e.title}")` : '';
  const refs =
    e.missingReferences.length > 0
      ? ` -> missing ${e.missingReferences.map((r) => `${r.type}/${r.id}`).join(', ')}`
      : '';
  const hint = e.errorType === 'conflict' || e.errorType === 'ambiguous_conflict' ? ' (re-run with overwrite)' : '';
  return `${e.type} ${e.id}${title}: ${e.errorType}${refs}${hint}`;
}

function importUrl(opts: ImportOptions): URL {
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    // The URL may carry user:password, so it is not echoed back.
    throw new KibanaImportError('invalid Kibana URL (expected e.g. http://kibana:5601)', 'options');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new KibanaImportError(`unsupported Kibana URL scheme ${base.protocol}`, 'options');
  }
  if (opts.space !== undefined && opts.space !== '' && opts.space !== 'default' && !SPACE_ID.test(opts.space)) {
    throw new KibanaImportError(
      `invalid space id "${opts.space}": use lowercase letters, digits, "_" and "-"`,
      'options',
    );
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  // The default space has no /s/ prefix; /s/default/ would also work but is not what operators expect to see.
  const space = opts.space !== undefined && opts.space !== '' && opts.space !== 'default' ? `/s/${opts.space}` : '';
  const url = new URL(base.toString());
  url.pathname = `${prefix}${space}/api/saved_objects/_import`;
  url.search = '';
  url.hash = '';
  if (opts.overwrite === true) url.searchParams.set('overwrite', 'true');
  return url;
}

function authHeader(auth: KibanaAuth | undefined): Record<string, string> {
  if (auth === undefined) return {};
  if ('apiKey' in auth) return { Authorization: `ApiKey ${auth.apiKey}` };
  return { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

function secretsOf(opts: ImportOptions): string[] {
  const out: string[] = [];
  if (opts.auth !== undefined) {
    if ('apiKey' in opts.auth) out.push(opts.auth.apiKey);
    else {
      out.push(opts.auth.password);
      out.push(Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64'));
    }
  }
  try {
    const u = new URL(opts.url);
    if (u.password) {
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      // axios turns URL userinfo into a Basic header, which a proxy may echo back.
      out.push(u.password, password, Buffer.from(`${user}:${password}`).toString('base64'));
    }
  } catch {
    // importUrl reports the bad URL.
  }
  return out.filter((s) => s.length > 0);
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[redacted]');
  return out;
}

function redactUrl(url: URL): string {
  const u = new URL(url.toString());
  u.username = '';
  u.password = '';
  return u.toString();
}

function kibanaMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { message?: unknown; error?: unknown };
    if (typeof j.message === 'string') return truncate(j.message);
    if (typeof j.error === 'string') return truncate(j.error);
  } catch {
    // Proxies answer with HTML; a short prefix is still useful.
  }
  return truncate(body.trim());
}

function truncate(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

function hintFor(status: number): string {
  if (status === 401) return ' (check the user/password or API key)';
  if (status === 403) return ' (the user needs the saved objects management privilege in this space)';
  if (status === 404) return ' (wrong space or URL base path?)';
  if (status === 413) return ' (file larger than savedObjects.maxImportPayloadBytes)';
  return '';
}

function transportError(err: unknown, endpoint: string, timeoutMs: number, secrets: string[]): KibanaImportError {
  const code = axios.isAxiosError(err) ? err.code : (err as { code?: string } | undefined)?.code;
  if (
    code === 'ECONNABORTED' ||
    code === 'ETIMEDOUT' ||
    code === 'ERR_CANCELED' ||
    (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'CanceledError'))
  ) {
    return new KibanaImportError(`Kibana import to ${endpoint} timed out after ${timeoutMs} ms`, 'timeout');
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'ECONNRESET' ||
    code === 'EHOSTUNREACH'
  ) {
    return new KibanaImportError(`cannot connect to Kibana at ${endpoint}: ${code}`, 'connection');
  }
  // axios error messages don't include headers, but scrub anyway in case a future version does.
  const msg = err instanceof Error ? err.message : String(err);
  return new KibanaImportError(
    `Kibana import to ${endpoint} failed: ${scrub(msg, secrets)}${code ? ` (${code})` : ''}`,
    'connection',
  );
}
