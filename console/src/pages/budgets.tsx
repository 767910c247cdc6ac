import { useState } from 'preact/hooks';
import { call, errorText } from '../api.js';
import { hasRole, type PageProps } from '../roles.js';
import { ErrorNote, fmtTime, fmtUsd, Section, useAsync } from '../ui.js';

/** Spend budgets per agent or cohort (`GET/PUT /v1/usage/budgets`): what the spend gate enforces before a governed action. */
export function BudgetsPage({ session }: PageProps) {
  const admin = hasRole(session, 'admin');
  const budgets = useAsync(() => call('GET /v1/usage/budgets'), []);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const items = [...(budgets.data?.items ?? [])].sort(
    (a, b) => a.scope.localeCompare(b.scope) || a.id.localeCompare(b.id) || a.period.localeCompare(b.period),
  );
  return (
    <>
      <Section title="Current budgets">
        <p class="muted small">
          Before a governed action runs, the spend gate checks the agent's and its cohort's spend in the period against
          these limits; over a limit the action is forbidden, or held for a human when the budget says so.
        </p>
        <ErrorNote error={budgets.error} />
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Scope</th>
                <th scope="col">Agent or cohort</th>
                <th scope="col">Period</th>
                <th scope="col">Limit</th>
                <th scope="col">Over the limit</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((b) => (
                <tr key={`${b.scope}:${b.id}:${b.period}`}>
                  <td>{b.scope}</td>
                  <td>
                    <code class="small">{b.id}</code>
                  </td>
                  <td>per {b.period}</td>
                  <td>{fmtUsd(b.usd)}</td>
                  <td>{b.over === 'hitl' ? 'held for approval' : 'forbidden'}</td>
                  <td>{fmtTime(b.updated_at)}</td>
                </tr>
              ))}
              {budgets.data && items.length === 0 ? (
                <tr>
                  <td colSpan={6} class="muted">
                    No budgets: spend is not limited.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
      </Section>
      {admin ? (
        <Section title="Set a budget">
          <form
            class="grid-form"
            onSubmit={async (e) => {
              e.preventDefault();
              const form = e.target as HTMLFormElement;
              const f = new FormData(form);
              const s = (k: string) => String(f.get(k) ?? '').trim();
              setDone(undefined);
              try {
                const r = await call('PUT /v1/usage/budgets', {
                  body: {
                    scope: s('scope'),
                    id: s('id'),
                    period: s('period'),
                    usd: Number(s('usd')),
                    over: s('over'),
                  },
                });
                setError(undefined);
                setDone(`Budget for ${r.scope} ${r.id} set: ${fmtUsd(r.usd)} per ${r.period}.`);
                budgets.reload();
              } catch (err) {
                setError(errorText(err));
              }
            }}
          >
            <label>
              Scope{' '}
              <select name="scope">
                <option value="agent">agent</option>
                <option value="cohort">cohort</option>
              </select>
            </label>
            <label>
              Agent or cohort id <input name="id" required maxLength={128} />
            </label>
            <label>
              Period{' '}
              <select name="period">
                <option value="day">per day</option>
                <option value="month">per month</option>
              </select>
            </label>
            <label>
              Limit (USD) <input name="usd" type="number" min="0" step="0.01" required />
            </label>
            <label>
              Over the limit{' '}
              <select name="over">
                <option value="forbid">forbid the action</option>
                <option value="hitl">hold it for approval</option>
              </select>
            </label>
            <div class="row">
              <button type="submit">Set budget</button>
            </div>
          </form>
          <ErrorNote error={error} />
          {done ? (
            <p role="status" class="outcome approved">
              {done}
            </p>
          ) : null}
        </Section>
      ) : null}
    </>
  );
}
