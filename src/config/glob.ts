import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/**
 * Expands a path whose last segment may contain `*` (e.g. `rules/*.yaml`). Node 20 has no
 * fs.glob, and rule paths never need more than a wildcard file name.
 */
export function expandPathPattern(pattern: string, baseDir: string): string[] {
  const abs = resolve(baseDir, pattern);
  const name = basename(abs);
  if (!name.includes('*')) {
    try {
      return statSync(abs).isFile() ? [abs] : [];
    } catch {
      return [];
    }
  }
  const dir = dirname(abs);
  const re = new RegExp(
    `^${name
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
  try {
    return readdirSync(dir)
      .filter((f) => re.test(f) && !f.startsWith('.'))
      .map((f) => resolve(dir, f))
      .filter((f) => statSync(f).isFile())
      .sort();
  } catch {
    return [];
  }
}
