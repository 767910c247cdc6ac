/**
 * Discovery benchmarks against the local runtime on moto:
 *  - CloudTrail → inventory: time from PutEvents of a CloudTrail-shaped InvokeModel event (unknown
 *    role) on the default bus to the shadow agent's row in the inventory table, p50/p95 over 50
 *    events, sequential; baseline: the same PutEvents to a plain SQS-target rule on the default bus
 *    until the message is received (the emulator's own delivery floor).
 *  - Scan of 1,000 Bedrock agents (ListAgents + 1,000 GetAgent + merge/SCD-2 writes): first scan
 *    (1,000 new records), rescan (no change: activity-only writes); baseline: the adapter's
 *    enumeration alone, without inventory writes.
 * moto 5.2.1's bedrock-agent epoch dates are fixed by the test-side middleware (test/support).
 */
import { randomBytes } from 'node:crypto';
import type { BenchResult } from './run.js';
import { emulatorEnv, freePort, startMoto } from '../local/moto.js';

const TENANT = 'bench';
const ACCOUNT = '123456789012';
const EVENTS = 50;
const AGENTS = 1000;
const t0 = Date.now();
/** Progress and each figure as soon as measured (this host is shared and slow: partial runs still report). */
const note = (m: string) => process.stderr.write(`bench discovery +${((Date.now() - t0) / 1000).toFixed(0)}s: ${m}\n`);
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(1));
};

