import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink, AuditWriteError } from '../../../lambdas/audit/sink.js';
import { DynamoEventStore } from '../../../lambdas/audit/adapters/dynamo-event-store.js';
import { KmsEnvelopeCipher } from '../../../lambdas/audit/adapters/kms.js';
import { canonicalJson, sha256Hex } from '../../../lambdas/shared/ids.js';
import { createAuditTable, createKeys, suffix } from './env.js';

const table = `audit-sink-${suffix()}`;
let dataKeyArn: string;

beforeAll(async () => {
  await createAuditTable(table);
  ({ dataKeyArn } = await createKeys());
});

const input = (tenant: string, over: Record<string, unknown> = {}) => ({
  tenant_id: tenant,
  event_type: 'operation.executed',
  agent_id: 'agt_1',
  principal_spiffe_id: 'spiffe://arx/t/agent/agt_1',
  action: 'okta:users:deactivate',
  target: 'okta:user:00u1',
  decision: 'permit',
  occurred_at: '2026-01-01T00:00:00.000Z',
  correlation_id: 'cor_1',
  trace_id: 'b'.repeat(32),
  payload: {
    params: { user_id: '00u1', email: 'jane@example.com' },
    api_token: 'SSWS-abc123def456',
    authorization: 'Bearer x.y.z',
  },
  ...over,
});

describe('createAuditSink', () => {
  it('durably writes a redacted, hashed, tagged event whose full payload decrypts only under the tenant context', async () => {
    const sink = createAuditSink({ table, dataKeyArn });
    const { event_id } = await sink.record(input('t-sink-a'));
    const store = new DynamoEventStore(table);
    const stored = await store.getEvent('t-sink-a', event_id);
    expect(stored?.event).toMatchObject({
      event_id,
      tenant_id: 't-sink-a',
      redacted_fields: ['api_token', 'authorization', 'params.email'],
    });
    expect(stored?.block_height).toBeNull();
    expect(stored?.event.evidence_tags).toEqual(expect.arrayContaining(['eu_ai_act:Art.12', 'soc2_2017:CC7.2']));
    expect(JSON.stringify(stored)).not.toContain('jane@example.com');
    expect(JSON.stringify(stored)).not.toContain('SSWS-abc123def456');

    // The full payload is recoverable with KMS and the tenant's encryption context only.
    const raw = await (await import('@aws-sdk/lib-dynamodb')).DynamoDBDocumentClient.from(
      new (await import('@aws-sdk/client-dynamodb')).DynamoDBClient({}),
    ).send(
      new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
        TableName: table,
        Key: { pk: 'T#t-sink-a#EV', sk: event_id },
      }),
    );
    const cipher = new KmsEnvelopeCipher(dataKeyArn);
    const plain = await cipher.decrypt('t-sink-a', event_id, raw.Item!.payload_enc);
    const sealed = JSON.parse(Buffer.from(plain).toString('utf8')) as { payload: unknown; hash_salt: string };
    expect(sealed.payload).toEqual(input('t-sink-a').payload);
    // The chained hash is an HMAC under the salt kept in the encrypted payload only (F26).
    expect(stored!.event.hash_of_full_payload).toBe(
      createHmac('sha256', Buffer.from(sealed.hash_salt, 'base64')).update(canonicalJson(sealed.payload)).digest('hex'),
    );
    await expect(cipher.decrypt('t-other', event_id, raw.Item!.payload_enc)).rejects.toThrow();
  });

  it('F26: a guess at a redacted value cannot be confirmed against hash_of_full_payload', async () => {
    const sink = createAuditSink({ table, dataKeyArn });
    const payload = input('t-sink-f26').payload;
    const a = await sink.record(input('t-sink-f26'));
    const b = await sink.record(input('t-sink-f26'));
    const store = new DynamoEventStore(table);
    const [ea, eb] = [
      (await store.getEvent('t-sink-f26', a.event_id))!.event,
      (await store.getEvent('t-sink-f26', b.event_id))!.event,
    ];
    // The auditor guesses the redacted e-mail right and hashes the full payload as the old format did.
    const guess = sha256Hex(canonicalJson(payload));
    expect(ea.hash_of_full_payload).not.toBe(guess);
    expect(ea.redacted_fields).toContain('params.email');
    // Same payload twice: different hashes (salted per event), so equal payloads are not even linkable.
    expect(ea.hash_of_full_payload).not.toBe(eb.hash_of_full_payload);
    expect(ea.hash_of_full_payload).toMatch(/^[0-9a-f]{64}$/);
  });

  it('makes evidence retrieval a query: the event is listed under each of its controls, per tenant', async () => {
    const sink = createAuditSink({ table, dataKeyArn });
    const a = await sink.record(
      input('t-sink-b', { event_type: 'decision.approved', action: 'okta:users:deactivate' }),
    );
    await sink.record(input('t-sink-c', { event_type: 'decision.approved' }));
    const store = new DynamoEventStore(table);
    const page = await store.controlEvidence('t-sink-b', 'eu_ai_act:Art.14', 10);
    expect(page.items.map((e) => e.event_id)).toEqual([a.event_id]);
    const byAgent = await store.listEvents('t-sink-b', { agentId: 'agt_1', limit: 10 });
    expect(byAgent.items).toHaveLength(1);
    const byType = await store.listEvents('t-sink-b', { type: 'operation.executed', limit: 10 });
    expect(byType.items).toHaveLength(0);
  });

  it('throws AuditWriteError when the audit table cannot be written (callers must not execute)', async () => {
    const sink = createAuditSink({ table: `missing-${suffix()}`, dataKeyArn });
    await expect(sink.record(input('t-sink-d'))).rejects.toBeInstanceOf(AuditWriteError);
  });

  it('throws AuditWriteError when the environment names no table', async () => {
    const prev = process.env.ARX_AUDIT_TABLE;
    delete process.env.ARX_AUDIT_TABLE;
    try {
      await expect(createAuditSink({ dataKeyArn }).record(input('t-sink-e'))).rejects.toBeInstanceOf(AuditWriteError);
    } finally {
      if (prev !== undefined) process.env.ARX_AUDIT_TABLE = prev;
    }
  });
});
