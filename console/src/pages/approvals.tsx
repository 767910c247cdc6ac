import { useState } from 'preact/hooks';
import type { Approval, ApprovalOutcome } from '../../../sdk/contract.gen.js';
import { call } from '../api.js';
import { hasRole, type PageProps } from '../roles.js';
import {
  CanonicalJson,
  Countdown,
  Dialog,
  ErrorNote,
  fmtDuration,
  fmtTime,
  ReasonForm,
  RiskBadge,
  Section,
  StatusBadge,
  useAsync,
} from '../ui.js';

type Decision = 'approve' | 'deny';

export function ApprovalsPage({ session }: PageProps) {
  const canDecide = hasRole(session, 'approver');
  // New approvals appear without a reload: the pending list is polled.
  const pending = useAsync(() => call('GET /v1/approvals', { query: { status: 'pending', limit: 100 } }), [], 2000);
  const decided = useAsync(async () => {
    const lists = await Promise.all(
      (['approved', 'denied', 'expired'] as const).map((status) =>
        call('GET /v1/approvals', { query: { status, limit: 50 } }),
      ),
    );
    return lists
      .flatMap((l) => l.items)
      .sort((a, b) => (b.decided_at ?? b.expires_at).localeCompare(a.decided_at ?? a.expires_at));
  }, []);
  const [open, setOpen] = useState<{ approval: Approval; decision: Decision } | null>(null);
  const [outcomes, setOutcomes] = useState<ApprovalOutcome[]>([]);
  const items = [...(pending.data?.items ?? [])].sort((a, b) => a.expires_at.localeCompare(b.expires_at));

  const decide = async (reason: string) => {
    if (!open) return;
    const out = await call('POST /v1/approvals/{id}/decision', {
      path: { id: open.approval.approval_id },
      body: { decision: open.decision, reason },
    });
    setOutcomes((o) => [out, ...o].slice(0, 10));
    setOpen(null);
    pending.reload();
    decided.reload();
  };

  return (
    <>
      {!canDecide ? <p class="note">You can see approvals; deciding them needs the approver role.</p> : null}
      <div aria-live="polite" class="live">
        {outcomes.map((o) => (
          <p key={o.approval.approval_id} class={`outcome ${o.approval.status}`}>
            {o.approval.status === 'approved' ? 'Approved' : 'Denied'}: {o.approval.connector} {o.approval.operation}{' '}
            for {o.approval.agent_name ?? o.approval.agent_id} — action <code>{o.action.action_id}</code>{' '}
            <StatusBadge status={o.action.status} />
            {o.action.error ? ` ${o.action.error.message}` : ''}
          </p>
        ))}
      </div>
      <Section title={`Pending (${items.length})`}>
        <ErrorNote error={pending.error} />
        <p class="sr-only" aria-live="polite">
          {items.length} pending approvals
        </p>
        {pending.loading && !pending.data ? <p class="muted">Loading…</p> : null}
        {pending.data && items.length === 0 ? <p class="muted">Nothing waits for a decision.</p> : null}
        <ul class="cards">
          {items.map((a) => (
            <li key={a.approval_id} class="card approval" aria-labelledby={`ap-${a.approval_id}`}>
              <div class="card-head">
                <h3 id={`ap-${a.approval_id}`}>
                  <span class="op">
                    {a.connector} · {a.operation}
                  </span>
                </h3>
                <RiskBadge risk={a.risk} />
                <Countdown until={a.expires_at} />
              </div>
              <dl class="facts">
                <dt>Agent</dt>
                <dd>
                  {a.agent_name ? `${a.agent_name} ` : ''}
                  <code>{a.agent_id}</code>
                </dd>
                <dt>Owner</dt>
                <dd>{a.owner_email ?? a.owner_sub ?? '—'}</dd>
                <dt>Policy</dt>
                <dd>{a.policy ?? '—'}</dd>
                <dt>Requested</dt>
                <dd>{fmtTime(a.created_at)}</dd>
                {a.separation_of_duties ? (
                  <>
                    <dt>Separation of duties</dt>
                    <dd>the agent's owner may not approve</dd>
                  </>
                ) : null}
              </dl>
              <h4>The agent's reason</h4>
              <blockquote class="reason">{a.reason ?? '(no reason given)'}</blockquote>
              <h4>Parameters (canonical order)</h4>
              <CanonicalJson value={a.params} label={`Parameters of ${a.operation}`} />
              <p class="muted small">
                binding <code>{a.binding_hash}</code>
              </p>
              {canDecide ? (
                <div class="row">
                  <button type="button" onClick={() => setOpen({ approval: a, decision: 'approve' })}>
                    Approve
                  </button>
                  <button type="button" class="danger" onClick={() => setOpen({ approval: a, decision: 'deny' })}>
                    Deny
                  </button>
                </div>
              ) : null}
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Decided">
        <ErrorNote error={decided.error} />
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Operation</th>
                <th scope="col">Agent</th>
                <th scope="col">Outcome</th>
                <th scope="col">By</th>
                <th scope="col">Reason</th>
                <th scope="col">Time to decision</th>
                <th scope="col">Decided</th>
              </tr>
            </thead>
            <tbody>
              {decided.data && decided.data.length === 0 ? (
                <tr>
                  <td colSpan={7} class="muted">
                    No approval decided yet.
                  </td>
                </tr>
              ) : null}
              {(decided.data ?? []).map((a) => (
                <tr key={a.approval_id}>
                  <td>
                    {a.connector} · {a.operation}
                  </td>
                  <td>{a.agent_name ?? a.agent_id}</td>
                  <td>
                    <StatusBadge status={a.status} />
                  </td>
                  <td>{a.decided_by ?? '—'}</td>
                  <td class="wrap">{a.decision_reason ?? '—'}</td>
                  <td>{a.decided_at ? fmtDuration(Date.parse(a.decided_at) - Date.parse(a.created_at)) : '—'}</td>
                  <td>{fmtTime(a.decided_at ?? a.expires_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>
      <Dialog
        title={open ? `${open.decision === 'approve' ? 'Approve' : 'Deny'} ${open.approval.operation}?` : ''}
        open={!!open}
        onClose={() => setOpen(null)}
      >
        {open ? (
          <ReasonForm required danger={open.decision === 'deny'} onConfirm={decide} onCancel={() => setOpen(null)}>
            <p>
              {open.approval.connector} · {open.approval.operation} for{' '}
              {open.approval.agent_name ?? open.approval.agent_id}, risk {open.approval.risk}. Your decision and reason
              are recorded in the audit chain.
            </p>
          </ReasonForm>
        ) : null}
      </Dialog>
    </>
  );
}