export async function run(): Promise<BenchResult[]> {
  const moto = process.env.AWS_ENDPOINT_URL ? null : await startMoto();
  Object.assign(process.env, emulatorEnv(process.env.AWS_ENDPOINT_URL ?? moto!.endpoint), {
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  const { synthTemplate } = await import('../lib/synth.js');
  const { startLocalRuntime } = await import('../local/runtime.js');
  const { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } = await import(
    '@aws-sdk/client-eventbridge'
  );
  const { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } = await import(
    '@aws-sdk/client-sqs'
  );
  const { CreateAgentCommand } = await import('@aws-sdk/client-bedrock-agent');
  const { setClientFactory, discovery } = await import('../lambdas/discovery/adapters/deps.js');
  const { BedrockAgentsSource } = await import('../lambdas/discovery/adapters/aws-sources.js');
  const { discoveredIdOf } = await import('../lambdas/discovery/core/discovered.js');
  const { runScan } = await import('../lambdas/discovery/core/service.js');
  const { motoBedrockAgent, motoClientFactory } = await import('../test/support/moto-bedrock.js');
  setClientFactory(motoClientFactory);
  const template = synthTemplate() as Parameters<typeof startLocalRuntime>[0]['template'];
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const rt = await startLocalRuntime({ template, port: await freePort(), prefix });
  const results: BenchResult[] = [];
  try {
    const admin = await rt.idp.token({ sub: 'bench-admin', tenant: TENANT, roles: ['admin'] });
    const post = (path: string, body: unknown) =>
      fetch(rt.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const src = await post('/v1/discovery/sources', { type: 'aws_account', config: { regions: ['us-east-1'] } });
    if (src.status !== 201) throw new Error(`source: ${src.status} ${await src.text()}`);
    const { deps } = discovery();
    const eb = new EventBridgeClient({});
    const sqs = new SQSClient({});

    // --- CloudTrail → inventory row
    const put = (role: string, source = 'aws.bedrock') =>
      eb.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: 'default',
              Source: source,
              DetailType: 'AWS API Call via CloudTrail',
              Detail: JSON.stringify({
                eventTime: new Date().toISOString(),
                eventSource: 'bedrock.amazonaws.com',
                eventName: 'InvokeModel',
                awsRegion: 'us-east-1',
                recipientAccountId: ACCOUNT,
                userIdentity: {
                  type: 'AssumedRole',
                  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/s`,
                  sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/${role}` } },
                },
              }),
            },
          ],
        }),
      );
    note('runtime up, source created');
    const lat: number[] = [];
    for (let i = -3; i < EVENTS; i++) {
      const role = `${prefix}-shadow-${i + 3}`;
      const id = discoveredIdOf(TENANT, 'aws-iam', `arn:aws:iam::${ACCOUNT}:role/${role}`);
      const t = performance.now();
      await put(role);
      for (;;) {
        if (await deps.store.get(TENANT, id)) break;
        if (performance.now() - t > 30_000) throw new Error(`event ${i} not applied within 30 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      if (i >= 0) lat.push(performance.now() - t); // the first three warm up the handler and clients
    }
    // Baseline: the bus → SQS delivery alone, same pattern shape, a plain queue target.
    const q = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-baseline` }));
    const qArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.QueueUrl!, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    await eb.send(
      new PutRuleCommand({
        Name: `${prefix}-baseline`,
        EventBusName: 'default',
        EventPattern: JSON.stringify({ source: ['aws.bench-baseline'] }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({ Rule: `${prefix}-baseline`, EventBusName: 'default', Targets: [{ Id: 'q', Arn: qArn }] }),
    );
    const base: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const t = performance.now();
      await put(`${prefix}-baseline-${i}`, 'aws.bench-baseline');
      for (;;) {
        const m = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: q.QueueUrl!, WaitTimeSeconds: 1, MaxNumberOfMessages: 1 }),
        );
        if (m.Messages?.length) break;
      }
      base.push(performance.now() - t);
    }
    note(
      `cloudtrail p50 ${quantile(lat, 0.5)} ms p95 ${quantile(lat, 0.95)} ms; baseline p50 ${quantile(base, 0.5)} p95 ${quantile(base, 0.95)}`,
    );
    const params = {
      events: EVENTS,
      sequential: true,
      emulator: 'moto_server',
      delivery: 'default bus rule → SQS → local runtime poller → discovery-cloudtrail',
    };
    results.push({
      name: 'cloudtrail_to_inventory_p50',
      unit: 'ms',
      value: quantile(lat, 0.5),
      baseline: quantile(base, 0.5),
      params,
    });
    results.push({
      name: 'cloudtrail_to_inventory_p95',
      unit: 'ms',
      value: quantile(lat, 0.95),
      baseline: quantile(base, 0.95),
      params: { ...params, target_p95_ms: 5000, seed_target_ms: 60_000 },
    });

    // --- scan of 1,000 Bedrock agents
    const region = 'ca-central-1';
    const ba = motoBedrockAgent(region);
    let made = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (made < AGENTS) {
          const n = made++;
          await ba.send(
            new CreateAgentCommand({
              agentName: `${prefix}-a${n}`,
              agentResourceRoleArn: `arn:aws:iam::${ACCOUNT}:role/${prefix}-a${n}`,
              foundationModel: 'amazon.nova-lite-v1:0',
              instruction: 'Benchmark agent for the discovery scan.',
            }),
          );
        }
      }),
    );
    note(`created ${AGENTS} agents`);
    const source = {
      tenant_id: TENANT,
      source_id: 'src_bench',
      type: 'aws_account' as const,
      account_id: ACCOUNT,
      regions: [region],
      created_at: new Date().toISOString(),
      created_by: 'bench',
    };
    const adapter = new BedrockAgentsSource(motoClientFactory);
    const scanDeps = { ...deps, sources: [adapter] };
    const scanOnce = async (id: string) => {
      const t = performance.now();
      const done = await runScan(
        scanDeps,
        {
          tenant_id: TENANT,
          scan_id: id,
          status: 'queued',
          found: 0,
          new: 0,
          changed: 0,
          errors: [],
          requested_at: new Date().toISOString(),
          requested_by: 'bench',
        },
        [source],
      );
      return { ms: performance.now() - t, done };
    };
    const tEnum = performance.now();
    const listed = await adapter.scan(source, region, new Date());
    const enumMs = performance.now() - tEnum;
    note(`enumeration alone ${Math.round(enumMs)} ms (${listed.evidence.length} agents)`);
    const first = await scanOnce('scn_bench1');
    note(`first scan ${Math.round(first.ms)} ms (new ${first.done.new}, ${first.done.status})`);
    const again = await scanOnce('scn_bench2');
    note(`unchanged rescan ${Math.round(again.ms)} ms (changed ${again.done.changed})`);
    if (first.done.new !== AGENTS || listed.evidence.length !== AGENTS)
      throw new Error(
        `expected ${AGENTS} agents, scan found ${first.done.found} (new ${first.done.new}), listing ${listed.evidence.length}`,
      );
    const sp = { agents: AGENTS, platform: 'bedrock', get_agent_concurrency: 8, emulator: 'moto_server' };
    results.push({
      name: 'scan_1000_agents_first',
      unit: 'ms',
      value: Math.round(first.ms),
      baseline: Math.round(enumMs),
      params: { ...sp, new: first.done.new, status: first.done.status },
    });
    results.push({
      name: 'scan_1000_agents_unchanged',
      unit: 'ms',
      value: Math.round(again.ms),
      baseline: Math.round(enumMs),
      params: { ...sp, new: again.done.new, changed: again.done.changed, status: again.done.status },
    });
  } finally {
    await rt.stop();
    await moto?.stop();
  }
  return results;
}
