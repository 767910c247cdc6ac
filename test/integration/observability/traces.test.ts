import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace, SpanKind } from '@opentelemetry/api';
import { SimpleSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DeleteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { parquetReadObjects } from 'hyparquet';
import { documentClient } from '../../../lambdas/shared/aws.js';
import { ActionDenied, ArxClient } from '../../../sdk/index.js';
import { decodeTraces, OtlpTypes } from '../../../lambdas/observability/core/otlp.js';
import { DynamoSpanStore } from '../../../lambdas/observability/adapters/dynamo-span-store.js';
import type { LocalRuntime } from '../../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../../support/runtime.js';
import { fakeOkta, recordingServer } from '../actions/support.js';

const POLICY = `
- name: okta-reads
  connector: okta
  operations:
    "users:read*": low
  risk_max: low
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
`;

/** Captures each export's result so a test can assert the real exporter succeeded. */
class Capturing implements SpanExporter {
  readonly results: number[] = [];
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], cb: (r: { code: number; error?: Error }) => void): void {
    this.inner.export(spans, (r) => {
      this.results.push(r.code);
      cb(r);
    });
  }
  shutdown() {
    return this.inner.shutdown();
  }
}

function agentTracer(exporter: SpanExporter, agentId: string) {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'access-reviewer', 'gen_ai.agent.id': agentId }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return { provider, tracer: provider.getTracer('reviewer-agent', '0.1.0') };
}

/**
 * One trace per governed action, over HTTP against the local runtime (moto): the agent's own LLM
 * span goes through the real OpenTelemetry JS SDK and OTLP exporters, the action through the ARX
 * SDK with the same trace context, and both come back joined from GET /v1/traces/{id}.
 */
