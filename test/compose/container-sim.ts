/**
 * Runs a compose service the way Docker would, without Docker: the image's files are built by replaying
 * the Dockerfile's steps into a temp dir, and container paths, service host names and the published port
 * are mapped onto that dir and loopback. Everything else (environment, command, entrypoint, working dir,
 * mounted files) is read from docker-compose.yml, the Dockerfile and a .env, so a mismatch between them
 * and the config fails here as it would in a container.
 *
 * Only the Dockerfile instructions this project uses are understood; anything else throws, so a new
 * build step cannot be silently skipped.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { parse } from 'yaml';

// ------------------------------------------------------------------ .env and compose interpolation

/** docker compose's .env syntax: KEY=VALUE, # comments, quotes ('...' literal, "..." with escapes). */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`.env: unparseable line: ${raw}`);
    let v = m[2]!;
    if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) v = v.slice(1, -1);
    else if (v.startsWith('"') && v.endsWith('"') && v.length >= 2)
      v = v
        .slice(1, -1)
        .replace(/\\n/g, '\n')
        .replace(/\\(["\\])/g, '$1');
    else v = v.replace(/\s+#.*$/, '');
    out[m[1]!] = v;
  }
  return out;
}

export class ComposeError extends Error {}

/** Compose's interpolation: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?msg}, ${VAR?msg}, ${VAR:+x}, $$. */
export function composeInterpolate(s: string, vars: Record<string, string | undefined>): string {
  return s.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, name: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (whole === '$$') return '$';
      if (bare) return vars[bare] ?? '';
      const v = vars[name!];
      const unset = op?.startsWith(':') ? v === undefined || v === '' : v === undefined;
      switch (op?.replace(':', '')) {
        case '-':
          return unset ? arg! : v!;
        case '?':
          if (unset) throw new ComposeError(`required variable ${name} is missing a value: ${arg}`);
          return v!;
        case '+':
          return unset ? '' : arg!;
        default:
          return v ?? '';
      }
    },
  );
}

// ------------------------------------------------------------------ Dockerfile

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  steps: Instruction[];
}

export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const joined = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of joined) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      stages.push({ name: f[2] ?? String(stages.length), from: f[1]!, steps: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k!] = v ?? '';
    } else stages.at(-1)?.steps.push({ op, args: rest });
  }
  return { args, stages };
}

/** The chain of stages the target is built from, base first (FROM <stage> inherits its files and ENV). */
function chain(stages: Stage[], target: string): Stage[] {
  const out: Stage[] = [];
  for (let s = stages.find((x) => x.name === target); s; s = stages.find((x) => x.name === s!.from)) out.unshift(s);
  return out;
}

const json = (s: string): string[] | undefined => (s.startsWith('[') ? (JSON.parse(s) as string[]) : undefined);

function envPairs(args: string): [string, string][] {
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]);
}

/** Packages `npm prune --omit=dev` keeps: every lockfile entry not flagged dev-only. */
export function prodPackages(lockText: string): string[] {
  const lock = JSON.parse(lockText) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith('node_modules/') && !v.dev)
    .map(([k]) => k);
}

