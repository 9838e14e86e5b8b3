import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeImportError, importSavedObjects, KibanaImportError, type KibanaAuth } from './import.js';

/** Resolved from this module (src/kibana or dist/kibana), so the default works from any working directory. */
export const DEFAULT_FILE = fileURLToPath(new URL('../../kibana/saved-objects.ndjson', import.meta.url));

const USAGE = `Usage: kibana-import [options]

Import Kibana saved objects (data views, searches, Lens, dashboards) from an NDJSON file.

Options:
  --url <url>             Kibana base URL (env KIBANA_URL, default http://localhost:5601)
  --space <id>            Kibana space id (env KIBANA_SPACE, default: the default space)
  --file <path>           NDJSON file (default: kibana/saved-objects.ndjson in the repo)
  --overwrite             Replace objects that already exist with the same id
  --user <name>           Basic auth user (env KIBANA_USERNAME)
  --password-file <path>  File holding the basic auth password (trailing newline ignored)
  --api-key-file <path>   File holding an encoded API key (sent as "Authorization: ApiKey ...")
  --ca-file <path>        PEM CA bundle for https Kibana
  --timeout <seconds>     Request deadline (default 30)
  -h, --help              Show this help

Secrets are read from files only, so they never appear in the process list or shell history.
Exit status: 0 all objects imported, 1 Kibana rejected some objects or the request failed, 2 usage error.
`;

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };
const processOut: Out = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Out = processOut,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        space: { type: 'string' },
        file: { type: 'string' },
        overwrite: { type: 'boolean', default: false },
        user: { type: 'string' },
        'password-file': { type: 'string' },
        'api-key-file': { type: 'string' },
        'ca-file': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    out.stderr(`kibana-import: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out.stdout(USAGE);
    return 0;
  }

  const usage = (msg: string): number => {
    out.stderr(`kibana-import: ${msg}\nTry --help.\n`);
    return 2;
  };

  const user = values.user ?? env['KIBANA_USERNAME'];
  const passwordFile = values['password-file'];
  const apiKeyFile = values['api-key-file'];
  if (apiKeyFile !== undefined && (user !== undefined || passwordFile !== undefined)) {
    return usage('use either --api-key-file or --user/--password-file, not both');
  }
  if ((user === undefined) !== (passwordFile === undefined)) {
    return usage('--user and --password-file go together');
  }

  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const s = Number(values.timeout);
    if (!Number.isFinite(s) || s <= 0)
      return usage(`--timeout must be a positive number of seconds, got "${values.timeout}"`);
    timeoutMs = Math.round(s * 1000);
  }

  let auth: KibanaAuth | undefined;
  try {
    if (apiKeyFile !== undefined) auth = { apiKey: readSecret(apiKeyFile, '--api-key-file') };
    else if (user !== undefined && passwordFile !== undefined) {
      auth = { username: user, password: readSecret(passwordFile, '--password-file') };
    }
  } catch (err) {
    return usage((err as Error).message);
  }

  const url = values.url ?? env['KIBANA_URL'] ?? 'http://localhost:5601';
  const space = values.space ?? env['KIBANA_SPACE'];
  const file = values.file ?? DEFAULT_FILE;

  try {
    const result = await importSavedObjects({
      url,
      file,
      overwrite: values.overwrite,
      ...(space !== undefined && space !== '' ? { space } : {}),
      ...(auth !== undefined ? { auth } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(values['ca-file'] !== undefined ? { caFile: values['ca-file'] } : {}),
    });
    for (const s of result.successResults) {
      out.stdout(`imported ${s.type} ${s.id}${s.title !== undefined ? ` ("${s.title}")` : ''}\n`);
    }
    for (const e of result.errors) out.stderr(`error: ${describeImportError(e)}\n`);
    if (!result.success) {
      out.stderr(`kibana-import: Kibana rejected ${result.errors.length} object(s); ${result.successCount} imported\n`);
      return 1;
    }
    out.stdout(`kibana-import: ${result.successCount} object(s) imported from ${file}\n`);
    return 0;
  } catch (err) {
    if (err instanceof KibanaImportError) {
      out.stderr(`kibana-import: ${err.message}\n`);
      return err.kind === 'options' ? 2 : 1;
    }
    throw err;
  }
}

function readSecret(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // Files written by editors or `echo` end with a newline that is not part of the secret.
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new Error(`${flag} ${path} is empty`);
  return secret;
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`kibana-import: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
