#!/usr/bin/env -S npx tsx
/**
 * `npm run demo`: the integration brief's automated access review against `npm run dev`.
 *
 * 1. reads .arx/dev.json (apiUrl, tokens) written by `npm run dev` (or ARX_DEV_FILE)
 * 2. starts a local Okta (the Management API paths ARX uses) on 127.0.0.1
 * 3. configures the okta connector (PUT /v1/connectors/okta), pushes and promotes the brief's YAML policy
 * 4. registers an agent and runs the review with the SDK: list active users and read the risky
 *    one (autonomous), deactivate it (held for approval), approve as the manager through the API
 * 5. prints the result with its approval metadata and a summary line
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ActionDenied, ArxClient, type ActionResult } from '../sdk/index.js';

export const ACCESS_REVIEW_POLICY = `# The brief's Okta access review (ARX YAML policy)
- name: okta-access-review
  connector: okta
  operations:
    "users:read*": low          # autonomous
    "groups:read*": low
    "users:create": medium      # auto-approved, audit-logged
    "users:update": medium
    "users:deactivate": high    # human approval required
    "users:suspend": high
    "users:reset_password": high
  risk_max: high                # anything riskier is forbidden
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
  hitl_channel: "#access-reviews"
  hitl_timeout: 1h
  separation_of_duties: true
`;

interface DevFile {
  apiUrl: string;
  tenantId: string;
  tokens: { admin: string; approver: string; auditor: string };
}

interface OktaUser {
  id: string;
  status: string;
  lastLogin: string | null;
  profile: { login: string; email: string; firstName: string; lastName: string };
}

/** Where the local Okta answers the calls it received (`METHOD /path`, oldest first); not an Okta path. */
export const CALLS_PATH = '/_arx/calls';