export interface Image {
  /** Host dir standing for the container's `/`. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  user?: string;
}

/**
 * Builds `target` of the Dockerfile into `root`: the build stage's COPY/RUN steps replayed in a scratch
 * dir (`npm ci` = the checkout's installed node_modules for the same lockfile, `npm run build` = the
 * package's build script, `npm prune --omit=dev` = only the lockfile's non-dev packages kept), then the
 * target chain's COPY --from / RUN mkdir steps into `root`.
 */
export function buildImage(repo: string, dockerfile: string, target: string, root: string): Image {
  const { stages } = parseDockerfile(readFileSync(join(repo, dockerfile), 'utf8'));
  const built = new Map<string, string>(); // stage name → host dir for its `/`
  const img: Image = { root, workdir: '/', env: {}, entrypoint: [], cmd: [] };

  const buildStage = (name: string): string => {
    const done = built.get(name);
    if (done) return done;
    const dir = join(root, '..', `stage-${name}`);
    mkdirSync(dir, { recursive: true });
    built.set(name, dir);
    let wd = '/';
    const host = (p: string) => join(dir, posix.resolve(wd, p));
    for (const st of chain(stages, name)) {
      for (const { op, args } of st.steps) {
        if (op === 'WORKDIR') {
          wd = posix.resolve(wd, args);
          mkdirSync(host('.'), { recursive: true });
        } else if (op === 'COPY' && !args.startsWith('--from')) {
          const parts = args.split(/\s+/);
          const dest = parts.pop()!;
          for (const src of parts)
            cpSync(join(repo, src), dest.endsWith('/') || parts.length > 1 ? join(host(dest), src) : host(dest), {
              recursive: true,
            });
        } else if (op === 'RUN') runBuildStep(args, host('.'), repo);
        else if (!['ENV', 'USER', 'EXPOSE', 'HEALTHCHECK', 'ARG', 'ENTRYPOINT', 'CMD'].includes(op))
          throw new Error(`Dockerfile: ${op} ${args} is not understood by the simulation`);
      }
    }
    return dir;
  };

  for (const st of chain(stages, target)) {
    for (const { op, args } of st.steps) {
      const inRoot = (p: string) => join(root, posix.resolve(img.workdir, p));
      if (op === 'WORKDIR') {
        img.workdir = posix.resolve(img.workdir, args);
        mkdirSync(inRoot('.'), { recursive: true });
      } else if (op === 'ENV') for (const [k, v] of envPairs(args)) img.env[k] = v;
      else if (op === 'USER') img.user = args;
      else if (op === 'ENTRYPOINT') img.entrypoint = json(args) ?? ['/bin/sh', '-c', args];
      else if (op === 'CMD') img.cmd = json(args) ?? ['/bin/sh', '-c', args];
      else if (op === 'COPY') {
        const m = /^--from=(\S+)\s+(\S+)\s+(\S+)$/.exec(args);
        if (!m) throw new Error(`Dockerfile: runtime COPY without --from (${args}): not simulated`);
        const from = buildStage(m[1]!);
        copyTree(join(from, m[2]!), inRoot(m[3]!));
      } else if (op === 'RUN') {
        // The runtime stages only create directories (and chown them, which a test cannot and need not do).
        const mk = /mkdir -p ([^&]+)/.exec(args);
        if (mk) for (const d of mk[1]!.trim().split(/\s+/)) mkdirSync(inRoot(d), { recursive: true });
        if (!mk && !/apt-get/.test(args))
          throw new Error(`Dockerfile: RUN ${args} is not understood by the simulation`);
      } else if (!['EXPOSE', 'HEALTHCHECK', 'ARG'].includes(op))
        throw new Error(`Dockerfile: ${op} ${args} is not understood by the simulation`);
    }
  }
  return img;
}

/** Hard links are fine here: nothing writes into the image's files (they are read-only in the image too). */
function copyTree(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    execFileSync('cp', ['-al', from, to]);
  } catch {
    cpSync(from, to, { recursive: true });
  }
}

