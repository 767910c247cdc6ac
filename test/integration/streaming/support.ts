import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import type { AuthContext } from '../../../lambdas/shared/http.js';
import { withEnvironment } from '../../../lambdas/shared/settings.js';
import { apiEvent } from '../../support/api-event.js';

export const ctx = {
  functionName: 'streaming',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/**
 * A local webhook receiver (node:http on 127.0.0.1). `answer` picks the status per path and
 * request count; every request is kept with its raw body, for verification by an independent
 * Standard Webhooks implementation.
 */
export async function webhookReceiver(answer: (path: string, nth: number) => number) {
  const received: Received[] = [];
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const nth = (counts.get(path) ?? 0) + 1;
      counts.set(path, nth);
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      res.writeHead(answer(path, nth), { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * Verifies a received request with the `standardwebhooks` library (the Standard Webhooks
 * project's own, independent of ARX's signer). Throws WebhookVerificationError when it fails.
 */
export function verify(secret: string, r: Received): unknown {
  return new Webhook(secret).verify(r.body, {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  });
}

type Handler = (e: unknown, c: Context) => Promise<unknown>;

/** Calls the streaming handlers with one function environment (the provisioned stack's + extras). */
export function harness(env: Record<string, string>, handlers: { api: Handler; bus: Handler; retry: Handler }) {
  const api = async (
    routeKey: string,
    who: AuthContext,
    o: { body?: unknown; params?: Record<string, string>; query?: Record<string, string> } = {},
  ) => {
    const [method, route] = routeKey.split(' ') as [string, string];
    const e: APIGatewayProxyEventV2 = apiEvent({ method, route, auth: who, ...o });
    const r = (await withEnvironment(env, () => handlers.api(e, ctx))) as { statusCode: number; body?: string };
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
  };
  const publish = (detailType: string, detail: Record<string, unknown>) =>
    withEnvironment(env, () =>
      handlers.bus(
        {
          version: '0',
          id: randomUUID(),
          source: 'arx',
          account: '000000000000',
          region: 'us-east-1',
          resources: [],
          'detail-type': detailType,
          time: new Date().toISOString(),
          detail,
        },
        ctx,
      ),
    );
  const retry = () =>
    withEnvironment(env, () =>
      handlers.retry({ id: randomUUID(), source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, ctx),
    );
  return { api, publish, retry };
}

export const eventOf = (tenant: string, extra: Record<string, unknown> = {}) => ({
  tenant_id: tenant,
  correlation_id: `cor_${randomUUID()}`,
  trace_id: randomUUID().replaceAll('-', ''),
  event_id: `evt_${randomUUID()}`,
  ...extra,
});
