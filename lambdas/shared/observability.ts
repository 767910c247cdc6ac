import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { setting } from './settings.js';

/** Powertools instances shared by every handler; one middy chain wraps them all. Service: `arx-<capability>` (POWERTOOLS_SERVICE_NAME). */
const serviceName = setting('POWERTOOLS_SERVICE_NAME');
export const logger = new Logger({ serviceName });
export const tracer = new Tracer({ serviceName });
export const metrics = new Metrics({ namespace: 'ARX', serviceName });

/**
 * The one middy chain: structured logs with the Lambda context, X-Ray tracing, EMF metrics.
 * Handlers never log tokens, secrets or raw tool parameters — only ids and hashes.
 */
export function observed<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  return middy(async (event: E, context: Context) => {
    metrics.addMetric('invocations', MetricUnit.Count, 1);
    return handler(event, context);
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics));
}