function runBuildStep(cmd: string, cwd: string, repo: string): void {
  for (const part of cmd.split('&&').map((s) => s.trim())) {
    if (/^(apt-get|rm -rf \/var\/lib\/apt)/.test(part)) continue; // toolchain for node-gyp: the checkout already has the addon built
    if (/^npm ci\b/.test(part)) {
      // Same lockfile, already installed in the checkout: link it instead of downloading it again.
      symlinkSync(join(repo, 'node_modules'), join(cwd, 'node_modules'), 'dir');
    } else if (/^npm run build\b/.test(part)) {
      const script = (
        JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
      ).scripts['build']!;
      const m = /^tsc (.*)$/.exec(script);
      if (!m) throw new Error(`build script "${script}" is not simulated`);
      execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), ...m[1]!.split(/\s+/)], {
        cwd,
        stdio: 'pipe',
      });
    } else if (/^npm prune --omit=dev\b/.test(part)) {
      rmSync(join(cwd, 'node_modules'));
      // Shortest paths first: a package copied whole brings its nested node_modules along, so a nested
      // path already present is done (copying it again would nest it inside itself).
      const packages = [...new Set(prodPackages(readFileSync(join(cwd, 'package-lock.json'), 'utf8')))].sort(
        (a, b) => a.length - b.length,
      );
      for (const p of packages) {
        // optional platform packages may be absent
        if (existsSync(join(repo, p)) && !existsSync(join(cwd, p))) copyTree(join(repo, p), join(cwd, p));
      }
    } else throw new Error(`Dockerfile: RUN step "${part}" is not understood by the simulation`);
  }
}

// ------------------------------------------------------------------ the compose service as a process

export interface ServiceRun {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface MapOptions {
  /** Service host:port → loopback host:port, as the compose network's DNS would resolve them. */
  hosts: Record<string, string>;
  /** Container port → host port (the published port's target, free on the test host). */
  ports: Record<string, string>;
}

/**
 * The service's process: image ENV + compose environment (interpolated with `dotenv`), compose command
 * over the image CMD, image ENTRYPOINT and WORKDIR, bind mounts copied and named volumes created under
 * the image root. Container paths in argv and env are mapped into the root.
 */
export function serviceRun(
  repo: string,
  composeText: string,
  service: string,
  dotenv: Record<string, string>,
  img: Image,
  map: MapOptions,
): ServiceRun {
  const compose = parse(composeText) as {
    services: Record<
      string,
      {
        command?: string[];
        entrypoint?: string[];
        environment?: Record<string, string | number | boolean | null>;
        volumes?: string[];
        working_dir?: string;
      }
    >;
  };
  const svc = compose.services[service];
  if (!svc) throw new Error(`no service ${service}`);
  const interp = (s: string) => composeInterpolate(s, dotenv);
  const targets = ['/app'];
  for (const v of svc.volumes ?? []) {
    const [src, dst] = interp(v).split(':') as [string, string];
    targets.push(dst);
    const hostDst = join(img.root, dst);
    if (/^[./~]/.test(src)) {
      mkdirSync(dirname(hostDst), { recursive: true });
      rmSync(hostDst, { recursive: true, force: true });
      cpSync(join(repo, src), hostDst, { recursive: true });
    } else {
      // A fresh container on a fresh named volume (`docker compose down -v` between runs).
      rmSync(hostDst, { recursive: true, force: true });
      mkdirSync(hostDst, { recursive: true });
    }
  }
  const mapValue = (v: string): string => {
    if (map.ports[v] !== undefined) return map.ports[v]!;
    let out = v;
    for (const [from, to] of Object.entries(map.hosts)) out = out.replaceAll(`//${from}`, `//${to}`);
    if (targets.some((t) => out === t || out.startsWith(`${t}/`))) out = join(img.root, out);
    return out;
  };
  const env: Record<string, string> = {
    // What Docker itself puts in every container's environment.
    PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOSTNAME: service,
    HOME: join(img.root, 'home/node'),
  };
  for (const [k, v] of Object.entries(img.env)) env[k] = mapValue(v);
  for (const [k, v] of Object.entries(svc.environment ?? {})) env[k] = mapValue(interp(v === null ? '' : String(v)));
  const entry = svc.entrypoint ?? img.entrypoint;
  const cmd = (svc.command ?? img.cmd).map(interp);
  const argv = [...entry, ...cmd].map((a) => (a === 'node' ? process.execPath : mapValue(a)));
  return { argv, cwd: join(img.root, svc.working_dir ?? img.workdir), env };
}

export function start(run: ServiceRun): ChildProcess & { output: () => string } {
  const child = spawn(run.argv[0]!, run.argv.slice(1), {
    cwd: run.cwd,
    env: run.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}
