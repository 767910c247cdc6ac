import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tool as lcTool } from '@langchain/core/tools';
import {
  Agent,
  Runner,
  tool as oaTool,
  Usage,
  type Model,
  type ModelRequest,
  type ModelResponse,
} from '@openai/agents';
import { ActionDenied, ArxClient } from '../../sdk/index.js';
import { governLangChainTool } from '../../sdk/langchain.js';
import { arxResult, arxToolGuardrail } from '../../sdk/openai-agents.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';
import { fakeOkta, recordingServer } from '../integration/actions/support.js';

const POLICY = `
- name: okta-access-review
  connector: okta
  operations:
    "users:read*": low
    "users:deactivate": high
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
  hitl_channel: "#access-reviews"
  hitl_timeout: 1h
`;

/** A scripted model: the first turn calls `toolName` with `args`, the next answers with the tool output. */
function scriptedModel(toolName: string, args: Record<string, unknown>): Model & { seen: unknown[] } {
  const seen: unknown[] = [];
  return {
    seen,
    async getResponse(req: ModelRequest): Promise<ModelResponse> {
      const items = Array.isArray(req.input) ? req.input : [];
      const out = items.find((i) => (i as { type?: string }).type === 'function_call_result') as
        | { output?: unknown }
        | undefined;
      if (!out) {
        return {
          usage: new Usage(),
          responseId: 'r1',
          output: [
            {
              type: 'function_call',
              callId: 'call_1',
              name: toolName,
              arguments: JSON.stringify(args),
              status: 'completed',
            },
          ],
        };
      }
      const o = out.output as string | { text?: string };
      seen.push(typeof o === 'string' ? o : (o.text ?? JSON.stringify(o)));
      return {
        usage: new Usage(),
        responseId: 'r2',
        output: [
          { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'done' }] },
        ],
      };
    },
    // biome-ignore lint/correctness/useYield: the model interface needs a stream method this test never calls
    async *getStreamedResponse() {
      throw new Error('not streamed in this test');
    },
  };
}

