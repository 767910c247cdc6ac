import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws.js';
import { writeIf } from '../../shared/dynamo.js';
import type { OutboxEntry } from '../../shared/events.js';
import { updateWithEvents } from '../../shared/outbox.js';
import {
  STEP_NAMES,
  type StepName,
  type StepStatus,
  type Termination,
  type TerminationStatus,
  type TerminationStep,
} from '../core/model.js';
import { mapLimit } from '../core/saga.js';
import type { AgentStepResult, QuorumRequest, StepPatch, TerminationStore } from '../core/ports.js';

const termPk = (t: string, id: string) => `T#${t}#KILL#TERM#${id}`;
const claimPk = (t: string, agentId: string) => `T#${t}#KILL#AGENT#${agentId}`;
const quorumPk = (t: string) => `T#${t}#KILL#QUORUM`;
const stepAttr = (s: StepName) => `step_${s}`;

/**
 * Terminations in the control table. A termination is one item (`T#<t>#KILL#TERM#<id>` /
 * `TERMINATION`, listed via gsi1 `T#<t>#KILL#TERMS`) whose steps are map attributes `step_<name>`
 * updated in place; each agent has a claim item (`T#<t>#KILL#AGENT#<agent>` / `CLAIM`) written
 * conditionally, so an agent belongs to exactly one termination; the emergency-stop quorum is
 * `T#<t>#KILL#QUORUM` / `EMERGENCY_STOP` with the control table's TTL attribute.
 */
