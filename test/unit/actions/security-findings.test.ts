import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { compileBundle } from '../../../lambdas/policy/core/bundle.js';
import { decideWith, loadBundle } from '../../../lambdas/policy/core/decide.js';
import { YamlPolicyError, compileYamlPolicy } from '../../../lambdas/policy/core/yaml-policy.js';
import { httpConnector } from '../../../lambdas/actions/connectors/http.js';
import { looksLikeEmail } from '../../../lambdas/actions/core/callbacks.js';
import { routedTo } from '../../../lambdas/actions/core/channels.js';
import { MAX_HITL_TIMEOUT_S, MAX_PARAMS_BYTES } from '../../../lambdas/actions/core/guards.js';
import {
  TRUNCATION_NOTE,
  canonicalParams,
  escapeMrkdwn,
  paramsText,
  singleLine,
} from '../../../lambdas/actions/core/present.js';
import { approvalView } from '../../../lambdas/actions/core/service.js';
import {
  parseButtonValue,
  peekLinkToken,
  verifySlackSignature,
  verifyWebhookSignature,
} from '../../../lambdas/actions/core/signing.js';
import { ExecuteActionBody, SlackApproverBody } from '../../../lambdas/actions/schemas.js';
import { ConflictError, DependencyError, ForbiddenError, ValidationError } from '../../../lambdas/shared/errors.js';
import { agent, harness, manager, trace } from './fakes.js';

const deactivate = { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'john@acme.com' } };
const owner = {
  id: 'owner-sub',
  display: 'owner@example.com',
  email: 'owner@example.com',
  principalType: 'human' as const,
  via: 'api' as const,
};

async function held(
  h: ReturnType<typeof harness>,
  input: { connector: string; operation: string; params: Record<string, unknown>; reason?: string } = deactivate,
) {
  const out = await h.svc.submit(agent, input, trace);
  if (out.kind !== 'pending') throw new Error(`expected pending, got ${out.kind}`);
  return out;
}

