/**
 * Message templates: `{{name}}` placeholders filled from an alert's labels and values.
 * Placeholders are checked against what the rule type provides when rules load, so a
 * typo is reported at the line it was written, not at 3 a.m. as an empty string.
 */
const PLACEHOLDER_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;

export function placeholdersOf(template: string): { name: string; raw: string }[] {
  return [...template.matchAll(PLACEHOLDER_RE)].map((m) => ({ name: m[1]!, raw: m[0] }));
}

export function renderTemplate(template: string, vars: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER_RE, (_, name: string) => formatValue(vars[name]));
}

function formatValue(v: unknown): string {
  if (v === undefined || v === null) return '?';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return String(v);
}
