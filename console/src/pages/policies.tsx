import { useEffect, useMemo, useState } from 'preact/hooks';
import { LineCounter, parseDocument } from 'yaml';
import { compileYamlPolicy, YamlPolicyEntry, YamlPolicyError } from '../../../lambdas/policy/core/yaml-policy.js';
import type { BundleDiff, ConnectorCatalog } from '../../../sdk/contract.gen.js';
import { ApiError, call, errorText, type Ok } from '../api.js';
import { hasRole, type PageProps } from '../roles.js';
import { Dialog, ErrorNote, fmtTime, ReasonForm, Section, StatusBadge, useAsync } from '../ui.js';

const STARTER = `- name: okta-access-review
  connector: okta
  operations:
    "users:read*": low
    "users:deactivate": high
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
  hitl_channel: "#access-reviews"
  hitl_timeout: 1h
`;

interface Message {
  readonly line: number | null;
  readonly source: 'compiler' | 'catalog' | 'server';
  readonly severity: 'error' | 'warning';
  readonly text: string;
}

const globRe = (p: string) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** Maps a compiler path ("0.operations.users:read") to the line of that node in the document. */
function lineOf(doc: string, path: string): number | null {
  const lc = new LineCounter();
  const d = parseDocument(doc, { lineCounter: lc, keepSourceTokens: false });
  const parts = path === '(document)' ? [] : path.split('.');
  for (let n = parts.length; n > 0; n--) {
    const keys = parts.slice(0, n).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    const node = d.getIn(keys, true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lc.linePos(node.range[0]).line;
    if (keys.length === 1 && typeof keys[0] === 'number') break;
  }
  const m = /at line (\d+)/.exec(path);
  return m ? Number(m[1]) : null;
}

/**
 * The compiler answers a document that is neither a list of policies nor `{policies: […]}` with
 * one union error for the whole document; the entries' own schema says which field is wrong.
 */
function precise(doc: string, errors: readonly { path: string; message: string }[]) {
  if (errors.length !== 1 || errors[0]!.path !== '(document)' || /not valid YAML/.test(errors[0]!.message))
    return errors;
  const raw = parseDocument(doc).toJS() as unknown;
  const list = Array.isArray(raw) ? raw : (raw as { policies?: unknown })?.policies;
  if (!Array.isArray(list)) return errors;
  const prefix = Array.isArray(raw) ? '' : 'policies.';
  const out = list.flatMap((entry, i) => {
    const r = YamlPolicyEntry.safeParse(entry);
    return r.success
      ? []
      : r.error.issues.map((x) => ({
          path: `${prefix}${i}.${x.path.map(String).join('.')}`.replace(/\.$/, ''),
          message: x.message,
        }));
  });
  return out.length ? out : errors;
}

/** Validation as you type: the YAML compiler itself, then the connectors' operation catalogs. */
export function validatePolicy(doc: string, catalogs: readonly ConnectorCatalog[] | undefined): Message[] {
  const out: Message[] = [];
  try {
    compileYamlPolicy(doc);
  } catch (e) {
    if (!(e instanceof YamlPolicyError)) throw e;
    for (const i of precise(doc, e.errors)) {
      const yamlLine = /at line (\d+)/.exec(i.message);
      out.push({
        line: yamlLine ? Number(yamlLine[1]) : lineOf(doc, i.path),
        source: 'compiler',
        severity: 'error',
        text: `${i.path}: ${i.message}`,
      });
    }
    return out;
  }
  if (!catalogs) return out;
  const parsed = parseDocument(doc).toJS() as unknown;
  const entries = (Array.isArray(parsed) ? parsed : (parsed as { policies: unknown[] }).policies) as {
    connector: string;
    operations: Record<string, string>;
    risk_max?: string;
  }[];
  const rank = (r: string | undefined) => ['low', 'medium', 'high', 'critical'].indexOf(r ?? 'critical');
  entries.forEach((e, i) => {
    for (const [pattern, risk] of Object.entries(e.operations))
      if (rank(risk) > rank(e.risk_max))
        out.push({
          line: lineOf(doc, `${i}.operations.${pattern}`),
          source: 'compiler',
          severity: 'warning',
          text: `${pattern} is ${risk}, above risk_max ${e.risk_max}: the compiled policy forbids it`,
        });
    const cat = catalogs.find((c) => c.name === e.connector);
    if (!cat) {
      out.push({
        line: lineOf(doc, `${i}.connector`),
        source: 'catalog',
        severity: 'error',
        text: `${i}.connector: no connector "${e.connector}" (known: ${catalogs.map((c) => c.name).join(', ')})`,
      });
      return;
    }
    for (const [pattern, risk] of Object.entries(e.operations)) {
      const re = globRe(pattern);
      const hits = cat.operations.filter((o) => re.test(o.name));
      if (hits.length === 0)
        out.push({
          line: lineOf(doc, `${i}.operations.${pattern}`),
          source: 'catalog',
          severity: 'error',
          text: `${i}.operations: ${e.connector} has no operation matching "${pattern}"`,
        });
      for (const h of hits)
        if (h.suggested_risk && h.suggested_risk !== risk && !pattern.includes('*'))
          out.push({
            line: lineOf(doc, `${i}.operations.${pattern}`),
            source: 'catalog',
            severity: 'warning',
            text: `${e.connector} ${h.name}: the catalog suggests risk ${h.suggested_risk}, the policy says ${risk}`,
          });
    }
  });
  return out;
}

type Bundle = Ok<'GET /v1/policies/bundles'>['items'][number];

export function PoliciesPage({ session }: PageProps) {
  const admin = hasRole(session, 'admin');
  // The first page, refreshed after an upload or a promotion; further pages are appended on demand.
  const first = useAsync(() => call('GET /v1/policies/bundles', { query: { limit: 25 } }), []);
  const [more, setMore] = useState<{ items: Bundle[]; next_token?: string | undefined }>({ items: [] });
  const [moreError, setMoreError] = useState<string>();
  const [promoted, setPromoted] = useState<{ live_bundle_id: string; version: number } | null>(null);
  const [promote, setPromote] = useState<Bundle | null>(null);
  const bundles = [...(first.data?.items ?? []), ...more.items];
  const nextToken = more.items.length ? more.next_token : first.data?.next_token;
  const live = first.data?.live ?? null;
  const reload = () => {
    setMore({ items: [] });
    first.reload();
  };
  const loadMore = async () => {
    setMoreError(undefined);
    try {
      const r = await call('GET /v1/policies/bundles', { query: { limit: 25, next_token: nextToken } });
      setMore({ items: [...more.items, ...r.items], next_token: r.next_token });
    } catch (e) {
      setMoreError(errorText(e));
    }
  };
  return (
    <>
      {admin ? <Editor onUploaded={reload} /> : null}
      <Section title="Bundles and versions">
        <p class="muted small">
          {live ? (
            <>
              Live: v{live.version} (<code>{live.bundle_id}</code>), promoted {fmtTime(live.promoted_at)} by{' '}
              {live.promoted_by}.
            </>
          ) : first.data ? (
            'No bundle is live: every decision is a forbid until one is promoted.'
          ) : null}
        </p>
        <ErrorNote error={first.error} />
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Bundle</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Last promoted</th>
                <th scope="col">Digest</th>
                {admin ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {bundles.map((b) => (
                <tr key={b.bundle_id}>
                  <td>v{b.version}</td>
                  <td>
                    <code class="small">{b.bundle_id}</code>
                    <div class="muted small">
                      {b.source_format}, {b.policy_count} {b.policy_count === 1 ? 'policy' : 'policies'}
                    </div>
                  </td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td>
                    {fmtTime(b.created_at)}
                    <div class="muted small">by {b.created_by}</div>
                  </td>
                  <td>
                    {b.last_promoted_at ? (
                      <>
                        {fmtTime(b.last_promoted_at)}
                        <div class="muted small">by {b.last_promoted_by}</div>
                      </>
                    ) : (
                      'never'
                    )}
                  </td>
                  <td>
                    <code class="small" title={b.digest}>
                      {b.digest.replace(/^sha256:/, '').slice(0, 12)}…
                    </code>
                  </td>
                  {admin ? (
                    <td>
                      {b.status !== 'live' ? (
                        <button
                          type="button"
                          class="small"
                          aria-label={`Promote v${b.version}`}
                          onClick={() => setPromote(b)}
                        >
                          Promote
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
              {first.data && bundles.length === 0 ? (
                <tr>
                  <td colSpan={admin ? 7 : 6} class="muted">
                    No bundles stored yet.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
        {nextToken ? (
          <div class="row">
            <button type="button" class="secondary" onClick={() => void loadMore()}>
              Load older versions
            </button>
          </div>
        ) : null}
        <ErrorNote error={moreError} />
        {promoted ? (
          <p role="status" class="outcome approved">
            Live bundle is now v{promoted.version} (<code>{promoted.live_bundle_id}</code>).
          </p>
        ) : null}
      </Section>
      <DiffView bundles={bundles} live={live?.bundle_id} />
      <Dialog
        title={promote ? `Promote bundle v${promote.version}?` : ''}
        open={!!promote}
        onClose={() => setPromote(null)}
      >
        {promote ? (
          <ReasonForm
            required={false}
            onCancel={() => setPromote(null)}
            onConfirm={async () => {
              const r = await call('POST /v1/policies/bundles/{id}/promote', { path: { id: promote.bundle_id } });
              setPromoted(r);
              setPromote(null);
              reload();
            }}
          >
            <p>
              Every decision point loads the live bundle within its poll window. The promotion is recorded in the audit
              chain.
            </p>
          </ReasonForm>
        ) : null}
      </Dialog>
    </>
  );
}

function Editor({ onUploaded }: { onUploaded(): void }) {
  const [doc, setDoc] = useState(STARTER);
  const [debounced, setDebounced] = useState(STARTER);
  const [server, setServer] = useState<Message[]>([]);
  const [result, setResult] = useState<string>();
  const [busy, setBusy] = useState(false);
  const catalogs = useAsync(() => call('GET /v1/connectors'), []);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(doc), 250);
    return () => clearTimeout(t);
  }, [doc]);
  const local = useMemo(() => validatePolicy(debounced, catalogs.data?.items), [debounced, catalogs.data]);
  const messages = [...local, ...server];
  const errorLines = new Set(messages.filter((m) => m.severity === 'error').map((m) => m.line));
  const lines = doc.split('\n').length;
  const upload = async () => {
    setBusy(true);
    setResult(undefined);
    setServer([]);
    try {
      const r = await call('POST /v1/policies/bundles', { body: { format: 'yaml', document: doc } });
      onUploaded();
      setServer((r.warnings ?? []).map((w) => ({ line: null, source: 'server', severity: 'warning', text: w })));
      setResult(`Stored bundle v${r.version} (${r.bundle_id}), digest ${r.digest.slice(0, 16)}…`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400)
        setServer(
          (e.problem.errors ?? [{ path: '', message: e.message }]).map((x) => ({
            line: x.path ? lineOf(doc, x.path) : null,
            source: 'server',
            severity: 'error',
            text: x.path ? `${x.path}: ${x.message}` : x.message,
          })),
        );
      else setResult(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="YAML policy editor">
      <ErrorNote error={catalogs.error} />
      <div class="editor">
        <div class="gutter" aria-hidden="true" id="gutter">
          {Array.from({ length: lines }, (_, i) => (
            <span key={i} class={errorLines.has(i + 1) ? 'bad' : ''}>
              {i + 1}
            </span>
          ))}
        </div>
        <label for="policy-doc" class="sr-only">
          Policy document (YAML)
        </label>
        <textarea
          id="policy-doc"
          spellcheck={false}
          rows={Math.max(12, Math.min(30, lines + 1))}
          value={doc}
          aria-invalid={messages.some((m) => m.severity === 'error')}
          aria-describedby="policy-messages"
          onInput={(e) => {
            setDoc((e.target as HTMLTextAreaElement).value);
            setServer([]);
          }}
          onScroll={(e) => {
            const g = document.getElementById('gutter');
            if (g) g.scrollTop = (e.target as HTMLTextAreaElement).scrollTop;
          }}
        />
      </div>
      <div id="policy-messages" aria-live="polite">
        {messages.length === 0 ? (
          <p class="ok">
            Valid: the compiler accepts it
            {catalogs.data ? ' and every operation is in its connector’s catalog' : ''}.
          </p>
        ) : (
          <ul class="messages">
            {messages.map((m, i) => (
              <li key={i} class={m.severity}>
                <span class="where">{m.line ? `line ${m.line}` : 'document'}</span> <span class="src">{m.source}</span>{' '}
                {m.text}
              </li>
            ))}
          </ul>
        )}
      </div>
      <div class="row">
        <button
          type="button"
          disabled={busy || local.some((m) => m.severity === 'error')}
          onClick={() => void upload()}
        >
          {busy ? 'Uploading…' : 'Upload bundle'}
        </button>
        {result ? <span role="status">{result}</span> : null}
      </div>
    </Section>
  );
}

function DiffView({ bundles, live }: { bundles: Bundle[]; live: string | undefined }) {
  const [pair, setPair] = useState<{ to: string; from: string } | null>(null);
  const [diff, setDiff] = useState<BundleDiff | null>(null);
  const [error, setError] = useState<string>();
  const ids = bundles.map((b) => b.bundle_id);
  const label = (id: string) => {
    const b = bundles.find((x) => x.bundle_id === id);
    return b ? `v${b.version} · ${b.status} · ${id.slice(0, 14)}…` : id;
  };
  // by default: the newest bundle against the live one (or the one before it when the newest is live)
  const to = pair?.to ?? ids[0] ?? '';
  const from = pair?.from ?? (live && live !== to ? live : (ids[1] ?? ''));
  if (ids.length < 2) return null;
  return (
    <Section title="Diff">
      <form
        class="filters"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(undefined);
          try {
            setDiff(await call('GET /v1/policies/bundles/{id}/diff/{prev_id}', { path: { id: to, prev_id: from } }));
          } catch (err) {
            setError(errorText(err));
          }
        }}
      >
        <label>
          Bundle{' '}
          <select value={to} onChange={(e) => setPair({ from, to: (e.target as HTMLSelectElement).value })}>
            {ids.map((id) => (
              <option key={id} value={id}>
                {label(id)}
              </option>
            ))}
          </select>
        </label>
        <label>
          against{' '}
          <select value={from} onChange={(e) => setPair({ to, from: (e.target as HTMLSelectElement).value })}>
            {ids.map((id) => (
              <option key={id} value={id}>
                {label(id)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="secondary">
          Show diff
        </button>
      </form>
      <ErrorNote error={error} />
      {diff ? (
        <div class="diff">
          <p>
            v{diff.from.version} → v{diff.to.version}: {diff.added.length} added, {diff.removed.length} removed,{' '}
            {diff.changed.length} changed, {diff.unchanged} unchanged
            {diff.risk_changed ? '; risk table changed' : ''}
            {diff.schema_changed ? '; schema changed' : ''}.
          </p>
          {diff.added.map((p) => (
            <pre key={`a${p.id}`} class="add">
              + {p.text}
            </pre>
          ))}
          {diff.removed.map((p) => (
            <pre key={`r${p.id}`} class="del">
              - {p.text}
            </pre>
          ))}
          {diff.changed.map((p) => (
            <div key={`c${p.id}`}>
              <pre class="del">- {p.before}</pre>
              <pre class="add">+ {p.after}</pre>
            </div>
          ))}
        </div>
      ) : null}
    </Section>
  );
}