describe('F4: a decision counts only on a channel the approval was routed to', () => {
  it('F4: refuses a webhook decision for an approval routed to Slack', async () => {
    const h = harness();
    const { approval } = await held(h); // routed to #access-reviews (Slack)
    const viaWebhook = {
      id: 'webhook:cfo@corp',
      display: 'cfo@corp',
      email: 'cfo@corp',
      principalType: 'human' as const,
      via: 'webhook' as const,
    };
    await expect(h.svc.decide('t1', approval.approval_id, viaWebhook, 'approve', 'ok')).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(
      h.svc.decide('t1', approval.approval_id, { ...viaWebhook, via: 'email' }, 'deny', 'no'),
    ).rejects.toBeInstanceOf(ForbiddenError);
    expect((await h.store.getApproval('t1', approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
    // the API (approver role) always decides
    expect((await h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).action.status).toBe('executed');
  });

  it('F4: routes are read from the policy channel: Slack, e-mail and webhook each decide only their own', () => {
    expect(routedTo('#access-reviews', 'slack')).toBe(true);
    expect(routedTo('#access-reviews', 'webhook')).toBe(false);
    expect(routedTo('#access-reviews email', 'email')).toBe(true);
    expect(routedTo('email:cab@acme.com', 'slack')).toBe(false);
    expect(routedTo(undefined, 'webhook')).toBe(false);
    expect(routedTo(undefined, 'api')).toBe(true);
  });
});

describe('F10: separation of duties is on by default for high and critical risk', () => {
  it('F10: refuses the agent owner approving a high-risk action although the policy did not ask for separation', async () => {
    const h = harness();
    expect(h.pdp.hitl.separation_of_duties).toBe(false);
    const { approval } = await held(h);
    expect(approval.separation_of_duties).toBe(true);
    await expect(h.svc.decide('t1', approval.approval_id, owner, 'approve', 'mine')).rejects.toThrow(
      /separation of duties/,
    );
    expect(h.okta.calls).toHaveLength(0);
  });

  it('F10: critical risk is separated too; medium risk follows the policy', async () => {
    const h = harness();
    h.pdp.table['okta:users:deactivate'] = { effect: 'permit', approval: 'hitl', risk: 'critical' };
    expect((await held(h)).approval.separation_of_duties).toBe(true);
    h.pdp.table['okta:users:deactivate'] = { effect: 'permit', approval: 'hitl', risk: 'medium' };
    expect((await held(h)).approval.separation_of_duties).toBe(false);
  });
});

describe('F11: approvers see canonical, untruncated params and inert agent text', () => {
  const spoof = { body: 'x'.repeat(2600), path: '/v1/users/123', method: 'DELETE' };

  it('F11: puts method and path first whatever order the agent sent', () => {
    expect(Object.keys(canonicalParams(spoof))).toEqual(['method', 'path', 'body']);
    expect(Object.keys(canonicalParams({ z: 1, a: { y: 1, b: 2 }, user_id: 'u' }))).toEqual(['user_id', 'a', 'z']);
    expect(Object.keys(canonicalParams({ a: { y: 1, b: 2 } }).a as object)).toEqual(['b', 'y']);
  });

  it('F11: never cuts silently: a long params text says "truncated — open in ARX" and keeps method/path visible', () => {
    const r = paramsText(spoof, 2500, 'https://arx.example.com/v1/approvals/apr_1');
    expect(r.truncated).toBe(true);
    expect(r.text.length).toBeLessThanOrEqual(2500);
    expect(r.text).toContain(`${TRUNCATION_NOTE}: https://arx.example.com/v1/approvals/apr_1`);
    expect(r.text.indexOf('"DELETE"')).toBeLessThan(r.text.indexOf('"body"'));
    expect(paramsText({ method: 'GET', path: '/' }, 2500).truncated).toBe(false);
  });

  it('F11: the API view of an approval carries the full params in canonical order', async () => {
    const h = harness();
    const { approval } = await held(h);
    const view = approvalView({ ...approval, params: spoof });
    expect(Object.keys(view.params as object)).toEqual(['method', 'path', 'body']);
    expect((view.params as { body: string }).body).toHaveLength(2600);
  });

  it('F11: makes <!channel>, links and fake bullet lines in agent text inert', () => {
    const reason = 'Routine read\n• Risk: LOW <!channel> <https://evil.example|click> & more';
    const shown = escapeMrkdwn(singleLine(reason));
    expect(shown).not.toContain('\n');
    expect(shown).not.toMatch(/[<>]/);
    expect(shown).toContain('&lt;!channel&gt;');
    expect(shown).toContain('&amp; more');
    expect(singleLine('a\u2028b\rc\u0085d')).toBe('a b c d');
  });
});

describe('F21b: approval and execution re-check the agent inventory status; the hold is capped', () => {
  for (const status of ['suspended', 'terminated', 'revoked'] as const) {
    it(`F21b: a ${status} agent's pending approval is cancelled on approve and never runs`, async () => {
      const h = harness();
      const { approval, action } = await held(h);
      h.agents.agents.set('agt_1', { ...h.agents.agents.get('agt_1')!, status });
      await expect(h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
        ConflictError,
      );
      expect((await h.store.getApproval('t1', approval.approval_id))!.status).toBe('cancelled');
      expect((await h.store.getAction('t1', action.action_id))!.status).toBe('cancelled');
      expect(h.okta.calls).toHaveLength(0);
    });
  }

  it('F21b: an approved action whose agent was terminated before it ran is cancelled by the executor', async () => {
    const h = harness();
    const { action } = await held(h);
    // approved, then the agent is terminated before the (crashed) executor is resumed
    await h.store.transition('t1', action.action_id, ['pending_approval'], 'pending_execution', {
      updated_at: '2026-04-24T10:00:00Z',
      approval_metadata: {
        approval_id: action.approval_id!,
        approver: 'manager@example.com',
        decided_at: '2026-04-24T10:00:00Z',
        reason: 'ok',
        policy: null,
        channel: 'api',
        time_to_decision_ms: 1,
      },
    });
    h.agents.agents.set('agt_1', { ...h.agents.agents.get('agt_1')!, status: 'terminated' });
    h.clock.advance(120_000);
    await h.svc.recoverStalled();
    expect(await h.store.getAction('t1', action.action_id)).toMatchObject({
      status: 'cancelled',
      error: { code: 'agent_inactive' },
    });
    expect(h.okta.calls).toHaveLength(0);
  });

  it('F21b: an agent missing from the inventory never acts, even autonomously', async () => {
    const h = harness();
    h.agents.agents.delete('agt_1');
    const out = await h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: {} }, trace);
    expect(out.action).toMatchObject({ status: 'cancelled', error: { code: 'agent_inactive' } });
    expect(h.okta.calls).toHaveLength(0);
  });

  it('F21b: an unreadable inventory leaves the approval pending (503) and runs nothing', async () => {
    const h = harness();
    const { approval } = await held(h);
    h.agents.get = async () => {
      throw new Error('dynamodb down');
    };
    await expect(h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
      DependencyError,
    );
    expect((await h.store.getApproval('t1', approval.approval_id))!.status).toBe('pending');
    expect(h.okta.calls).toHaveLength(0);
  });

  it('F21b: a policy hold of 30 days is capped at 7 days', async () => {
    const h = harness();
    h.pdp.hitl = { ...h.pdp.hitl, timeout_seconds: 30 * 86400 };
    const { approval } = await held(h);
    expect(Date.parse(approval.expires_at) - h.clock.now().getTime()).toBe(MAX_HITL_TIMEOUT_S * 1000);
  });

  it('F21b: a YAML policy asking for a hold above 7 days is refused at push (400)', () => {
    const doc = (t: string) =>
      `- name: p\n  connector: okta\n  operations: { "users:deactivate": high }\n  risk_max: high\n  hitl_timeout: ${t}\n`;
    expect(() => compileYamlPolicy(doc('8d'))).toThrow(YamlPolicyError);
    expect(() => compileYamlPolicy(doc('7d'))).not.toThrow();
  });
});

describe('F30: pending approvals are re-decided against the live bundle', () => {
  it('F30: a forbid promoted while the approval was pending makes it un-approvable and cancels the action', async () => {
    const h = harness();
    const { approval, action } = await held(h);
    h.pdp.table['okta:users:deactivate'] = { effect: 'forbid', approval: 'none', risk: 'critical' };
    const e = await h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as Error).message).toMatch(/live policy now forbids/);
    expect((await h.store.getApproval('t1', approval.approval_id))!.status).toBe('cancelled');
    expect(await h.store.getAction('t1', action.action_id)).toMatchObject({
      status: 'cancelled',
      error: { code: 'policy_forbids' },
    });
    expect(h.okta.calls).toHaveLength(0);
    expect(h.pdp.calls.at(-1)).toMatchObject({ principal: { id: 'agt_1' }, action: 'okta:users:deactivate' });
  });

  it('F30: a PDP that cannot evaluate leaves the approval pending (503) instead of cancelling it', async () => {
    const h = harness();
    const { approval } = await held(h);
    h.pdp.fail = true;
    await expect(h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).rejects.toBeInstanceOf(
      DependencyError,
    );
    expect((await h.store.getApproval('t1', approval.approval_id))!.status).toBe('pending');
    h.pdp.fail = false;
    expect((await h.svc.decide('t1', approval.approval_id, manager, 'approve', 'ok')).action.status).toBe('executed');
  });
});

