import { z } from 'zod';
import type { Connector } from '../core/model.js';
import { awsConnector } from './aws.js';
import { datadogConnector } from './datadog.js';
import { httpConnector } from './http.js';
import { oktaConnector } from './okta.js';

/** The shipped connectors, by name. */
export const CONNECTORS: ReadonlyMap<string, Connector> = new Map(
  [oktaConnector, datadogConnector, awsConnector, httpConnector].map((c) => [c.name, c]),
);

/** One connector's published catalog: its operations, their params JSON schemas and a suggested risk. */
export function connectorCatalog(c: Connector) {
  return {
    name: c.name,
    description: c.description,
    operations: Object.entries(c.operations).map(([name, op]) => ({
      name,
      action: `${c.name}:${name}`,
      description: op.description,
      suggested_risk: op.risk ?? null,
      params: z.toJSONSchema(op.params, { unrepresentable: 'any' }),
    })),
  };
}
