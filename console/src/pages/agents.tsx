import { useState } from 'preact/hooks';
import type { AgentIdentity, InventoryEntry, Termination } from '../../../sdk/contract.gen.js';
import { call, errorText } from '../api.js';
import { hasRole, type PageProps } from '../roles.js';
import { Copyable, Dialog, ErrorNote, fmtTime, ReasonForm, Section, StatusBadge, useAsync } from '../ui.js';

type Registered = Extract<InventoryEntry, { kind: 'registered' }>;
type Discovered = Extract<InventoryEntry, { kind: 'discovered' }>;
type Pending = { kind: 'terminate' | 'revoke' | 'rotate'; agent: Registered } | { kind: 'adopt'; agent: Discovered };

const nameOf = (a: InventoryEntry) => a.name ?? a.platform_native_id;
const ownerOf = (a: InventoryEntry): string =>
  a.kind === 'registered'
    ? (a.owner.email ?? a.owner.oidc_sub)
    : a.owner === 'unknown'
      ? 'unknown'
      : (a.owner.email ?? a.owner.oidc_sub ?? 'unknown');

export function AgentsPage({ session }: PageProps) {
  const admin = hasRole(session, 'admin');
  const [filter, setFilter] = useState<{ q: string; sanctioned: string; status: string }>({
    q: '',
    sanctioned: '',
    status: '',
  });
  const inventory = useAsync(
    () =>
      call('GET /v1/discovery/agents', {
        query: { limit: 100, q: filter.q || undefined, sanctioned: filter.sanctioned, status: filter.status },
      }),
    [filter],
  );
  const orphans = useAsync(() => call('GET /v1/identity/agents/orphans'), []);
  const [pending, setPending] = useState<Pending | null>(null);
  const [reassign, setReassign] = useState<AgentIdentity | null>(null);
  const [secret, setSecret] = useState<{ title: string; token: string } | null>(null);
  const [termination, setTermination] = useState<Termination | null>(null);
  const [error, setError] = useState<string>();

  const act = async (reason: string) => {
    if (!pending) return;
    if (pending.kind === 'terminate') {
      const t = await call('POST /v1/agents/{id}/terminate', {
        path: { id: pending.agent.agent_id },
        body: { reason },
      });
      setTermination(t);
    } else if (pending.kind === 'revoke') {
      await call('POST /v1/identity/agents/{id}/revoke', {
        path: { id: pending.agent.agent_id },
        body: reason ? { reason } : {},
      });
    } else if (pending.kind === 'rotate') {
      const r = await call('POST /v1/identity/agents/{id}/rotate', { path: { id: pending.agent.agent_id } });
      setSecret({ title: `New bootstrap token for ${nameOf(pending.agent)}`, token: r.bootstrap_token });
    }
    setPending(null);
    inventory.reload();
  };

  return (
    <>
      <ErrorNote error={error} />
      {secret ? (
        <div class="secret" role="status">
          <p>
            <b>{secret.title}</b> — shown once; give it to the agent's runtime now.
          </p>
          <Copyable text={secret.token} label={secret.title} />
          <button type="button" class="secondary small" onClick={() => setSecret(null)}>
            Dismiss
          </button>
        </div>
      ) : null}
      {termination ? <TerminationProgress initial={termination} onDone={() => inventory.reload()} /> : null}
      {admin ? (
        <RegisterForm
          onDone={(title, token) => {
            setSecret({ title, token });
            inventory.reload();
          }}
        />
      ) : null}
      <Section title="Inventory">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            const f = new FormData(e.target as HTMLFormElement);
            setFilter({
              q: String(f.get('q') ?? ''),
              sanctioned: String(f.get('sanctioned') ?? ''),
              status: String(f.get('status') ?? ''),
            });
          }}
        >
          <label>
            Search <input name="q" type="search" defaultValue={filter.q} />
          </label>
          <label>
            Kind{' '}
            <select name="sanctioned" defaultValue={filter.sanctioned}>
              <option value="">all</option>
              <option value="true">sanctioned</option>
              <option value="false">discovered, not sanctioned</option>
            </select>
          </label>
          <label>
            Status{' '}
            <select name="status" defaultValue={filter.status}>
              <option value="">any</option>
              {['active', 'suspended', 'revoked', 'terminated'].map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="secondary">
            Filter
          </button>
        </form>
        <ErrorNote error={inventory.error} />
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Platform</th>
                <th scope="col">Owner</th>
                <th scope="col">Status</th>
                <th scope="col">Kind</th>
                <th scope="col">Last change</th>
                {admin ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {(inventory.data?.items ?? []).map((a) => (
                <tr key={a.kind === 'registered' ? a.agent_id : a.id}>
                  <td>
                    <b>{nameOf(a)}</b>
                    <br />
                    <code class="small">{a.kind === 'registered' ? a.agent_id : a.id}</code>
                  </td>
                  <td>{a.platform}</td>
                  <td>
                    {ownerOf(a)}
                    {a.kind === 'registered' && a.owner.status === 'orphaned' ? (
                      <>
                        {' '}
                        <StatusBadge status="orphaned" />
                      </>
                    ) : null}
                  </td>
                  <td>
                    <StatusBadge status={a.kind === 'registered' ? a.status : a.state} />
                  </td>
                  <td>
                    {a.kind === 'registered' ? (
                      <span class="badge sanctioned">sanctioned</span>
                    ) : a.sanctioned ? (
                      <span class="badge sanctioned">discovered · adopted</span>
                    ) : (
                      <span class="badge discovered">discovered · {a.source.replace(/_/g, ' ')}</span>
                    )}
                  </td>
                  <td>{fmtTime(a.kind === 'registered' ? a.updated_at : a.last_seen)}</td>
                  {admin ? (
                    <td class="actions">
                      {a.kind === 'registered' && a.status === 'active' ? (
                        <>
                          <button
                            type="button"
                            class="secondary small"
                            aria-label={`Rotate ${nameOf(a)}`}
                            onClick={() => setPending({ kind: 'rotate', agent: a })}
                          >
                            Rotate
                          </button>
                          <button
                            type="button"
                            class="secondary small"
                            aria-label={`Revoke ${nameOf(a)}`}
                            onClick={() => setPending({ kind: 'revoke', agent: a })}
                          >
                            Revoke
                          </button>
                        </>
                      ) : null}
                      {a.kind === 'registered' && a.status !== 'terminated' ? (
                        <button
                          type="button"
                          class="danger small"
                          aria-label={`Terminate ${nameOf(a)}`}
                          onClick={() => setPending({ kind: 'terminate', agent: a })}
                        >
                          Terminate
                        </button>
                      ) : null}
                      {a.kind === 'discovered' && !a.sanctioned && a.state === 'present' ? (
                        <button
                          type="button"
                          class="small"
                          aria-label={`Adopt ${nameOf(a)}`}
                          onClick={() => setPending({ kind: 'adopt', agent: a })}
                        >
                          Adopt
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {inventory.data?.next_token ? <p class="muted">More agents match; narrow the search.</p> : null}
      </Section>
      <Section title={`Orphans (${orphans.data?.items.length ?? '…'})`}>
        <ErrorNote error={orphans.error} />
        <p class="muted">Agents whose accountable owner left the organisation: assign a new owner or terminate them.</p>
        <ul>
          {(orphans.data?.items ?? []).map((o) => (
            <li key={o.agent_id}>
              {o.name ?? o.platform_native_id} <code>{o.agent_id}</code> — owner {o.owner.oidc_sub}, orphaned{' '}
              {fmtTime(o.owner.orphaned_at)}{' '}
              {admin ? (
                <button
                  type="button"
                  class="secondary small"
                  aria-label={`Assign owner to ${o.name ?? o.platform_native_id}`}
                  onClick={() => setReassign(o)}
                >
                  Assign owner
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      </Section>
      <Dialog
        title={pending ? `${pending.kind[0]!.toUpperCase()}${pending.kind.slice(1)} ${nameOf(pending.agent)}?` : ''}
        open={!!pending}
        onClose={() => setPending(null)}
      >
        {pending?.kind === 'adopt' ? (
          <AdoptForm
            agent={pending.agent}
            onCancel={() => setPending(null)}
            onDone={(token) => {
              setSecret({ title: `Bootstrap token for ${nameOf(pending.agent)}`, token });
              setPending(null);
              inventory.reload();
            }}
          />
        ) : pending ? (
          <ReasonForm
            required={pending.kind === 'terminate'}
            danger={pending.kind !== 'rotate'}
            onConfirm={act}
            onCancel={() => setPending(null)}
          >
            <p>
              {pending.kind === 'terminate'
                ? 'Refuses the agent everywhere within a second, revokes its credentials, stops it on its platform and drains its actions. This cannot be undone.'
                : pending.kind === 'revoke'
                  ? 'Revokes the agent identity: its tokens stop working.'
                  : 'Issues a new bootstrap token; the previous credentials stop working.'}
            </p>
          </ReasonForm>
        ) : null}
      </Dialog>
      <Dialog
        title={reassign ? `Assign an owner to ${reassign.name ?? reassign.platform_native_id}` : ''}
        open={!!reassign}
        onClose={() => setReassign(null)}
      >
        {reassign ? (
          <OwnerForm
            agent={reassign}
            onCancel={() => setReassign(null)}
            onDone={() => {
              setReassign(null);
              orphans.reload();
              inventory.reload();
            }}
          />
        ) : null}
      </Dialog>
      {error ? (
        <button type="button" class="secondary small" onClick={() => setError(undefined)}>
          Dismiss error
        </button>
      ) : null}
    </>
  );
}

/** The saga's steps, polled until `complete` or `partial_failure`. */
function TerminationProgress({ initial, onDone }: { initial: Termination; onDone(): void }) {
  const t = useAsync(
    async () => {
      const cur = await call('GET /v1/terminations/{id}', { path: { id: initial.termination_id } });
      if (cur.status !== 'in_flight') onDone();
      return cur;
    },
    [initial.termination_id],
    1000,
  );
  const cur = t.data ?? initial;
  return (
    <section class="termination" aria-labelledby="term-h" aria-live="polite">
      <h2 id="term-h">
        Termination <code>{cur.termination_id}</code> <StatusBadge status={cur.status} />
      </h2>
      <p>
        Reason: {cur.reason} · initiated by {cur.initiated_by} at {fmtTime(cur.initiated_at)}
        {cur.completed_at ? ` · finished ${fmtTime(cur.completed_at)}` : ''}
      </p>
      <ol class="steps">
        {cur.steps.map((s) => (
          <li key={s.name} class={`step step-${s.status}`}>
            <span class="step-name">{s.name}</span> <StatusBadge status={s.status} />
            {s.attempts > 1 ? <span class="muted"> {s.attempts} attempts</span> : null}
            {s.at ? <span class="muted small"> {fmtTime(s.at)}</span> : null}
            {s.error ? <span class="error"> {s.error}</span> : null}
          </li>
        ))}
      </ol>
      {cur.attestation_url ? <p>Attestation: {cur.attestation_url}</p> : null}
      <ErrorNote error={t.error} />
    </section>
  );
}

function RegisterForm({ onDone }: { onDone(title: string, token: string): void }) {
  const [error, setError] = useState<string>();
  return (
    <details class="panel">
      <summary>Register an agent</summary>
      <form
        class="grid-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.target as HTMLFormElement;
          const f = new FormData(form);
          const s = (k: string) => String(f.get(k) ?? '').trim();
          try {
            const r = await call('POST /v1/identity/agents', {
              body: {
                platform: s('platform'),
                platform_native_id: s('native'),
                ...(s('name') ? { name: s('name') } : {}),
                ...(s('cohort') ? { cohort: s('cohort') } : {}),
                owner: {
                  oidc_sub: s('owner'),
                  ...(s('email') ? { email: s('email') } : {}),
                  ...(s('team') ? { team: s('team') } : {}),
                },
              },
            });
            setError(undefined);
            form.reset();
            onDone(`Bootstrap token for ${r.name ?? r.platform_native_id}`, r.bootstrap_token);
          } catch (err) {
            setError(errorText(err));
          }
        }}
      >
        <label>
          Platform <input name="platform" required placeholder="langchain" />
        </label>
        <label>
          Platform id <input name="native" required />
        </label>
        <label>
          Name <input name="name" />
        </label>
        <label>
          Cohort <input name="cohort" />
        </label>
        <label>
          Owner (OIDC subject) <input name="owner" required />
        </label>
        <label>
          Owner email <input name="email" type="email" />
        </label>
        <label>
          Team <input name="team" />
        </label>
        <div class="row end">
          <button type="submit">Register</button>
        </div>
        <ErrorNote error={error} />
      </form>
    </details>
  );
}

function AdoptForm(p: { agent: Discovered; onDone(token: string): void; onCancel(): void }) {
  const [error, setError] = useState<string>();
  const known = p.agent.owner === 'unknown' ? {} : p.agent.owner;
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        const f = new FormData(e.target as HTMLFormElement);
        const email = String(f.get('email') ?? '').trim();
        try {
          const r = await call('POST /v1/discovery/agents/{id}/adopt', {
            path: { id: p.agent.id },
            body: { owner: { oidc_sub: String(f.get('owner') ?? '').trim(), ...(email ? { email } : {}) } },
          });
          p.onDone(r.bootstrap_token);
        } catch (err) {
          setError(errorText(err));
        }
      }}
    >
      <p>
        Registers {nameOf(p.agent)} ({p.agent.platform}, seen by {p.agent.sources.map((s) => s.source).join(', ')}) as a
        sanctioned agent with an accountable owner.
      </p>
      <label for="adopt-owner">Owner (OIDC subject)</label>
      <input id="adopt-owner" name="owner" required defaultValue={known.oidc_sub ?? ''} />
      <label for="adopt-email">Owner email</label>
      <input id="adopt-email" name="email" type="email" defaultValue={known.email ?? ''} />
      <ErrorNote error={error} />
      <div class="row end">
        <button type="button" class="secondary" onClick={p.onCancel}>
          Cancel
        </button>
        <button type="submit">Confirm</button>
      </div>
    </form>
  );
}

function OwnerForm(p: { agent: AgentIdentity; onDone(): void; onCancel(): void }) {
  const [error, setError] = useState<string>();
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        const f = new FormData(e.target as HTMLFormElement);
        const email = String(f.get('email') ?? '').trim();
        try {
          await call('POST /v1/identity/agents/{id}/owner', {
            path: { id: p.agent.agent_id },
            body: { owner: { oidc_sub: String(f.get('owner') ?? '').trim(), ...(email ? { email } : {}) } },
          });
          p.onDone();
        } catch (err) {
          setError(errorText(err));
        }
      }}
    >
      <p>The new owner becomes accountable for the agent; the change is attested in the audit chain.</p>
      <label for="owner-sub">Owner (OIDC subject)</label>
      <input id="owner-sub" name="owner" required />
      <label for="owner-email">Owner email</label>
      <input id="owner-email" name="email" type="email" />
      <ErrorNote error={error} />
      <div class="row end">
        <button type="button" class="secondary" onClick={p.onCancel}>
          Cancel
        </button>
        <button type="submit">Confirm</button>
      </div>
    </form>
  );
}