describe('SDK framework wrappers with the real packages (LangChain.js, OpenAI Agents SDK)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let approver: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  const fake = fakeOkta('okta-fw-token');

  const agentClient = async () => {
    const r = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `fw-${Math.random().toString(36).slice(2)}`,
        owner: { oidc_sub: 'owner-1' },
      },
    });
    expect(r.status).toBe(201);
    return {
      agentId: r.json.agent_id as string,
      arx: new ArxClient({ apiUrl: rt.url, bootstrapToken: r.json.bootstrap_token, pollWaitS: 2 }),
    };
  };
  const approveWhenPending = (agentId: string) =>
    eventually(
      async () => {
        const p = await call('GET', '/v1/approvals?status=pending', { token: approver });
        const mine = (p.json.items as { approval_id: string; agent_id: string }[]).find((a) => a.agent_id === agentId);
        if (!mine) return false;
        const d = await call('POST', `/v1/approvals/${mine.approval_id}/decision`, {
          token: approver,
          body: { decision: 'approve', reason: 'ticket IT-7' },
        });
        expect(d.status).toBe(200);
        return true;
      },
      30_000,
      300,
    );

  beforeAll(async () => {
    okta = await recordingServer((c) => fake.handler(c));
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    approver = await rt.idp.token({ sub: 'mgr', tenant: 'acme', roles: ['approver'], email: 'manager@example.com' });
    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: okta.url }, secret: { api_token: 'okta-fw-token' } },
        })
      ).status,
    ).toBe(200);
    const b = await call('POST', '/v1/policies/bundles', { token: admin, body: { format: 'yaml', document: POLICY } });
    expect((await call('POST', `/v1/policies/bundles/${b.json.bundle_id}/promote`, { token: admin })).status).toBe(200);
    const { arx } = await agentClient();
    // The PDP loads a promoted bundle within its poll window.
    await eventually(
      () =>
        arx.execute({ connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } }).then(
          () => true,
          (e: unknown) => (e instanceof ActionDenied ? false : Promise.reject(e)),
        ),
      45_000,
      1000,
    );
  }, 120_000);
  afterAll(async () => {
    await rt?.stop();
    await okta?.close();
  });

  it('LangChain.js: a governed tool keeps name, description and schema, and ARX executes the call', async () => {
    const { arx } = await agentClient();
    const base = lcTool(async () => 'never called directly', {
      name: 'okta_read_user',
      description: 'Read one Okta user.',
      schema: z.object({ user_id: z.string() }),
    });
    const governed = governLangChainTool(base, arx, { connector: 'okta', operation: 'users:read' });
    expect(governed.name).toBe('okta_read_user');
    expect(governed.description).toBe('Read one Okta user.');
    const before = okta.calls.length;
    const out = JSON.parse(String(await governed.invoke({ user_id: '00u2' }))) as {
      body: { profile: { login: string } };
    };
    expect(out.body.profile.login).toBe('jane@acme.com');
    expect(okta.calls.slice(before).map((c) => `${c.method} ${new URL(c.path, 'http://x').pathname}`)).toEqual([
      'GET /api/v1/users/00u2',
    ]);
  });

  it('LangChain.js: a forbidden call is returned to the model as text and never reaches Okta', async () => {
    const { arx } = await agentClient();
    const base = lcTool(async () => 'x', {
      name: 'okta_suspend',
      description: 'Suspend a user.',
      schema: z.object({ user_id: z.string() }),
    });
    const governed = governLangChainTool(base, arx, { connector: 'okta', operation: 'users:suspend' });
    const before = okta.calls.length;
    expect(String(await governed.invoke({ user_id: '00u2' }))).toMatch(/^ARX: policy forbids act_/);
    expect(okta.calls.length).toBe(before);
  });

  it('OpenAI Agents SDK: the tool input guardrail holds a high-risk call for a human, then the tool reads ARX’s result', async () => {
    const { agentId, arx } = await agentClient();
    const deactivate = oaTool({
      name: 'okta_deactivate',
      description: 'Deactivate an Okta user',
      parameters: z.object({ user_id: z.string() }),
      inputGuardrails: [
        arxToolGuardrail(arx, {
          connector: 'okta',
          operation: 'users:deactivate',
          reason: (a) => `offboarding ${String(a.user_id)}`,
        }),
      ],
      execute: async (_input, _ctx, details) => {
        const action = arxResult(details);
        return JSON.stringify({ executed: action?.status, approver: action?.approvalMetadata?.approver });
      },
    });
    const model = scriptedModel('okta_deactivate', { user_id: '00u3' });
    const agent = new Agent({ name: 'offboarder', instructions: 'offboard users', model, tools: [deactivate] });
    const approved = approveWhenPending(agentId);
    const result = await new Runner({ tracingDisabled: true }).run(agent, 'offboard 00u3');
    await approved;
    expect(result.finalOutput).toBe('done');
    expect(JSON.parse(String(model.seen[0]))).toEqual({ executed: 'executed', approver: 'manager@example.com' });
    expect(
      okta.calls.some((c) => c.method === 'POST' && c.path.startsWith('/api/v1/users/00u3/lifecycle/deactivate')),
    ).toBe(true);
  }, 60_000);

  it('OpenAI Agents SDK: a forbidden call is rejected with ARX’s reason and the tool never runs', async () => {
    const { arx } = await agentClient();
    let ran = false;
    const suspend = oaTool({
      name: 'okta_suspend',
      description: 'Suspend an Okta user',
      parameters: z.object({ user_id: z.string() }),
      inputGuardrails: [arxToolGuardrail(arx, { connector: 'okta', operation: 'users:suspend' })],
      execute: async () => {
        ran = true;
        return 'suspended';
      },
    });
    const model = scriptedModel('okta_suspend', { user_id: '00u1' });
    await new Runner({ tracingDisabled: true }).run(
      new Agent({ name: 'a', instructions: 'i', model, tools: [suspend] }),
      'suspend 00u1',
    );
    expect(ran).toBe(false);
    expect(String(model.seen[0])).toMatch(/^ARX: policy forbids act_/);
    await expect(
      arx.execute({ connector: 'okta', operation: 'users:suspend', params: { user_id: '00u1' } }),
    ).rejects.toBeInstanceOf(ActionDenied);
  });
});
