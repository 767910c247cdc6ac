import { useState } from 'preact/hooks';
import evidenceMap from '../../../evidence_map.json';
import type { CompliancePackage } from '../../../sdk/contract.gen.js';
import { call, errorText } from '../api.js';
import type { PageProps } from '../roles.js';
import { Copyable, ErrorNote, fmtDuration, fmtTime, Section, StatusBadge, useAsync } from '../ui.js';

type FrameworkId = CompliancePackage['framework'];
const FRAMEWORKS = evidenceMap.frameworks as Record<FrameworkId, string>;
const CONTROLS = evidenceMap.controls as Record<string, { title: string }>;
const controlsOf = (fw: string) =>
  Object.keys(CONTROLS)
    .filter((k) => k.startsWith(`${fw}:`))
    .map((k) => ({ id: k.slice(fw.length + 1), title: CONTROLS[k]!.title }));

export function AuditPage({ session, config }: PageProps) {
  const status = useAsync(() => call('GET /v1/audit/chain/status'), [], 5000);
  const blocks = useAsync(() => call('GET /v1/audit/blocks', { query: { limit: 100 } }), []);
  const s = status.data;
  const origin = config.api_url || location.origin;
  const bucket = config.audit_bucket ?? '<audit-bucket>';
  const keysUrl = `${origin}/tenants/${session.tenant}/.well-known/audit-keys.json`;
  const verify = s
    ? `arx-verify s3://${bucket}/tenants/${session.tenant}/blocks --audit-keys audit-keys.json --min-height ${s.height}${s.head_hash ? ` --expect-head ${s.head_hash}` : ''}${s.anchoring === 'tsa_not_configured' ? '' : ' --require-anchored'}`
    : '';
  const recent = [...(blocks.data?.items ?? [])].sort((a, b) => b.height - a.height).slice(0, 8);
  return (
    <>
      <Section title="Chain">
        <ErrorNote error={status.error} />
        {s ? (
          <dl class="facts tiles">
            <div>
              <dt>Height</dt>
              <dd class="big">{s.height}</dd>
            </div>
            <div>
              <dt>Events in the tree</dt>
              <dd class="big">{s.tree_size}</dd>
            </div>
            <div>
              <dt>Waiting to be sealed</dt>
              <dd class="big">{s.pending_events}</dd>
            </div>
            <div>
              <dt>Anchoring</dt>
              <dd class="big">
                <StatusBadge status={s.anchoring} />
              </dd>
              <dd>
                lag {fmtDuration(s.anchoring_lag_seconds * 1000)}, {s.unanchored_blocks} unanchored block
                {s.unanchored_blocks === 1 ? '' : 's'}
              </dd>
            </div>
            <div class="wide">
              <dt>Head</dt>
              <dd>
                <code class="hash">{s.head_hash ?? 'no block sealed yet'}</code>
              </dd>
              <dd>last sealed {fmtTime(s.last_sealed_at)}</dd>
            </div>
          </dl>
        ) : null}
      </Section>
      <Section title="Verify it yourself">
        <p>Fetch every audit key the tenant ever used, then check the chain offline from its S3 copy:</p>
        <Copyable text={`curl -o audit-keys.json ${keysUrl}`} label="Command to fetch the audit keys" />
        {verify ? <Copyable text={verify} label="arx-verify command" /> : null}
        <p class="muted small">
          Exit 0 prints one OK line; 1 names the failing block. Keep the head hash: the next run passes it as
          --expect-head.
        </p>
      </Section>
      <Section title="Recent blocks">
        <ErrorNote error={blocks.error} />
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Height</th>
                <th scope="col">Events</th>
                <th scope="col">Sealed</th>
                <th scope="col">Anchored</th>
                <th scope="col">Block hash</th>
              </tr>
            </thead>
            <tbody>
              {recent.map((b) => (
                <tr key={b.block_id}>
                  <td>{b.height}</td>
                  <td>{b.event_count}</td>
                  <td>{fmtTime(b.sealed_at)}</td>
                  <td>{b.anchored ? fmtTime(b.anchored_at) : 'not yet'}</td>
                  <td>
                    <code class="hash small">{b.block_hash}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>
      <Evidence />
      <PackageBuilder />
    </>
  );
}

function Evidence() {
  const [fw, setFw] = useState<FrameworkId>('soc2_2017');
  const controls = controlsOf(fw);
  const [control, setControl] = useState(controls[0]?.id ?? '');
  const ev = useAsync(
    () =>
      control
        ? call('GET /v1/compliance/controls/{framework}/{control_id}/evidence', {
            path: { framework: fw, control_id: control },
            query: { limit: 50 },
          })
        : Promise.resolve(undefined),
    [fw, control],
  );
  return (
    <Section title="Evidence by framework and control">
      <div class="filters">
        <label>
          Framework{' '}
          <select
            value={fw}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value as FrameworkId;
              setFw(v);
              setControl(controlsOf(v)[0]?.id ?? '');
            }}
          >
            {Object.entries(FRAMEWORKS).map(([id, title]) => (
              <option key={id} value={id}>
                {title}
              </option>
            ))}
          </select>
        </label>
        <label>
          Control{' '}
          <select value={control} onChange={(e) => setControl((e.target as HTMLSelectElement).value)}>
            {controls.map((c) => (
              <option key={c.id} value={c.id}>
                {c.id} — {c.title}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={ev.error} />
      {ev.data ? (
        <>
          <p>
            {ev.data.items.length} event{ev.data.items.length === 1 ? '' : 's'} for {ev.data.control_id}
            {ev.data.title ? ` (${ev.data.title})` : ''}
            {ev.data.next_token ? ', more in the package' : ''}.
          </p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col">Action</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Agent</th>
                </tr>
              </thead>
              <tbody>
                {ev.data.items.map((e) => (
                  <tr key={e.event_id}>
                    <td>{fmtTime(e.occurred_at)}</td>
                    <td>{e.event_type}</td>
                    <td>{e.action}</td>
                    <td>{e.decision ?? '—'}</td>
                    <td>
                      <code class="small">{e.agent_id ?? '—'}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </Section>
  );
}

function download(name: string, type: string, data: BlobPart) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function PackageBuilder() {
  const [pkg, setPkg] = useState<CompliancePackage | null>(null);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  const get = async (artifact: 'pdf' | 'manifest' | 'jsonld') => {
    if (!pkg) return;
    try {
      const r = (await call('GET /v1/compliance/packages/{id}', {
        path: { id: pkg.package_id },
        query: { artifact },
      })) as Record<string, unknown>;
      if (artifact === 'pdf') {
        const bin = Uint8Array.from(atob(String(r.data)), (c) => c.charCodeAt(0));
        download(`${pkg.package_id}.pdf`, 'application/pdf', bin);
      } else download(`${pkg.package_id}.${artifact}.json`, 'application/json', JSON.stringify(r, null, 2));
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Section title="Compliance package">
      <form
        class="filters"
        onSubmit={async (e) => {
          e.preventDefault();
          const f = new FormData(e.target as HTMLFormElement);
          const s = (k: string) => String(f.get(k) ?? '').trim();
          setBusy(true);
          setError(undefined);
          try {
            const from = new Date(`${s('from')}T00:00:00Z`).toISOString();
            const to = new Date(`${s('to')}T23:59:59Z`).toISOString();
            setPkg(
              await call('POST /v1/compliance/packages', {
                body: {
                  framework: s('framework') as FrameworkId,
                  from,
                  to,
                  ...(s('report')
                    ? { approval_reports: [{ action: s('report'), ...(s('label') ? { label: s('label') } : {}) }] }
                    : {}),
                },
              }),
            );
          } catch (err) {
            setError(errorText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          Framework{' '}
          <select name="framework">
            {Object.entries(FRAMEWORKS).map(([id, title]) => (
              <option key={id} value={id}>
                {title}
              </option>
            ))}
          </select>
        </label>
        <label>
          From <input name="from" type="date" required defaultValue={monthAgo} />
        </label>
        <label>
          To <input name="to" type="date" required defaultValue={today} />
        </label>
        <label>
          Approval report for action <input name="report" placeholder="okta:users:deactivate" />
        </label>
        <label>
          named <input name="label" placeholder="deactivations" />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Building…' : 'Build package'}
        </button>
      </form>
      <ErrorNote error={error} />
      {pkg ? (
        <div class="panel" role="status">
          <p>
            Package <code>{pkg.package_id}</code> ({pkg.period.label}): {pkg.counts.events} events, {pkg.counts.sealed}{' '}
            sealed, {pkg.counts.pending} not yet sealed.
          </p>
          <ul>
            {pkg.reports.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
          <div class="row">
            <button type="button" onClick={() => void get('pdf')}>
              Download PDF
            </button>
            <button type="button" class="secondary" onClick={() => void get('manifest')}>
              Download manifest
            </button>
            <button type="button" class="secondary" onClick={() => void get('jsonld')}>
              Download JSON-LD
            </button>
          </div>
        </div>
      ) : null}
    </Section>
  );
}