export class DynamoTerminationStore implements TerminationStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
  ) {}

  async create(t: Termination): Promise<{ claimed: string[]; taken: { agent_id: string; termination_id: string }[] }> {
    const { steps, ...rest } = t;
    const item: Record<string, unknown> = {
      ...rest,
      pk: termPk(t.tenant_id, t.termination_id),
      sk: 'TERMINATION',
      gsi1pk: `T#${t.tenant_id}#KILL#TERMS`,
      gsi1sk: `${t.initiated_at}#${t.termination_id}`,
    };
    for (const s of steps) item[stepAttr(s.name)] = { status: s.status, attempts: s.attempts, results: {} };
    await this.client.send(
      new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    const claimed: string[] = [];
    const taken: { agent_id: string; termination_id: string }[] = [];
    await mapLimit(t.agent_ids, 16, async (agentId) => {
      const won = await writeIf(
        this.client.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              pk: claimPk(t.tenant_id, agentId),
              sk: 'CLAIM',
              tenant_id: t.tenant_id,
              agent_id: agentId,
              termination_id: t.termination_id,
              claimed_at: t.initiated_at,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      if (won) claimed.push(agentId);
      else taken.push({ agent_id: agentId, termination_id: (await this.claimOf(t.tenant_id, agentId)) ?? 'unknown' });
    });
    claimed.sort();
    taken.sort((a, b) => a.agent_id.localeCompare(b.agent_id));
    return { claimed, taken };
  }

  async get(tenantId: string, terminationId: string): Promise<Termination | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: termPk(tenantId, terminationId), sk: 'TERMINATION' },
        ConsistentRead: true,
      }),
    );
    if (!r.Item || r.Item.tenant_id !== tenantId) return null;
    const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _gs, ...rest } = r.Item;
    const steps: TerminationStep[] = STEP_NAMES.map((name) => {
      const s = (rest[stepAttr(name)] ?? { status: 'pending', attempts: 0 }) as Record<string, unknown>;
      delete rest[stepAttr(name)];
      const results = s.results as TerminationStep['results'] | undefined;
      return {
        name,
        status: s.status as StepStatus,
        attempts: Number(s.attempts ?? 0),
        ...(s.error ? { error: String(s.error) } : {}),
        ...(s.at ? { at: String(s.at) } : {}),
        ...(s.detail ? { detail: s.detail as Record<string, unknown> } : {}),
        ...(results && Object.keys(results).length ? { results } : {}),
      };
    });
    return { ...(rest as Omit<Termination, 'steps'>), steps };
  }

  async claimOf(tenantId: string, agentId: string): Promise<string | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: claimPk(tenantId, agentId), sk: 'CLAIM' },
        ConsistentRead: true,
      }),
    );
    return r.Item ? String(r.Item.termination_id) : null;
  }

  async setAgents(
    tenantId: string,
    terminationId: string,
    agentIds: readonly string[],
    taken: readonly { agent_id: string; termination_id: string }[],
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: termPk(tenantId, terminationId), sk: 'TERMINATION' },
        UpdateExpression: 'SET agent_ids = :a, already_terminating = :t',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':a': [...agentIds], ':t': [...taken] },
      }),
    );
  }

  async beginStep(tenantId: string, terminationId: string, step: StepName, at: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: termPk(tenantId, terminationId), sk: 'TERMINATION' },
        UpdateExpression: 'SET #s.attempts = #s.attempts + :one, #s.#at = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#s': stepAttr(step), '#at': 'at' },
        ExpressionAttributeValues: { ':one': 1, ':at': at },
      }),
    );
  }

  async endStep(
    tenantId: string,
    terminationId: string,
    step: StepName,
    patch: StepPatch,
    events: Readonly<Record<string, readonly OutboxEntry[]>> = {},
  ): Promise<void> {
    const key = { pk: termPk(tenantId, terminationId), sk: 'TERMINATION' };
    const entries = Object.entries(patch.results ?? {});
    const eventsOf = (chunk: readonly [string, unknown][]): OutboxEntry[] => chunk.flatMap(([a]) => events[a] ?? []);
    // Many agents: write their results (each with its agent's events) in chunks first (expression
    // size and transaction item limits), then the status.
    const CHUNK = 40;
    const inline = entries.length <= CHUNK ? entries : [];
    for (let i = 0; entries.length > CHUNK && i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      await updateWithEvents(
        this.client,
        {
          TableName: this.table,
          Key: key,
          UpdateExpression: `SET ${chunk.map((_, j) => `#s.results.#a${j} = :r${j}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: {
            '#s': stepAttr(step),
            ...Object.fromEntries(chunk.map(([a], j) => [`#a${j}`, a])),
          },
          ExpressionAttributeValues: Object.fromEntries(chunk.map(([, r], j) => [`:r${j}`, r])),
        },
        eventsOf(chunk),
        patch.at,
      );
    }
    const sets = ['#s.#status = :st', '#s.#at = :at'];
    const names: Record<string, string> = { '#s': stepAttr(step), '#status': 'status', '#at': 'at' };
    const values: Record<string, unknown> = { ':st': patch.status, ':at': patch.at };
    if (patch.attempt) {
      sets.push('#s.attempts = #s.attempts + :one');
      values[':one'] = 1;
    }
    if (patch.error !== undefined) {
      sets.push('#s.#error = :e');
      names['#error'] = 'error';
      values[':e'] = patch.error;
    }
    if (patch.detail !== undefined) {
      sets.push('#s.detail = :d');
      values[':d'] = patch.detail;
    }
    inline.forEach(([a, r], j) => {
      sets.push(`#s.results.#a${j} = :r${j}`);
      names[`#a${j}`] = a;
      values[`:r${j}`] = r;
    });
    // A step that succeeded keeps no stale error from an earlier attempt.
    let remove = '';
    if (patch.status === 'ok' && patch.error === undefined) {
      remove = ' REMOVE #s.#error';
      names['#error'] = 'error';
    }
    await updateWithEvents(
      this.client,
      {
        TableName: this.table,
        Key: key,
        UpdateExpression: `SET ${sets.join(', ')}${remove}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
      eventsOf(inline),
      patch.at,
    );
  }

  async recordAgentResult(
    tenantId: string,
    terminationId: string,
    step: StepName,
    agentId: string,
    result: AgentStepResult,
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: termPk(tenantId, terminationId), sk: 'TERMINATION' },
        UpdateExpression: 'SET #s.results.#a = :r',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#s': stepAttr(step), '#a': agentId },
        ExpressionAttributeValues: { ':r': result },
      }),
    );
  }

  async setExecution(tenantId: string, terminationId: string, executionArn: string): Promise<void> {
    await this.setField(tenantId, terminationId, 'execution_arn', executionArn);
  }

  async setAttestation(tenantId: string, terminationId: string, url: string): Promise<void> {
    await this.setField(tenantId, terminationId, 'attestation_url', url);
  }

  private async setField(tenantId: string, terminationId: string, name: string, value: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: termPk(tenantId, terminationId), sk: 'TERMINATION' },
        UpdateExpression: 'SET #f = :v',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#f': name },
        ExpressionAttributeValues: { ':v': value },
      }),
    );
  }

  async finish(
    tenantId: string,
    terminationId: string,
    status: TerminationStatus,
    at: string,
    events: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    return writeIf(
      updateWithEvents(
        this.client,
        {
          TableName: this.table,
          Key: { pk: termPk(tenantId, terminationId), sk: 'TERMINATION' },
          UpdateExpression: 'SET #status = :s, completed_at = :at',
          ConditionExpression: '#status = :inflight',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':s': status, ':at': at, ':inflight': 'in_flight' },
        },
        events,
        at,
      ),
    );
  }

  async getQuorum(tenantId: string): Promise<QuorumRequest | null> {
    const r = await this.client.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: quorumPk(tenantId), sk: 'EMERGENCY_STOP' },
        ConsistentRead: true,
      }),
    );
    if (!r.Item) return null;
    const { tenant_id, request_id, requested_by, reason, requested_at, expires_at } =
      r.Item as unknown as QuorumRequest;
    return { tenant_id, request_id, requested_by, reason, requested_at, expires_at };
  }

  putQuorum(q: QuorumRequest, now: Date): Promise<boolean> {
    return writeIf(
      this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...q,
            pk: quorumPk(q.tenant_id),
            sk: 'EMERGENCY_STOP',
            expires_at_ms: Date.parse(q.expires_at),
            // DynamoDB TTL deletes lazily; expiry is decided on expires_at_ms.
            expires_at_epoch: Math.floor(Date.parse(q.expires_at) / 1000),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expires_at_ms <= :now',
          ExpressionAttributeValues: { ':now': now.getTime() },
        }),
      ),
    );
  }

  consumeQuorum(tenantId: string, requestId: string): Promise<boolean> {
    return writeIf(
      this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: quorumPk(tenantId), sk: 'EMERGENCY_STOP' },
          ConditionExpression: 'request_id = :r',
          ExpressionAttributeValues: { ':r': requestId },
        }),
      ),
    );
  }
}
