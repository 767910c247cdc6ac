/**
 * Streaming benchmarks against the local runtime on moto (`npx tsx bench/run.ts streaming`):
 *  - delivery latency p50/p99: from PutEvents of an `agent.terminated` event on the ARX bus (the
 *    state change's announcement, as the outbox publishes it) to the signed request arriving at a
 *    local webhook receiver (node:http on 127.0.0.1), sequential, one subscription; every request
 *    is verified with the standardwebhooks library. Baselines in the same run: a raw signed HTTP
 *    POST to the same receiver (the sender's own floor), and the bus → SQS delivery alone (the
 *    emulator's floor: a plain queue target on the same bus, received by a long poll).
 *  - events delivered per second per subscription: a burst put on the bus in PutEvents batches of
 *    10, from the first put to the last request received; baseline: raw signed POSTs to the same
 *    receiver, one at a time.
 * One shared 2-core host (other engineers' suites run beside it): read the ratios, not the absolutes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import type { BenchResult } from './run.js';
import { emulatorEnv, freePort, startMoto } from '../local/moto.js';

const TENANT = 'bench';
const LATENCY_EVENTS = 50;
const BURST = 200;
const t0 = Date.now();
const note = (m: string) => process.stderr.write(`bench streaming +${((Date.now() - t0) / 1000).toFixed(0)}s: ${m}\n`);
const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!.toFixed(1));
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
  const { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, DeleteMessageCommand } =
    await import('@aws-sdk/client-sqs');
  const { webhookHeaders, newSigningSecret } = await import('../lambdas/streaming/core/signing.js');

  // The receiver: arrival time per event id, every request verified independently.
  let secret = '';
  const arrived = new Map<string, number>();
  let bad = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        const p = new Webhook(secret).verify(body, req.headers as Record<string, string>) as {
          data?: { event_id?: string };
        };
        arrived.set(String(p.data?.event_id), at);
      } catch {
        bad++;
      }
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const hook = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

  const template = synthTemplate() as Parameters<typeof startLocalRuntime>[0]['template'];
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const rt = await startLocalRuntime({ template, port: await freePort(), prefix });
  const results: BenchResult[] = [];
  try {
    const admin = await rt.idp.token({ sub: 'bench-admin', tenant: TENANT, roles: ['admin'] });
    const created = await fetch(`${rt.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'webhook', url: hook, event_types: ['agent.terminated'], format: 'arx' }),
    });
    if (created.status !== 201) throw new Error(`subscription: ${created.status} ${await created.text()}`);
    const subSecret = ((await created.json()) as { signing_secret: string }).signing_secret;
    secret = subSecret;
    const bus = rt.env.ARX_EVENT_BUS!;
    const eb = new EventBridgeClient({});
    const entry = (eventId: string, source = 'arx') => ({
      EventBusName: bus,
      Source: source,
      DetailType: 'agent.terminated',
      Detail: JSON.stringify({
        tenant_id: TENANT,
        event_id: eventId,
        correlation_id: eventId,
        trace_id: randomBytes(16).toString('hex'),
        agent_id: `agt_${eventId.slice(-6)}`,
        termination_id: `trm_${eventId.slice(-6)}`,
        reason: 'bench',
      }),
    });
    const waitFor = async (ids: string[], limitMs: number) => {
      const until = performance.now() + limitMs;
      while (ids.some((i) => !arrived.has(i))) {
        if (performance.now() > until)
          throw new Error(`${ids.filter((i) => !arrived.has(i)).length} events not delivered in time`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    note('runtime up, subscription created');

    // --- latency: PutEvents → receiver, sequential (the first three warm the handler and clients)
    const lat: number[] = [];
    for (let i = -3; i < LATENCY_EVENTS; i++) {
      const id = `evt_lat_${randomUUID()}`;
      const t = performance.now();
      await eb.send(new PutEventsCommand({ Entries: [entry(id)] }));
      await waitFor([id], 30_000);
      if (i >= 0) lat.push(arrived.get(id)! - t);
    }
    note(`latency p50 ${q(lat, 50)} ms p99 ${q(lat, 99)} ms`);

    // --- baseline 1: a raw signed POST to the same receiver
    const rawSecret = newSigningSecret();
    const raw: number[] = [];
    const rawPost = async (id: string) => {
      const body = JSON.stringify({
        type: 'agent.terminated',
        timestamp: new Date().toISOString(),
        data: { event_id: id },
      });
      await fetch(hook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...webhookHeaders(rawSecret, `msg_${id}`, new Date(), body) },
        body,
      }).then((r) => r.arrayBuffer());
    };
    secret = rawSecret;
    for (let i = -3; i < LATENCY_EVENTS; i++) {
      const id = `evt_raw_${randomUUID()}`;
      const t = performance.now();
      await rawPost(id);
      if (i >= 0) raw.push(arrived.get(id)! - t);
    }
    // --- baseline 2: the bus → SQS delivery alone (same bus, a plain queue target, long poll)
    const sqs = new SQSClient({});
    const qu = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-floor` }));
    const qArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: qu.QueueUrl!, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    await eb.send(
      new PutRuleCommand({
        Name: `${prefix}-floor`,
        EventBusName: bus,
        EventPattern: JSON.stringify({ source: ['bench.floor'] }),
      }),
    );
    await eb.send(
      new PutTargetsCommand({ Rule: `${prefix}-floor`, EventBusName: bus, Targets: [{ Id: 'q', Arn: qArn }] }),
    );
    const floor: number[] = [];
    for (let i = 0; i < LATENCY_EVENTS; i++) {
      const t = performance.now();
      await eb.send(new PutEventsCommand({ Entries: [entry(`evt_floor_${i}`, 'bench.floor')] }));
      for (;;) {
        const m = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: qu.QueueUrl!, WaitTimeSeconds: 1, MaxNumberOfMessages: 1 }),
        );
        if (m.Messages?.length) {
          await sqs.send(
            new DeleteMessageCommand({ QueueUrl: qu.QueueUrl!, ReceiptHandle: m.Messages[0]!.ReceiptHandle! }),
          );
          break;
        }
      }
      floor.push(performance.now() - t);
    }
    note(`raw POST p50 ${q(raw, 50)} ms; bus→SQS floor p50 ${q(floor, 50)} ms`);

    const latParams = {
      events: LATENCY_EVENTS,
      sequential: true,
      subscriptions: 1,
      emulator: 'moto_server',
      path: 'PutEvents (ARX bus) → rule → SQS → local runtime poller → streaming-bus-consumer → signed POST → receiver',
      baseline: 'raw signed HTTP POST to the same receiver',
      bus_to_sqs_floor_p50_ms: q(floor, 50),
      bus_to_sqs_floor_p99_ms: q(floor, 99),
      verified_with: 'standardwebhooks (npm)',
      signature_failures: bad,
    };
    results.push(
      {
        name: 'webhook delivery latency p50, bus → receiver',
        unit: 'ms',
        value: q(lat, 50),
        baseline: q(raw, 50),
        params: latParams,
      },
      {
        name: 'webhook delivery latency p99, bus → receiver',
        unit: 'ms',
        value: q(lat, 99),
        baseline: q(raw, 99),
        params: latParams,
      },
    );

    // --- throughput: a burst on the bus to the same subscription
    secret = subSecret;
    const ids = Array.from({ length: BURST }, () => `evt_burst_${randomUUID()}`);
    const tb = performance.now();
    for (let i = 0; i < ids.length; i += 10)
      await eb.send(new PutEventsCommand({ Entries: ids.slice(i, i + 10).map((id) => entry(id)) }));
    await waitFor(ids, 300_000);
    const burstS = (Math.max(...ids.map((i) => arrived.get(i)!)) - tb) / 1000;
    const perS = Number((BURST / burstS).toFixed(1));
    secret = rawSecret;
    const tr = performance.now();
    for (let i = 0; i < BURST; i++) await rawPost(`evt_rawburst_${i}_${randomUUID()}`);
    const rawPerS = Number((BURST / ((performance.now() - tr) / 1000)).toFixed(1));
    note(`burst ${perS} events/s (raw ${rawPerS}/s); signature failures ${bad}`);
    results.push({
      name: 'webhook events delivered per second, one subscription (burst on the bus)',
      unit: 'events/s',
      value: perS,
      baseline: rawPerS,
      params: {
        events: BURST,
        put_batch: 10,
        subscriptions: 1,
        seconds: Number(burstS.toFixed(1)),
        baseline: 'raw signed HTTP POSTs to the same receiver, one at a time',
        local_runtime: 'one SQS poller per rule, 10 messages per receive, handled one after another',
        signature_failures: bad,
      },
    });
    return results;
  } finally {
    await rt.stop();
    server.close();
    await moto?.stop();
  }
}