/** A local stand-in for Okta's Management API (SSWS auth; users list/read/lifecycle). */
export async function startFakeOkta(
  apiToken: string,
): Promise<{ url: string; users: Map<string, OktaUser>; calls: string[]; close(): Promise<void> }> {
  const days = (n: number) => new Date(Date.now() - n * 86400_000).toISOString();
  const users = new Map<string, OktaUser>(
    [
      {
        id: '00u1alice',
        status: 'ACTIVE',
        lastLogin: days(1),
        profile: { login: 'alice@acme.com', email: 'alice@acme.com', firstName: 'Alice', lastName: 'Ng' },
      },
      {
        id: '00u2bob',
        status: 'ACTIVE',
        lastLogin: days(3),
        profile: { login: 'bob@acme.com', email: 'bob@acme.com', firstName: 'Bob', lastName: 'Ruiz' },
      },
      {
        id: '00u3john',
        status: 'ACTIVE',
        lastLogin: days(142),
        profile: { login: 'john@acme.com', email: 'john@acme.com', firstName: 'John', lastName: 'Doe' },
      },
    ].map((u) => [u.id, u]),
  );
  const calls: string[] = [];
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://okta.local');
      // Not Okta's API: the calls received so far, for tests that check an action reached Okta once.
      if (req.method === 'GET' && u.pathname === CALLS_PATH) {
        if (req.headers.authorization !== `SSWS ${apiToken}`)
          return send(res, 401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' });
        return send(res, 200, calls);
      }
      calls.push(`${req.method} ${u.pathname}`);
      if (req.headers.authorization !== `SSWS ${apiToken}`)
        return send(res, 401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' });
      const find = (k: string) => users.get(k) ?? [...users.values()].find((x) => x.profile.login === k);
      if (req.method === 'GET' && u.pathname === '/api/v1/users') {
        const m = /status eq "(\w+)"/.exec(u.searchParams.get('filter') ?? '');
        return send(
          res,
          200,
          [...users.values()].filter((x) => !m || x.status === m[1]),
        );
      }
      let m = /^\/api\/v1\/users\/([^/]+)$/.exec(u.pathname);
      if (req.method === 'GET' && m) {
        const user = find(decodeURIComponent(m[1]!));
        return user
          ? send(res, 200, user)
          : send(res, 404, { errorCode: 'E0000007', errorSummary: 'Not found: Resource not found' });
      }
      m = /^\/api\/v1\/users\/([^/]+)\/lifecycle\/(deactivate|suspend|reset_password)$/.exec(u.pathname);
      if (req.method === 'POST' && m) {
        const user = find(decodeURIComponent(m[1]!));
        if (!user) return send(res, 404, { errorCode: 'E0000007', errorSummary: 'Not found: Resource not found' });
        user.status = m[2] === 'deactivate' ? 'DEPROVISIONED' : m[2] === 'suspend' ? 'SUSPENDED' : user.status;
        return send(res, 200, {});
      }
      return send(res, 404, {
        errorCode: 'E0000022',
        errorSummary: 'The endpoint does not support the provided HTTP method',
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, users, calls, close: () => new Promise((r) => server.close(() => r())) };
}

type Out = (line: string) => void;

async function adminCall(
  dev: DevFile,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(dev.apiUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    throw new Error(
      `${method} ${path} → ${res.status} ${String(json.title ?? '')}${json.detail ? `: ${String(json.detail)}` : ''}`,
    );
  return json;
}

const seconds = (ms: number) =>
  ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;

/** Runs the access review; returns the summary line. */
export async function runDemo(dev: DevFile, out: Out = (l) => process.stdout.write(`${l}\n`)): Promise<string> {
  const apiToken = `okta-demo-${randomBytes(6).toString('hex')}`;
  const okta = await startFakeOkta(apiToken);
  try {
    out(`ARX demo: automated Okta access review against ${dev.apiUrl} (tenant ${dev.tenantId})`);
    out(`  local Okta at ${okta.url}`);
    await adminCall(dev, dev.tokens.admin, 'PUT', '/v1/connectors/okta', {
      config: { base_url: okta.url },
      secret: { api_token: apiToken },
    });
    out('  okta connector configured (API token stored in Secrets Manager, never returned)');
    const bundle = await adminCall(dev, dev.tokens.admin, 'POST', '/v1/policies/bundles', {
      format: 'yaml',
      document: ACCESS_REVIEW_POLICY,
    });
    const live = await adminCall(
      dev,
      dev.tokens.admin,
      'POST',
      `/v1/policies/bundles/${String(bundle.bundle_id)}/promote`,
    );
    out(`  policy okta-access-review promoted (bundle ${String(bundle.bundle_id)}, version ${String(live.version)})`);
    const agent = await adminCall(dev, dev.tokens.admin, 'POST', '/v1/identity/agents', {
      platform: 'langchain',
      platform_native_id: `access-reviewer-${randomBytes(4).toString('hex')}`,
      name: 'access-reviewer',
      owner: { oidc_sub: 'it-ops-lead', email: 'it-ops-lead@example.com', team: 'it' },
    });
    out(`  agent ${String(agent.agent_id)} registered (${String(agent.spiffe_id)})`);

    const arx = new ArxClient({ apiUrl: dev.apiUrl, bootstrapToken: String(agent.bootstrap_token), pollWaitS: 5 });
    const correlationId = randomUUID();
    const results: { label: string; r: ActionResult }[] = [];
    out(`\nAccess review (correlation id ${correlationId})`);

    // The PDP reloads a promoted bundle within its poll window (≤ 30 s); wait for it on first use.
    let list: ActionResult<{ body: OktaUser[] }> | undefined;
    const until = Date.now() + 45_000;
    while (!list) {
      try {
        list = await arx.execute<{ body: OktaUser[] }>({
          connector: 'okta',
          operation: 'users:read',
          params: { filter: 'status eq "ACTIVE"' },
          correlationId,
        });
      } catch (e) {
        if (!(e instanceof ActionDenied) || e.by !== 'policy' || Date.now() > until) throw e;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    results.push({ label: 'users:read (active users)', r: list });
    out(`  1. okta:users:read → ${list.result.body.length} active users (risk ${list.decision.risk}, autonomous)`);

    const stale = list.result.body
      .filter((u) => u.lastLogin && Date.now() - Date.parse(u.lastLogin) > 90 * 86400_000)
      .sort((a, b) => Date.parse(a.lastLogin!) - Date.parse(b.lastLogin!))[0];
    if (!stale) throw new Error('no risky user found');
    const detail = await arx.execute<{ body: OktaUser }>({
      connector: 'okta',
      operation: 'users:read',
      params: { user_id: stale.id },
      correlationId,
    });
    results.push({ label: `users:read (${stale.profile.login})`, r: detail });
    out(`  2. okta:users:read ${stale.profile.login} → last login ${detail.result.body.lastLogin} (autonomous)`);

    // The deactivation is held; a manager approves it through the API while the agent waits.
    const approver = (async () => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const pending = (await adminCall(dev, dev.tokens.approver, 'GET', '/v1/approvals?status=pending')) as {
          items: { approval_id: string; agent_id: string; params: { user_id?: string } }[];
        };
        const mine = pending.items.find((a) => a.agent_id === agent.agent_id && a.params.user_id === stale.id);
        if (mine) {
          await new Promise((r) => setTimeout(r, 1500)); // a human takes a moment
          out(
            `     manager approves ${mine.approval_id} through the API (arx approvals approve ${mine.approval_id} --reason …)`,
          );
          await adminCall(dev, dev.tokens.approver, 'POST', `/v1/approvals/${mine.approval_id}/decision`, {
            decision: 'approve',
            reason: 'Verified with HRIS: contractor left in Q1',
          });
          return;
        }
        if (Date.now() > deadline) throw new Error('the deactivation never appeared in the approval queue');
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    const deactivated = await arx.execute({
      connector: 'okta',
      operation: 'users:deactivate',
      params: { user_id: stale.id },
      correlationId,
      reason: `no login for ${Math.floor((Date.now() - Date.parse(stale.lastLogin!)) / 86400_000)} days`,
      onPending: (p) =>
        out(
          `  3. okta:users:deactivate ${stale.profile.login} → held for approval ${p.approvalId} (risk high, decide by ${p.expiresAt})`,
        ),
    });
    await approver;
    results.push({ label: `users:deactivate (${stale.profile.login})`, r: deactivated });
    const m = deactivated.approvalMetadata!;
    out(`     executed after approval; Okta status now ${okta.users.get(stale.id)!.status}`);
    out(`\nResult with approval metadata (action ${deactivated.actionId}, trace ${deactivated.traceId}):`);
    out(
      JSON.stringify(
        {
          approval_metadata: {
            approval_id: m.approval_id,
            approver: m.approver,
            decided_at: m.decided_at,
            reason: m.reason,
            policy: m.policy,
          },
        },
        null,
        2,
      ).replace(/^/gm, '  '),
    );
    if (m.time_to_decision_ms !== undefined) out(`  approved in ${seconds(m.time_to_decision_ms)}`);

    const autonomous = results.filter((x) => !x.r.approvalMetadata).length;
    const approved = results.filter((x) => x.r.approvalMetadata).length;
    const summary = `${results.length} actions: ${autonomous} autonomous, ${approved} approved`;
    out(`\n${summary}`);
    return summary;
  } finally {
    await okta.close();
  }
}

function readDevFile(): DevFile {
  const file = process.env.ARX_DEV_FILE ?? join(process.cwd(), '.arx', 'dev.json');
  if (!existsSync(file)) throw new Error(`${file} not found: start the control plane first with \`npm run dev\``);
  return JSON.parse(readFileSync(file, 'utf8')) as DevFile;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runDemo(readDevFile()).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`demo failed: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
