// Filebeat's `multiline` parser (type: pattern) for the settings used in filebeat.yml.
// Filebeat evaluates the pattern with Go's RE2 `regexp`; the patterns shipped are plain
// anchors, digit classes and literals, where RE2 and Oniguruma agree, so the real engine used
// by the grok tests is reused here.
import { compileOnig } from './onig.js';

export interface MultilineConfig {
  type: 'pattern';
  pattern: string;
  negate: boolean;
  match: 'after' | 'before';
  max_lines?: number;
}

export function joinLines(lines: readonly string[], cfg: MultilineConfig): string[] {
  if (cfg.type !== 'pattern' || cfg.match !== 'after') throw new Error('only type: pattern, match: after is emulated');
  const re = compileOnig(cfg.pattern);
  const maxLines = cfg.max_lines ?? 500;
  const events: string[][] = [];
  for (const line of lines) {
    const matches = re.search(line) !== null;
    // negate: true + match: after → a line that does NOT match continues the previous event.
    const continues = cfg.negate ? !matches : matches;
    const current = events.at(-1);
    if (continues && current) {
      // Beyond max_lines Filebeat drops the extra lines of the event.
      if (current.length < maxLines) current.push(line);
    } else {
      events.push([line]);
    }
  }
  return events.map((e) => e.join('\n'));
}
