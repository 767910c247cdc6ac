/**
 * `arx terminate` — the kill switch from the command line.
 *
 *   arx terminate <agent_id> --reason "exfiltration suspected" [--wait [seconds]] [--json]
 *   arx terminate --cohort <cohort_id> --reason <text> [--wait [seconds]]
 *   arx terminate --emergency-stop --reason <text>      (needs a second, different admin within 10 min)
 *   arx terminate status <termination_id>
 *
 * Talks to the API (--api URL, else ARX_API_URL, else .arx/dev.json) with the bearer token in
 * ARX_TOKEN (else the admin token in .arx/dev.json). Exit codes: 0 ok (and, with --wait, the
 * termination is `complete`), 1 refused by ARX or ended `partial_failure`, 2 usage.
 */
import { defaultIo, endpoint as resolveEndpoint, parseArgs, UsageError, type CliIo, type Flags } from '../io.js';
import type { ResponseOf } from '../../sdk/contract.gen.js';

const endpoint = (flags: Flags, io: CliIo) => resolveEndpoint(flags, io, 'admin');

const USAGE = `usage:
  arx terminate <agent_id> --reason <text> [--wait [seconds]] [--json] [--api <url>]
  arx terminate --cohort <cohort_id> --reason <text> [--wait [seconds]] [--json] [--api <url>]
  arx terminate --emergency-stop --reason <text> [--tenant <tenant_id>] [--api <url>]
  arx terminate status <termination_id> [--json] [--api <url>]
`;

type Termination = ResponseOf<'GET /v1/terminations/{id}', 200>;
type QuorumPending = Exclude<ResponseOf<'POST /v1/org/{tenant_id}/emergency_stop', 202>, Termination>;
type Problem = { title?: string; detail?: string };

function describe(t: Termination): string {
  const steps = t.steps.map((s) => `${s.name}:${s.status}${s.attempts > 1 ? `(x${s.attempts})` : ''}`).join(' ');
  return `${t.termination_id} ${t.status} [${t.scope} ${t.agent_ids.length} agent(s)] ${steps}${t.attestation_url ? `\n  attestation: ${t.attestation_url}` : ''}\n`;
}

export async function run(args: string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    const { pos, flags } = parseArgs(
      args,
      (name, next) => ['json', 'emergency-stop'].includes(name) || (name === 'wait' && !/^\d+$/.test(next)),
    );
    if (flags.help || (!pos.length && !flags.cohort && !flags['emergency-stop'])) {
      io.out(USAGE);
      return flags.help ? 0 : 2;
    }
    const { api, token, dev } = endpoint(flags, io);
    /** `T` is the body of a success; an error answers problem details. */
    const request = async <T>(
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ status: number; json: T & Problem }> => {
      const res = await io.fetch(api + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, json: (text ? JSON.parse(text) : {}) as T & Problem };
    };
    const show = (t: Termination) => io.out(flags.json ? `${JSON.stringify(t, null, 2)}\n` : describe(t));
    const refused = (r: { status: number; json: Problem }) => {
      io.err(`arx terminate: ${r.status} ${r.json.title ?? ''}${r.json.detail ? `: ${r.json.detail}` : ''}\n`);
      return 1;
    };

    if (pos[0] === 'status') {
      if (!pos[1]) throw new UsageError('status needs a termination id');
      const r = await request<Termination>('GET', `/v1/terminations/${encodeURIComponent(pos[1])}`);
      if (r.status !== 200) return refused(r);
      show(r.json);
      return r.json.status === 'partial_failure' ? 1 : 0;
    }

    const reason = typeof flags.reason === 'string' ? flags.reason : '';
    if (!reason) throw new UsageError('--reason <text> is required');
    let r: { status: number; json: (Termination | QuorumPending) & Problem };
    if (flags['emergency-stop']) {
      const tenant = typeof flags.tenant === 'string' ? flags.tenant : dev.tenantId;
      if (!tenant) throw new UsageError('--tenant <tenant_id> is required');
      r = await request<Termination | QuorumPending>('POST', `/v1/org/${encodeURIComponent(tenant)}/emergency_stop`, {
        reason,
      });
      const q = r.json;
      if (r.status === 202 && q.status === 'pending_quorum') {
        io.out(
          `emergency stop requested (${q.request_id}); a second, different admin must confirm before ${q.expires_at}\n`,
        );
        return 0;
      }
    } else if (typeof flags.cohort === 'string') {
      r = await request<Termination>('POST', `/v1/cohorts/${encodeURIComponent(flags.cohort)}/terminate`, { reason });
    } else {
      r = await request<Termination>('POST', `/v1/agents/${encodeURIComponent(pos[0]!)}/terminate`, { reason });
    }
    if (r.status !== 202 && r.status !== 200) return refused(r);
    let t = r.json as Termination;
    if (flags.wait) {
      const deadline = Date.now() + (typeof flags.wait === 'string' ? Number(flags.wait) : 60) * 1000;
      while (t.status === 'in_flight' && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 250));
        const g = await request<Termination>('GET', `/v1/terminations/${encodeURIComponent(t.termination_id)}`);
        if (g.status !== 200) return refused(g);
        t = g.json;
      }
    }
    show(t);
    return t.status === 'partial_failure' ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`arx terminate: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}
