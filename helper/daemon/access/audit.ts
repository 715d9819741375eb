// One line per privileged action and per refusal, key=value on stderr, which
// journald keeps under systemd. Values are quoted when they hold spaces so a
// line always parses back; a caller can never inject a line break.
export type AuditFields = Record<string, string | number | boolean | undefined>;

export function audit(action: string, fields: AuditFields): void {
  const parts = [`action=${quote(action)}`];
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) parts.push(`${key}=${quote(String(value))}`);
  }
  process.stderr.write(`nsxd audit: ${parts.join(' ')}\n`);
}

function quote(value: string): string {
  const safe = value.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return /^[\w.:/@%+,[\]-]*$/.test(safe) && safe !== '' ? safe : JSON.stringify(safe);
}
