import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import {
  decodeLogs,
  decodeMetrics,
  decodeTraces,
  decodeTracesReference,
  encodeResponse,
  OtlpDecodeError,
  OtlpTypes,
} from '../../../lambdas/observability/core/otlp.js';
import { ALIASES, GEN_AI, normaliseAttributes } from '../../../lambdas/observability/core/semconv.js';
import {
  bodyOf,
  encodingOf,
  OTLP_MAX_DECODED_BYTES,
  pressureResponse,
} from '../../../lambdas/observability/core/receiver.js';
import { DependencyError } from '../../../lambdas/shared/errors.js';
import { sdkSpans } from './fixtures.js';

describe('OTLP decoding', () => {
  it('decodes what the OpenTelemetry JS SDK protobuf serializer sends, ids, times and attributes intact', async () => {
    const spans = await sdkSpans();
    const body = ProtobufTraceSerializer.serializeRequest(spans)!;
    const { spans: out, invalid } = decodeTraces(body, 'protobuf');
    expect(invalid).toBe(0);
    expect(out).toHaveLength(2);
    const llm = out.find((s) => s.name === 'chat claude-sonnet-4')!;
    const tool = out.find((s) => s.name === 'execute_tool okta')!;
    expect(llm.traceId).toBe(spans[0]!.spanContext().traceId);
    expect(tool.parentSpanId).toBe(llm.spanId);
    expect(llm.attributes['gen_ai.usage.input_tokens']).toBe(1200);
    expect(llm.attributes['gen_ai.request.model']).toBe('claude-sonnet-4-20250514');
    expect(llm.resource['service.name']).toBe('reviewer');
    expect(llm.scope).toEqual({ name: 'agent', version: '1.0.0' });
    expect(llm.events[0]!.name).toBe('gen_ai.choice');
    expect(BigInt(llm.endNs)).toBeGreaterThanOrEqual(BigInt(llm.startNs));
    expect(llm.kind).toBe(3); // SPAN_KIND_CLIENT on the wire
  });

  it('decodes the SDK http/json serialization to the same spans', async () => {
    const spans = await sdkSpans();
    const fromProto = decodeTraces(ProtobufTraceSerializer.serializeRequest(spans)!, 'protobuf').spans;
    const fromJson = decodeTraces(JsonTraceSerializer.serializeRequest(spans)!, 'json').spans;
    expect(fromJson).toEqual(fromProto);
  });

  it('rejects bytes that are not an ExportTraceServiceRequest', () => {
    expect(() => decodeTraces(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), 'protobuf')).toThrow(
      OtlpDecodeError,
    );
    expect(() => decodeTraces(Buffer.from('{not json'), 'json')).toThrow(OtlpDecodeError);
    expect(() => decodeTraces(Buffer.from('[1,2]'), 'json')).toThrow(OtlpDecodeError);
    expect(() => decodeTraces(Buffer.from('{"resourceSpans": 3}'), 'json')).toThrow(OtlpDecodeError);
  });

  it('counts spans with malformed ids as invalid instead of storing them', () => {
    const body = JSON.stringify({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId: '00000000000000000000000000000000', spanId: '0102030405060708', name: 'zero trace' },
                { traceId: '0102030405060708090a0b0c0d0e0f10', spanId: '0102', name: 'short span' },
                {
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                  spanId: '0102030405060708',
                  name: 'ok',
                  startTimeUnixNano: '1764576000000000000',
                  endTimeUnixNano: '1764576001000000000',
                },
              ],
            },
          ],
        },
      ],
    });
    const r = decodeTraces(Buffer.from(body), 'json');
    expect(r.invalid).toBe(2);
    expect(r.spans.map((s) => s.name)).toEqual(['ok']);
  });

  it('decodes logs and metrics requests encoded with the same descriptor', () => {
    const logs = OtlpTypes.logsRequest
      .encode(
        OtlpTypes.logsRequest.fromObject({
          resourceLogs: [
            {
              scopeLogs: [
                {
                  logRecords: [
                    {
                      timeUnixNano: '1764576000000000000',
                      severityNumber: 9,
                      body: { stringValue: 'hello' },
                      eventName: 'gen_ai.user.message',
                    },
                  ],
                },
              ],
            },
          ],
        }),
      )
      .finish();
    expect(decodeLogs(logs, 'protobuf')).toMatchObject([
      { severity: 9, body: 'hello', eventName: 'gen_ai.user.message', timeNs: '1764576000000000000' },
    ]);
    const metrics = OtlpTypes.metricsRequest
      .encode(
        OtlpTypes.metricsRequest.fromObject({
          resourceMetrics: [
            {
              scopeMetrics: [
                {
                  metrics: [
                    {
                      name: 'gen_ai.client.token.usage',
                      unit: '{token}',
                      histogram: { dataPoints: [{ timeUnixNano: '1764576000000000000', count: 3, sum: 1500 }] },
                    },
                    { name: 'queue.depth', sum: { dataPoints: [{ asInt: 7 }] } },
                  ],
                },
              ],
            },
          ],
        }),
      )
      .finish();
    expect(decodeMetrics(metrics, 'protobuf')).toMatchObject([
      { name: 'gen_ai.client.token.usage', kind: 'histogram', count: 3, value: 1500 },
      { name: 'queue.depth', kind: 'sum', value: 7 },
    ]);
  });

  it('answers partial_success in the request encoding', () => {
    const proto = encodeResponse('traces', 'protobuf', 2, 'two foreign spans');
    const decoded = OtlpTypes.traceResponse.toObject(
      OtlpTypes.traceResponse.decode(Buffer.from(proto.body, 'base64')),
      { longs: Number },
    );
    expect(decoded).toEqual({ partialSuccess: { rejectedSpans: 2, errorMessage: 'two foreign spans' } });
    expect(JSON.parse(encodeResponse('logs', 'json', 0, '').body)).toEqual({});
  });
});