/** Every regex literal in the TypeScript files under `dir`, found by the TypeScript parser. */
function regexLiterals(dir: string): { file: string; source: string }[] {
  const out: { file: string; source: string }[] = [];
  const visit = (file: string, node: ts.Node) => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const text = node.getText();
      out.push({ file, source: text.slice(1, text.lastIndexOf('/')) });
    }
    ts.forEachChild(node, (c) => visit(file, c));
  };
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts'))
        visit(p, ts.createSourceFile(p, readFileSync(p, 'utf8'), ts.ScriptTarget.Latest, true));
    }
  };
  walk(dir);
  return out;
}

describe('F3 (actions side): caller input is matched in linear time', () => {
  const require = createRequire(import.meta.url);
  const safe = require('safe-regex2') as (re: RegExp | string) => boolean;

  it('F3: every regex literal under lambdas/actions passes safe-regex2', () => {
    const found = regexLiterals(join(process.cwd(), 'lambdas/actions'));
    expect(found.length).toBeGreaterThan(10);
    const unsafe = found.filter((r) => !safe(r.source));
    expect(unsafe).toEqual([]);
  });

  it('F3: answers attack-shaped inputs of 250 000 characters in well under a second', () => {
    const evil = `a@${'.'.repeat(250_000)}@`;
    const colons = `a:${'a'.repeat(250_000)}!`;
    const t0 = performance.now();
    expect(looksLikeEmail(evil)).toBe(false);
    expect(ExecuteActionBody.safeParse({ connector: 'okta', operation: colons, params: {} }).success).toBe(false);
    expect(
      ExecuteActionBody.safeParse({ connector: 'okta', operation: 'users:read', params: {}, correlation_id: evil })
        .success,
    ).toBe(false);
    expect(SlackApproverBody.safeParse({ approver_sub: 'x', approver_email: evil }).success).toBe(false);
    expect(parseButtonValue(`approve:${'a'.repeat(250_000)}`)).toBeNull();
    expect(peekLinkToken(evil)).toBeNull();
    expect(
      verifySlackSignature({
        signingSecret: 's',
        timestamp: '1'.repeat(250_000),
        signature: 'v0=x',
        rawBody: '',
        now: new Date(),
      }).ok,
    ).toBe(false);
    expect(verifyWebhookSignature('s', `t=${'1'.repeat(250_000)},v1=x`, '', new Date()).ok).toBe(false);
    expect(
      httpConnector.operations['request:get']!.params.safeParse({ path: `/${' /'.repeat(125_000)}` }).success,
    ).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('F3: refuses params above 64 KB with a 400 before any schema runs, and stores nothing', async () => {
    const h = harness();
    const big = { filter: `a@${'.'.repeat(MAX_PARAMS_BYTES)}@` };
    await expect(
      h.svc.submit(agent, { connector: 'okta', operation: 'users:read', params: big }, trace),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(h.store.actions.size).toBe(0);
    expect(h.audit.records).toHaveLength(0);
    expect(h.pdp.calls).toHaveLength(0);
  });
});

describe('F24: http requests are method-level operations a policy can tell apart', () => {
  it('F24: http:request:get and http:request:delete are separate actions with separate risk', () => {
    expect(Object.keys(httpConnector.operations).sort()).toEqual([
      'request:delete',
      'request:get',
      'request:patch',
      'request:post',
      'request:put',
    ]);
    const yaml = `- name: tickets\n  connector: http\n  operations:\n    "request:get": low\n    "request:delete": high\n  risk_max: high\n  approval: { low: none, medium: auto, high: hitl, critical: hitl }\n`;
    const r = compileBundle(
      { format: 'yaml', document: yaml },
      { tenantId: 't1', bundleId: 'pb_1', version: 1, createdAt: '2026-01-01T00:00:00Z', revokedAgentIds: [] },
    );
    if (!r.ok) throw new Error('invalid bundle');
    const b = loadBundle(r.content, 'sha256:x');
    const ask = (action: string) =>
      decideWith(b, { tenantId: 't1', principal: { type: 'Agent', id: 'agt_1' }, action }, 'clear');
    expect(ask('http:request:get')).toMatchObject({ effect: 'permit', approval: 'none', risk: 'low' });
    expect(ask('http:request:delete')).toMatchObject({ effect: 'permit', approval: 'hitl', risk: 'high' });
    expect(ask('http:request:post')).toMatchObject({ effect: 'forbid' });
  });

  it('F24: a GET or DELETE carries no body and the method is never a param', () => {
    const get = httpConnector.operations['request:get']!.params;
    expect(get.safeParse({ path: '/v1/users/1' }).success).toBe(true);
    expect(get.safeParse({ path: '/v1/users/1', body: {} }).success).toBe(false);
    expect(get.safeParse({ path: '/v1/users/1', method: 'DELETE' }).success).toBe(false);
    expect(httpConnector.operations['request:post']!.params.safeParse({ path: '/t', body: { a: 1 } }).success).toBe(
      true,
    );
  });
});
