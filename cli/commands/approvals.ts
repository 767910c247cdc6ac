/**
 * `arx approvals list|show|approve|deny|stats`
 *
 *   arx approvals list [--status pending|approved|denied|expired|cancelled] [--json]
 *   arx approvals show <approval_id>
 *   arx approvals approve <approval_id> --reason "Verified with HRIS"
 *   arx approvals deny <approval_id> --reason "not during the freeze"
 *   arx approvals stats
 *
 * Talks to the API (--api URL, else ARX_API_URL, else .arx/dev.json) with the bearer token in
 * ARX_TOKEN (else the approver token in .arx/dev.json). Exit codes: 0 ok, 1 refused by ARX
 * (e.g. 409 no longer pending), 2 usage.
 */
import { defaultIo, endpoint as resolveEndpoint, parseArgs, UsageError, type CliIo, type Flags } from '../io.js';
import type { ResponseOf, RouteResponses } from '../../sdk/contract.gen.js';

const endpoint = (flags: Flags, io: CliIo) => resolveEndpoint(flags, io, 'approver');

const USAGE = `usage:
  arx approvals list [--status pending|approved|denied|expired|cancelled] [--json] [--api <url>]
  arx approvals show <approval_id> [--api <url>]
  arx approvals approve <approval_id> --reason <text> [--api <url>]
  arx approvals deny <approval_id> --reason <text> [--api <url>]
  arx approvals stats [--api <url>]
`;

type Approval = ResponseOf<'GET /v1/approvals/{id}', 200>;

function line(a: Approval): string {
  const target = (a.params.user_id ?? a.params.user_name ?? a.params.bucket ?? '') as string;
  return [
    a.approval_id,
    a.status.padEnd(9),
    a.risk.padEnd(8),
    `${a.action}${target ? ` ${target}` : ''}`,
    `agent=${a.agent_name ?? a.agent_id}`,
    a.status === 'pending' ? `expires=${a.expires_at}` : `by=${a.decided_by ?? '-'}`,
  ].join('  ');
}

export async function run(args: string[], io: CliIo = defaultIo()): Promise<number> {
  const [sub, ...rest] = args;
  const { pos, flags } = parseArgs(rest, (name) => name === 'json');
  try {
    if (!sub || sub === '--help' || sub === '-h') {
      io.out(USAGE);
      return sub ? 0 : 2;
    }
    const { api, token } = endpoint(flags, io);
    /** The body of a success, typed by the route it asks (`sdk/contract.gen.ts`); an error throws. */
    const call = async <K extends keyof RouteResponses>(
      method: string,
      path: string,
      body?: unknown,
    ): Promise<RouteResponses[K][200 & keyof RouteResponses[K]]> => {
      const res = await io.fetch(api + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok)
        throw new RefusedError(
          `${res.status} ${String(json.title ?? '')}${json.detail ? `: ${String(json.detail)}` : ''}`,
        );
      return json as RouteResponses[K][200 & keyof RouteResponses[K]];
    };
    switch (sub) {
      case 'list': {
        const status = typeof flags.status === 'string' ? flags.status : 'pending';
        const r = await call<'GET /v1/approvals'>('GET', `/v1/approvals?status=${encodeURIComponent(status)}`);
        if (flags.json) io.out(`${JSON.stringify(r.items, null, 2)}\n`);
        else if (r.items.length === 0) io.out(`no ${status} approvals\n`);
        else for (const a of r.items) io.out(`${line(a)}\n`);
        return 0;
      }
      case 'show': {
        if (pos.length !== 1) throw new UsageError(USAGE);
        io.out(
          `${JSON.stringify(
            await call<'GET /v1/approvals/{id}'>('GET', `/v1/approvals/${encodeURIComponent(pos[0]!)}`),
            null,
            2,
          )}\n`,
        );
        return 0;
      }
      case 'approve':
      case 'deny': {
        if (pos.length !== 1 || typeof flags.reason !== 'string')
          throw new UsageError(`arx approvals ${sub} <approval_id> --reason <text>\n`);
        const r = await call<'POST /v1/approvals/{id}/decision'>(
          'POST',
          `/v1/approvals/${encodeURIComponent(pos[0]!)}/decision`,
          { decision: sub, reason: flags.reason },
        );
        io.out(
          `${r.approval.approval_id} ${r.approval.status} by ${r.approval.decided_by ?? '?'}; action ${r.action.action_id} ${r.action.status}${r.action.error ? ` (${r.action.error.code}: ${r.action.error.message})` : ''}\n`,
        );
        return 0;
      }
      case 'stats': {
        const s = await call<'GET /v1/approvals/stats'>('GET', '/v1/approvals/stats');
        io.out(
          `approved ${s.approved} · denied ${s.denied} · expired ${s.expired} · pending ${s.pending} · approval rate ${s.approval_rate === null ? '-' : `${Math.round(s.approval_rate * 100)}%`} · time to decision p50 ${s.time_to_decision.p50 ?? '-'}, p95 ${s.time_to_decision.p95 ?? '-'}\n`,
        );
        return 0;
      }
      default:
        throw new UsageError(USAGE);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(e.message.endsWith('\n') ? e.message : `${e.message}\n`);
      return 2;
    }
    if (e instanceof RefusedError) {
      io.err(`arx approvals: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

class RefusedError extends Error {}