describe('OTLP receiver rules', () => {
  it('accepts protobuf and JSON media types only', () => {
    expect(encodingOf({ 'content-type': 'application/x-protobuf' })).toBe('protobuf');
    expect(encodingOf({ 'content-type': 'application/json; charset=utf-8' })).toBe('json');
    expect(() => encodingOf({ 'content-type': 'text/plain' })).toThrow(/x-protobuf/);
  });
  it('gunzips gzip bodies, refuses other encodings and bounds decompression', () => {
    expect(bodyOf({ 'content-encoding': 'gzip' }, gzipSync(Buffer.from('abc'))).toString()).toBe('abc');
    expect(() => bodyOf({ 'content-encoding': 'br' }, Buffer.from('x'))).toThrow(/not supported/);
    expect(() => bodyOf({ 'content-encoding': 'gzip' }, Buffer.from('not gzip'))).toThrow(/does not decompress/);
    const bomb = gzipSync(Buffer.alloc(OTLP_MAX_DECODED_BYTES + 1));
    expect(() => bodyOf({ 'content-encoding': 'gzip' }, bomb)).toThrow(/exceeds/);
  });
});

describe('OTLP receiver under pressure', () => {
  it('answers 429 with Retry-After when DynamoDB throttles and 503 when a dependency is down', () => {
    const throttled = Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
    expect(pressureResponse(throttled)).toMatchObject({
      status: 429,
      headers: { 'retry-after': '2' },
      body: { status: 429, type: 'https://arx.dev/problems/throttled' },
    });
    expect(pressureResponse(new DependencyError('kms down'))).toMatchObject({
      status: 503,
      headers: { 'retry-after': '2' },
    });
    expect((pressureResponse(new DependencyError('kms down'))!.body as { detail?: string }).detail).toBeUndefined();
    expect(pressureResponse(new Error('bug'))).toBeNull();
  });
});

describe('GenAI semantic conventions pin', () => {
  it('uses exactly the names of the pinned @opentelemetry/semantic-conventions release', () => {
    const inc = incubating as Record<string, unknown>;
    expect(GEN_AI.providerName).toBe(inc.ATTR_GEN_AI_PROVIDER_NAME);
    expect(GEN_AI.operationName).toBe(inc.ATTR_GEN_AI_OPERATION_NAME);
    expect(GEN_AI.requestModel).toBe(inc.ATTR_GEN_AI_REQUEST_MODEL);
    expect(GEN_AI.responseModel).toBe(inc.ATTR_GEN_AI_RESPONSE_MODEL);
    expect(GEN_AI.inputTokens).toBe(inc.ATTR_GEN_AI_USAGE_INPUT_TOKENS);
    expect(GEN_AI.outputTokens).toBe(inc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS);
    expect(GEN_AI.cacheReadInputTokens).toBe(inc.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS);
    expect(GEN_AI.cacheCreationInputTokens).toBe(inc.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS);
    expect(GEN_AI.reasoningOutputTokens).toBe(inc.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS);
    expect(GEN_AI.toolName).toBe(inc.ATTR_GEN_AI_TOOL_NAME);
    expect(GEN_AI.toolCallId).toBe(inc.ATTR_GEN_AI_TOOL_CALL_ID);
    expect(GEN_AI.agentId).toBe(inc.ATTR_GEN_AI_AGENT_ID);
    expect(GEN_AI.agentName).toBe(inc.ATTR_GEN_AI_AGENT_NAME);
    expect(GEN_AI.conversationId).toBe(inc.ATTR_GEN_AI_CONVERSATION_ID);
    expect(GEN_AI.inputMessages).toBe(inc.ATTR_GEN_AI_INPUT_MESSAGES);
    expect(ALIASES['gen_ai.system']).toBe(inc.ATTR_GEN_AI_PROVIDER_NAME);
    expect(ALIASES[inc.ATTR_GEN_AI_USAGE_PROMPT_TOKENS as string]).toBe(GEN_AI.inputTokens);
    expect(ALIASES[inc.ATTR_GEN_AI_USAGE_COMPLETION_TOKENS as string]).toBe(GEN_AI.outputTokens);
  });
  it('maps old names through the alias table, the current name winning', () => {
    expect(
      normaliseAttributes({
        'gen_ai.system': 'openai',
        'gen_ai.usage.prompt_tokens': 10,
        'gen_ai.usage.completion_tokens': 5,
        'gen_ai.usage.cache_write.input_tokens': 4,
      }),
    ).toEqual({
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.usage.cache_creation.input_tokens': 4,
    });
    expect(normaliseAttributes({ 'gen_ai.system': 'old', 'gen_ai.provider.name': 'new' })).toEqual({
      'gen_ai.provider.name': 'new',
    });
  });
});

