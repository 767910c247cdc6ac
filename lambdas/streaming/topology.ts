import type { CapabilityTopology } from '../shared/topology-types.js';
import { STREAMED_DETAIL_TYPES } from './core/model.js';
import {
  CreateSubscriptionBody,
  DeliveriesQuery,
  DeliveryList,
  ReplayBody,
  Replayed,
  SubscriptionCreated,
  SubscriptionList,
  SubscriptionView,
} from './schemas.js';

const sub = (
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  roles: ('admin' | 'auditor')[],
  summary: string,
  rest: object,
) => ({ method, path, fn: 'streaming-api', auth: 'bearer' as const, roles, summary, ...rest });

/** Streaming (issue 17): subscriptions of webhooks, Slack, PagerDuty and the security lake to ARX events. */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'streaming-api',
      capability: 'streaming',
      entry: 'lambdas/streaming/handlers/api.ts',
      description: 'Subscriptions to ARX events: create (signing secret shown once), read, delete, deliveries, replay',
      uses: { controlTable: 'write', dataKey: 'write' },
    },
    {
      name: 'streaming-bus-consumer',
      capability: 'streaming',
      entry: 'lambdas/streaming/handlers/bus-consumer.ts',
      description: 'One delivery per subscription and event, attempted at once (Standard Webhooks signatures)',
      uses: { controlTable: 'write', dataKey: 'read', artifactBucket: 'write' },
      timeoutSeconds: 60,
    },
    {
      name: 'streaming-retry',
      capability: 'streaming',
      entry: 'lambdas/streaming/handlers/retry.ts',
      description: 'Retries due deliveries with exponential backoff and jitter for 24 h, then dead-letters them',
      uses: { controlTable: 'write', dataKey: 'read', artifactBucket: 'write' },
      timeoutSeconds: 60,
    },
  ],
  routes: [
    sub(
      'POST',
      '/v1/subscriptions',
      ['admin'],
      'Subscribe a webhook, Slack, PagerDuty or the security lake to ARX events',
      {
        body: CreateSubscriptionBody,
        response: {
          status: 201,
          description: 'The subscription and its Standard Webhooks signing secret (whsec_…), shown only here',
          schema: SubscriptionCreated,
        },
      },
    ),
    sub('GET', '/v1/subscriptions', ['admin', 'auditor'], "The tenant's subscriptions", {
      response: { status: 200, description: '{items: Subscription[]}', schema: SubscriptionList },
    }),
    sub('GET', '/v1/subscriptions/{id}', ['admin', 'auditor'], 'One subscription (never its secret)', {
      response: { status: 200, description: 'Subscription', schema: SubscriptionView },
    }),
    sub('DELETE', '/v1/subscriptions/{id}', ['admin'], 'Delete a subscription; its pending deliveries are dropped', {
      response: { status: 204, description: 'deleted' },
    }),
    sub(
      'GET',
      '/v1/subscriptions/{id}/deliveries',
      ['admin', 'auditor'],
      'Deliveries of a subscription, newest first: attempts, status, last answer, next retry, dead letters',
      {
        query: DeliveriesQuery,
        response: { status: 200, description: '{items: Delivery[], next_token?}', schema: DeliveryList },
      },
    ),
    sub(
      'POST',
      '/v1/subscriptions/{id}/replay',
      ['admin'],
      'Send settled deliveries again (the named ones, or every dead-lettered one) under the same webhook-id',
      {
        body: ReplayBody,
        response: { status: 202, description: '{replayed, delivery_ids}', schema: Replayed },
      },
    ),
  ] as CapabilityTopology['routes'],
  events: [{ name: 'streaming-arx-events', fn: 'streaming-bus-consumer', detailTypes: [...STREAMED_DETAIL_TYPES] }],
  schedules: [{ name: 'streaming-retries', fn: 'streaming-retry', rate: 'rate(1 minute)' }],
};
export default topology;