describe('Observability end to end (local runtime, OTel JS SDK exporters, moto)', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let auditor: string;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  let arx: ArxClient;
  let other: ArxClient;
  let agentId: string;

  beforeAll(async () => {
    const fake = fakeOkta('okta-obs-token');
    okta = await recordingServer((c) => fake.handler(c));
    rt = await startTestRuntime();
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    auditor = await rt.idp.token({ sub: 'aud', tenant: 'acme', roles: ['auditor'] });
    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: okta.url }, secret: { api_token: 'okta-obs-token' } },
        })
      ).status,
    ).toBe(200);
    const pushed = await call('POST', '/v1/policies/bundles', {
      token: admin,
      body: { format: 'yaml', document: POLICY },
    });
    expect((await call('POST', `/v1/policies/bundles/${pushed.json.bundle_id}/promote`, { token: admin })).status).toBe(
      200,
    );
    const reg = async (n: string) => {
      const r = await call('POST', '/v1/identity/agents', {
        token: admin,
        body: {
          platform: 'langchain',
          platform_native_id: `${n}-${randomBytes(3).toString('hex')}`,
          owner: { oidc_sub: 'owner-1' },
        },
      });
      expect(r.status).toBe(201);
      return r.json as { agent_id: string; bootstrap_token: string };
    };
    const a = await reg('reviewer');
    agentId = a.agent_id;
    arx = new ArxClient({ apiUrl: rt.url, bootstrapToken: a.bootstrap_token });
    other = new ArxClient({ apiUrl: rt.url, bootstrapToken: (await reg('other')).bootstrap_token });
    // The PDP loads a promoted bundle within its poll window: wait for it with an agent of its own.
    const warm = new ArxClient({ apiUrl: rt.url, bootstrapToken: (await reg('warm')).bootstrap_token });
    await eventually(
      () =>
        warm.execute({ connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } }).then(
          () => true,
          (e: unknown) => (e instanceof ActionDenied ? false : Promise.reject(e)),
        ),
      60_000,
      1000,
    );
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
    await okta?.close();
  });

  it("joins the agent's LLM span (OTLP protobuf) and the governed action it ran into one trace", async () => {
    const exporter = new Capturing(
      new ProtoExporter({
        url: `${rt.url}/v1/otlp/v1/traces`,
        headers: { authorization: `Bearer ${await arx.token()}` },
      }),
    );
    const { provider, tracer } = agentTracer(exporter, agentId);
    const llm = tracer.startSpan('chat claude-sonnet-4', {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-sonnet-4-20250514',
        'gen_ai.usage.input_tokens': 2000,
        'gen_ai.usage.cache_read.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 400,
        'gen_ai.input.messages': JSON.stringify([
          { role: 'user', parts: [{ type: 'text', content: 'list active users, my key is sk-live_0123456789abcdef' }] },
        ]),
      },
    });
    const sc = llm.spanContext();
    const tool = tracer.startSpan(
      'execute_tool okta:users:read',
      { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'okta:users:read' } },
      trace.setSpan(context.active(), llm),
    );
    const tsc = tool.spanContext();
    const r = await arx.execute({
      connector: 'okta',
      operation: 'users:read',
      params: {},
      traceparent: `00-${tsc.traceId}-${tsc.spanId}-01`,
    });
    tool.end();
    llm.end();
    await provider.forceFlush();
    expect(exporter.results).toEqual([0, 0]); // ExportResultCode.SUCCESS for both exports
    expect(r.traceId).toBe(sc.traceId);

    const view = await eventually(async () => {
      const v = await call('GET', `/v1/traces/${sc.traceId}`, { token: admin });
      return v.status === 200 && v.json.spans.some((s: { name: string }) => s.name === 'arx.execution')
        ? v.json
        : undefined;
    }, 30_000);
    const names = view.spans.map((s: { name: string }) => s.name).sort();
    expect(names).toEqual([
      'arx.decision',
      'arx.execution',
      'arx.governed_action',
      'chat claude-sonnet-4',
      'execute_tool okta:users:read',
    ]);
    const root = view.spans.find((s: { name: string }) => s.name === 'arx.governed_action');
    expect(root.parent_span_id).toBe(tsc.spanId); // ARX continues the caller's traceparent
    const decision = view.spans.find((s: { name: string }) => s.name === 'arx.decision');
    expect(decision.parent_span_id).toBe(root.span_id);
    expect(decision.attributes).toMatchObject({
      'gen_ai.tool.name': 'okta:users:read',
      'arx.decision': 'permit',
      'arx.risk': 'low',
      'arx.action.id': r.actionId,
    });
    expect(view.actions).toMatchObject([{ action_id: r.actionId, status: 'executed' }]);
    expect(view.decisions).toMatchObject([{ action_id: r.actionId, effect: 'permit', risk: 'low' }]);
    expect(view.audit_events.map((e: { event_type: string }) => e.event_type)).toEqual(
      expect.arrayContaining(['policy.decision', 'operation.executed']),
    );
    // 1,000 uncached × $3 + 1,000 cache reads × $0.30 + 400 × $15 per 1M
    expect(view.cost.usd).toBeCloseTo((1000 * 3 + 1000 * 0.3 + 400 * 15) / 1e6, 9);
    expect(view.cost.by_model).toHaveProperty('claude-sonnet-4-20250514');
    expect(view.partial).toBe(false);
    expect(JSON.stringify(view)).not.toContain('list active users');

    // content lives apart: not in the hot store, encrypted in the cold bucket
    const items = await documentClient().send(
      new QueryCommand({
        TableName: process.env.ARX_TRACES_TABLE!,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `T#acme#TRACE#${sc.traceId}` },
      }),
    );
    expect(JSON.stringify(items.Items)).not.toContain('list active users');
    const obj = await new S3Client({ forcePathStyle: true }).send(
      new GetObjectCommand({
        Bucket: process.env.ARX_ARTIFACT_BUCKET!,
        Key: `tenants/acme/traces/content/${sc.traceId}/${sc.spanId}.json`,
      }),
    );
    const stored = await obj.Body!.transformToString();
    expect(JSON.parse(stored)).toMatchObject({ alg: 'A256GCM' });
    expect(stored).not.toContain('list active users');

    // cold copy: Parquet partitioned by tenant and day plus a trace-id index entry, no content
    const s3 = new S3Client({ forcePathStyle: true });
    const index = await eventually(async () => {
      const l = await s3.send(
        new ListObjectsV2Command({
          Bucket: process.env.ARX_ARTIFACT_BUCKET!,
          Prefix: `tenants/acme/traces/index/${sc.traceId.slice(0, 2)}/${sc.traceId}/`,
        }),
      );
      // the agent's batches and ARX's own spans (one batch per action event)
      return (l.Contents?.length ?? 0) >= 3 ? l.Contents! : undefined;
    }, 20_000);
    const cold: Record<string, unknown>[] = [];
    for (const entry of index) {
      const [day, batch] = entry.Key!.split('/').at(-1)!.split('~');
      const bytes = await (
        await s3.send(
          new GetObjectCommand({
            Bucket: process.env.ARX_ARTIFACT_BUCKET!,
            Key: `tenants/acme/traces/cold/day=${day}/${batch}.parquet`,
          }),
        )
      ).Body!.transformToByteArray();
      expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('PAR1');
      cold.push(...(await parquetReadObjects({ file: bytes.slice().buffer })));
    }
    expect(cold.map((r) => r.span_id)).toEqual(expect.arrayContaining([sc.spanId, root.span_id, decision.span_id]));
    expect(JSON.stringify(cold)).not.toContain('list active users');

    // an auditor reads it; another agent does not see it; its own agent does
    expect((await call('GET', `/v1/traces/${sc.traceId}`, { token: auditor })).status).toBe(200);
    expect((await call('GET', `/v1/traces/${sc.traceId}`, { token: await other.token() })).status).toBe(404);
    expect((await call('GET', `/v1/traces/${sc.traceId}`, { token: await arx.token() })).status).toBe(200);

    const found = await call('POST', '/v1/traces/search', {
      token: admin,
      body: {
        from: new Date(Date.now() - 3600_000).toISOString(),
        to: new Date(Date.now() + 60_000).toISOString(),
        agent_id: agentId,
        min_cost_usd: 0.001,
      },
    });
    expect(found.status).toBe(200);
    expect(found.json.items.map((i: { trace_id: string }) => i.trace_id)).toContain(sc.traceId);
    const usage = await call('GET', `/v1/usage/agents/${agentId}`, { token: admin });
    expect(usage.json.usd).toBeGreaterThanOrEqual(view.cost.usd - 1e-9);
    expect(usage.json.tokens.cache_read).toBeGreaterThanOrEqual(1000);
  });

  it('answers GET /v1/traces/{id} from the Parquet cold copy through the trace-id index once the hot copy is gone', async () => {
    const exporter = new Capturing(
      new ProtoExporter({
        url: `${rt.url}/v1/otlp/v1/traces`,
        headers: { authorization: `Bearer ${await arx.token()}` },
      }),
    );
    const { provider, tracer } = agentTracer(exporter, agentId);
    const llm = tracer.startSpan('chat gpt-4o', {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 500,
        'gen_ai.usage.output_tokens': 50,
      },
    });
    const sc = llm.spanContext();
    const r = await arx.execute({
      connector: 'okta',
      operation: 'users:read',
      params: {},
      traceparent: `00-${sc.traceId}-${sc.spanId}-01`,
    });
    llm.end();
    await provider.forceFlush();
    expect(exporter.results).toEqual([0]);
    const hot = await eventually(async () => {
      const v = await call('GET', `/v1/traces/${sc.traceId}`, { token: admin });
      return v.status === 200 && v.json.spans.some((s: { name: string }) => s.name === 'arx.execution')
        ? v.json
        : undefined;
    }, 30_000);
    expect(hot.spans.map((s: { name: string }) => s.name).sort()).toEqual([
      'arx.decision',
      'arx.execution',
      'arx.governed_action',
      'chat gpt-4o',
    ]);
    // ARX's spans reach the cold store through the bus consumer: wait for their index entries
    const s3 = new S3Client({ forcePathStyle: true });
    await eventually(async () => {
      const l = await s3.send(
        new ListObjectsV2Command({
          Bucket: process.env.ARX_ARTIFACT_BUCKET!,
          Prefix: `tenants/acme/traces/index/${sc.traceId.slice(0, 2)}/${sc.traceId}/`,
        }),
      );
      return (l.Contents?.length ?? 0) >= 2 ? true : undefined;
    }, 20_000);
    // the hot copy expires (TTL): every item of the trace's partition goes
    const items = await documentClient().send(
      new QueryCommand({
        TableName: process.env.ARX_TRACES_TABLE!,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `T#acme#TRACE#${sc.traceId}` },
      }),
    );
    expect(items.Items?.length).toBeGreaterThanOrEqual(5);
    for (const it of items.Items ?? [])
      await documentClient().send(
        new DeleteCommand({ TableName: process.env.ARX_TRACES_TABLE!, Key: { pk: it.pk, sk: it.sk } }),
      );
    const cold = await call('GET', `/v1/traces/${sc.traceId}`, { token: admin });
    expect(cold.status).toBe(200);
    expect(cold.json.spans.map((s: { span_id: string }) => s.span_id).sort()).toEqual(
      hot.spans.map((s: { span_id: string }) => s.span_id).sort(),
    );
    expect(cold.json.partial).toBe(true);
    expect(cold.json.missing).toContain('spans:hot_expired(cold_copy)');
    // the enforcement decision is still there: ARX's cold spans name the action, its record is read
    expect(cold.json.decisions).toMatchObject([{ action_id: r.actionId, effect: 'permit', risk: 'low' }]);
    expect(cold.json.actions).toMatchObject([{ action_id: r.actionId, status: 'executed' }]);
    expect(cold.json.cost.usd).toBeCloseTo(hot.cost.usd, 9);
    // the agent still reads its own trace; another agent still does not
    expect((await call('GET', `/v1/traces/${sc.traceId}`, { token: await arx.token() })).status).toBe(200);
    expect((await call('GET', `/v1/traces/${sc.traceId}`, { token: await other.token() })).status).toBe(404);
  });

  it('accepts gzip OTLP/JSON from the http/json exporter', async () => {
    const exporter = new Capturing(
      new JsonExporter({
        url: `${rt.url}/v1/otlp/v1/traces`,
        headers: { authorization: `Bearer ${await arx.token()}` },
        compression: 'gzip' as never,
      }),
    );
    const { provider, tracer } = agentTracer(exporter, agentId);
    const s = tracer.startSpan('chat gpt-4o', {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.prompt_tokens': 100,
        'gen_ai.usage.completion_tokens': 10,
      },
    });
    s.end();
    await provider.forceFlush();
    expect(exporter.results).toEqual([0]);
    const v = await call('GET', `/v1/traces/${s.spanContext().traceId}`, { token: admin });
    expect(v.status).toBe(200);
    expect(v.json.spans[0]).toMatchObject({ provider: 'openai', usage: { input: 100, output: 10 } });
  });

  it('rejects spans an agent sends for another agent and says so in partial_success', async () => {
    const foreign = await (async () => {
      const exp = new (class implements SpanExporter {
        spans: ReadableSpan[] = [];
        export(s: ReadableSpan[], cb: (r: { code: number }) => void) {
          this.spans.push(...s);
          cb({ code: 0 });
        }
        async shutdown() {}
      })();
      const { provider, tracer } = agentTracer(exp, 'agt_somebody_else');
      tracer.startSpan('chat').end();
      await provider.forceFlush();
      return exp.spans;
    })();
    const res = await fetch(`${rt.url}/v1/otlp/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await arx.token()}`, 'content-type': 'application/x-protobuf' },
      body: ProtobufTraceSerializer.serializeRequest(foreign)!,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const body = OtlpTypes.traceResponse.toObject(
      OtlpTypes.traceResponse.decode(new Uint8Array(await res.arrayBuffer())),
      { longs: Number },
    );
    expect(body.partialSuccess.rejectedSpans).toBe(1);
    expect(body.partialSuccess.errorMessage).toMatch(/another agent/);
    const v = await call('GET', `/v1/traces/${foreign[0]!.spanContext().traceId}`, { token: admin });
    expect(v.status).toBe(404);
  });

  it('answers 400 for undecodable bodies, 413 above the limit, 415 for other media types, and 403 for humans without admin', async () => {
    const token = await arx.token();
    const post = (body: Uint8Array | string, headers: Record<string, string>, t = token) =>
      fetch(`${rt.url}/v1/otlp/v1/traces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t}`, ...headers },
        body,
      });
    const bad = await post(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), {
      'content-type': 'application/x-protobuf',
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
    expect(
      (await post(gzipSync(Buffer.from('{oops')), { 'content-type': 'application/json', 'content-encoding': 'gzip' }))
        .status,
    ).toBe(400);
    expect((await post(Buffer.alloc(4 * 1024 * 1024 + 1), { 'content-type': 'application/x-protobuf' })).status).toBe(
      413,
    );
    expect((await post('hello', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('{}', { 'content-type': 'application/json' }, auditor)).status).toBe(403);
    const logs = await post(
      JSON.stringify({
        resourceLogs: [
          { scopeLogs: [{ logRecords: [{ timeUnixNano: '1764576000000000000', body: { stringValue: 'hi' } }] }] },
        ],
      }),
      { 'content-type': 'application/json' },
    );
    expect(logs.status).toBe(200);
    expect(await logs.json()).toEqual({});
    const metrics = await fetch(`${rt.url}/v1/otlp/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceMetrics: [] }),
    });
    expect(metrics.status).toBe(200);
  });

  it('budgets: two concurrent actions against the last dollar — one runs, the other is forbidden', async () => {
    const r = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: `spender-${randomBytes(3).toString('hex')}`,
        owner: { oidc_sub: 'owner-1' },
      },
    });
    const spender = new ArxClient({ apiUrl: rt.url, bootstrapToken: r.json.bootstrap_token });
    const prices = (await call('GET', '/v1/usage/prices', { token: admin })).json;
    const put = await call('PUT', '/v1/usage/prices', {
      token: admin,
      body: { models: prices.models, tools: [{ tool: 'okta:users:read', unit_cost: 1, effective_from: '2026-01-01' }] },
    });
    expect(put.status).toBe(200);
    expect(
      (
        await call('PUT', '/v1/usage/budgets', {
          token: admin,
          body: { scope: 'agent', id: r.json.agent_id, period: 'day', usd: 2, over: 'forbid' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call('PUT', '/v1/usage/budgets', {
          token: admin,
          body: { scope: 'agent', id: r.json.agent_id, period: 'week', usd: 2 },
        })
      ).status,
    ).toBe(400);
    await spender.execute({ connector: 'okta', operation: 'users:read', params: {} }); // $1 of $2 spent
    const race = await Promise.allSettled(
      [0, 1].map(() => spender.execute({ connector: 'okta', operation: 'users:read', params: {} })),
    );
    expect(race.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const denied = race.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(denied.reason.name).toBe('ActionDenied');
    expect(JSON.stringify(denied.reason.decision ?? denied.reason)).toContain('budget exceeded');
    const budgets = await call('GET', '/v1/usage/budgets', { token: admin });
    expect(budgets.json.items).toMatchObject([{ scope: 'agent', id: r.json.agent_id, usd: 2 }]);
  });

  it("forwards ARX's spans to the tenant's OTLP endpoint (http/protobuf) with its headers, never returning them", async () => {
    const got: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
      const put = await call('PUT', '/v1/observability/export', {
        token: admin,
        body: { endpoint, headers: { 'x-api-key': 'vendor-secret-123' }, protocol: 'http/protobuf' },
      });
      expect(put.status).toBe(200);
      expect(put.json).toEqual({
        endpoint,
        protocol: 'http/protobuf',
        header_names: ['x-api-key'],
        updated_at: expect.any(String),
      });
      expect(
        (
          await call('PUT', '/v1/observability/export', {
            token: admin,
            body: { endpoint: 'ftp://x', protocol: 'http/protobuf' },
          })
        ).status,
      ).toBe(400);
      // F22: private, link-local and metadata targets are refused with 400 (the local runtime lets
      // loopback alone through) and the stored export is left as it was
      const stored = await new DynamoSpanStore(process.env.ARX_TRACES_TABLE!).getExport('acme');
      for (const bad of [
        'http://169.254.169.254/latest/meta-data',
        'http://[fe80::1]:4318/v1/traces',
        'https://10.0.0.8/v1/traces',
        'http://metadata.google.internal/v1/traces',
      ]) {
        const refused = await call('PUT', '/v1/observability/export', {
          token: admin,
          body: { endpoint: bad, protocol: 'http/protobuf' },
        });
        expect(refused.status, bad).toBe(400);
        expect(JSON.stringify(refused.json), bad).toContain('export endpoint refused');
      }
      expect(await new DynamoSpanStore(process.env.ARX_TRACES_TABLE!).getExport('acme')).toEqual(stored);
      await new Promise((r) => setTimeout(r, 5_500)); // the consumer re-reads "no export configured" after 5 s
      const r = await arx.execute({ connector: 'okta', operation: 'users:read', params: {} });
      const hit = await eventually(
        async () =>
          got.find((g) =>
            decodeTraces(g.body, 'protobuf').spans.some(
              (s) => s.name === 'arx.execution' && s.attributes['arx.action.id'] === r.actionId,
            ),
          ),
        20_000,
      );
      expect(hit.headers['x-api-key']).toBe('vendor-secret-123');
      expect(hit.headers['content-type']).toBe('application/x-protobuf');
      const exec = decodeTraces(hit.body, 'protobuf').spans.find((s) => s.name === 'arx.execution')!;
      expect(exec.traceId).toBe(r.traceId);
      expect(exec.attributes).toMatchObject({ 'gen_ai.tool.name': 'okta:users:read', 'arx.outcome': 'executed' });
    } finally {
      await new Promise((r) => server.close(() => r(undefined)));
    }
  });

  it('prices: PUT replaces the tenant table and recomputes past spans; bad prices change nothing', async () => {
    const bad = await call('PUT', '/v1/usage/prices', {
      token: admin,
      body: {
        models: [
          {
            provider: 'x',
            model: '(a+)+',
            match: 'regex',
            input_per_1m: 1,
            output_per_1m: 1,
            effective_from: '2026-01-01',
          },
        ],
      },
    });
    expect(bad.status).toBe(400);
    expect((await call('GET', '/v1/usage/prices', { token: admin })).json.models).toEqual([]);
    const put = await call('PUT', '/v1/usage/prices', {
      token: admin,
      body: {
        models: [
          {
            provider: 'anthropic',
            model: 'claude-sonnet-4-20250514',
            match: 'exact',
            input_per_1m: 0,
            output_per_1m: 0,
            effective_from: new Date(Date.now() - 86_400_000).toISOString(),
          },
        ],
        tools: [],
      },
    });
    expect(put.status).toBe(200);
    expect(put.json.recomputed.spans_changed).toBeGreaterThanOrEqual(1);
    const usage = await call('GET', `/v1/usage/agents/${agentId}`, { token: admin });
    expect(usage.json.by_model['claude-sonnet-4-20250514']).toBe(0);
    const again = await call('PUT', '/v1/usage/prices', {
      token: admin,
      body: put.json.models ? { models: put.json.models, tools: [] } : {},
    });
    expect(again.json.recomputed.spans_changed).toBe(0);
    const summary = await call('GET', '/v1/usage/org/summary?group_by=model', { token: auditor });
    expect(summary.status).toBe(200);
    expect(summary.json.items.map((i: { key: string }) => i.key)).toEqual(
      expect.arrayContaining(['claude-sonnet-4-20250514', 'gpt-4o']),
    );
    expect((await call('PUT', '/v1/usage/prices', { token: auditor, body: { models: [], tools: [] } })).status).toBe(
      403,
    );
  });
});