describe('OTLP protobuf wire decoder', () => {
  const rnd = (n: number) => Math.floor(Math.random() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rnd(256)));
  const anyValue = (depth: number): Record<string, unknown> => {
    switch (rnd(depth > 2 ? 5 : 7)) {
      case 0:
        return { stringValue: `s${rnd(1000)}é✓` };
      case 1:
        return { boolValue: rnd(2) === 1 };
      case 2:
        return { intValue: [0, 7, -3, 2 ** 40, -(2 ** 40), '9223372036854775807', '-9223372036854775808'][rnd(7)] };
      case 3:
        return { doubleValue: [0.5, -1.25, 1e300, 3][rnd(4)] };
      case 4:
        return { bytesValue: bytes(rnd(6)) };
      case 5:
        return { arrayValue: { values: Array.from({ length: rnd(4) }, () => anyValue(depth + 1)) } };
      default:
        return { kvlistValue: { values: attrs(depth + 1) } };
    }
  };
  const attrs = (depth = 0) =>
    Array.from({ length: rnd(6) }, (_, i) => ({ key: `k${i}.${rnd(9)}`, value: anyValue(depth) }));
  const span = () => ({
    traceId: [bytes(16), bytes(16), Buffer.alloc(16), bytes(15)][rnd(4)],
    spanId: [bytes(8), bytes(8), Buffer.alloc(8)][rnd(3)],
    ...(rnd(2) ? { parentSpanId: [bytes(8), Buffer.alloc(8), bytes(3)][rnd(3)] } : {}),
    ...(rnd(4) ? { name: `span ${rnd(100)}` } : {}),
    kind: rnd(6),
    startTimeUnixNano: (1_764_633_600_000_000_000n + BigInt(rnd(1e9))).toString(),
    endTimeUnixNano: rnd(5) ? (1_764_633_601_000_000_000n + BigInt(rnd(1e9))).toString() : '0',
    attributes: attrs(),
    events: Array.from({ length: rnd(3) }, () => ({
      timeUnixNano: String(rnd(1e6)),
      name: `ev${rnd(5)}`,
      attributes: attrs(),
    })),
    ...(rnd(2) ? { status: { code: rnd(3), ...(rnd(2) ? { message: 'boom' } : {}) } } : {}),
  });

  it('decodes random requests exactly as protobufjs does (ids, times, every AnyValue kind, events, status)', () => {
    for (let i = 0; i < 200; i++) {
      const req = {
        resourceSpans: Array.from({ length: 1 + rnd(3) }, () => ({
          resource: { attributes: attrs() },
          scopeSpans: Array.from({ length: rnd(3) }, () => ({
            ...(rnd(3) ? { scope: { name: `sc${rnd(3)}`, version: `${rnd(3)}.0` } } : {}),
            spans: Array.from({ length: rnd(5) }, span),
          })),
        })),
      };
      const body = OtlpTypes.traceRequest.encode(OtlpTypes.traceRequest.fromObject(req)).finish();
      expect(decodeTraces(body, 'protobuf')).toEqual(decodeTracesReference(body));
    }
  });

  it('matches protobufjs on what the OpenTelemetry JS SDK sends, and refuses truncated bodies', async () => {
    const body = ProtobufTraceSerializer.serializeRequest(await sdkSpans())!;
    expect(decodeTraces(body, 'protobuf')).toEqual(decodeTracesReference(body));
    for (const cut of [1, 7, body.length - 3]) {
      expect(() => decodeTraces(body.subarray(0, cut), 'protobuf')).toThrow(OtlpDecodeError);
    }
  });
});
