/**
 * How an approval is shown to a human (Slack, e-mail, webhook, API): the exact params in one
 * canonical order, never silently cut, and the agent's free text made inert (F11).
 */

/** Keys shown first, in this order, when present (an http request's method and path lead). */
const LEADING_KEYS = ['method', 'path', 'user_id', 'user_name', 'bucket'] as const;

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortDeep(o[k])]),
    );
  }
  return v;
}

/**
 * The params in canonical order: `method`, `path` (and the other target keys) first, then every
 * other key sorted, recursively. The values are the exact ones the approval binds (same binding hash).
 *
 * @example
 * canonicalParams({ body: 'x', path: '/v1/users/1', method: 'DELETE' }) // { method, path, body }
 */
export function canonicalParams(params: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(params);
  const lead = LEADING_KEYS.filter((k) => keys.includes(k));
  const rest = keys.filter((k) => !(LEADING_KEYS as readonly string[]).includes(k)).sort();
  return Object.fromEntries([...lead, ...rest].map((k) => [k, sortDeep(params[k])]));
}

/** One-line summary of the target: `DELETE /v1/users/123` for http, the user/bucket otherwise. */
export function targetSummary(params: Record<string, unknown>): string | undefined {
  if (typeof params.method === 'string' && typeof params.path === 'string') return `${params.method} ${params.path}`;
  const t = params.user_id ?? params.user_name ?? params.bucket ?? params.path;
  return t === undefined ? undefined : String(t);
}

/** Agent-supplied text on one line: newlines and other control characters become spaces (no fake bullet lines). */
export function singleLine(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 ? ' ' : ch;
  }
  return out;
}

/** Slack mrkdwn escaping (`&`, `<`, `>`): `<!channel>`, `<https://…|links>` and user mentions become plain text. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const TRUNCATION_NOTE = 'truncated — open in ARX';

/**
 * The params as pretty canonical JSON, at most `max` characters. When longer, the text is cut and
 * says so (`… truncated — open in ARX: <url>`); the full params stay readable at `GET /v1/approvals/{id}`.
 */
export function paramsText(
  params: Record<string, unknown>,
  max: number,
  openUrl?: string,
): { text: string; truncated: boolean } {
  const full = JSON.stringify(canonicalParams(params), null, 2);
  if (full.length <= max) return { text: full, truncated: false };
  const note = `\n… ${TRUNCATION_NOTE}${openUrl ? `: ${openUrl}` : ''} (${full.length} characters in full)`;
  return { text: full.slice(0, Math.max(0, max - note.length)) + note, truncated: true };
}
