import { z } from 'zod';
import type { CapabilityTopology } from '../shared/topology-types.js';

/** Platform: health, the OpenAPI document, and the Lambda authorizer (not a route). */
const topology: CapabilityTopology = {
  functions: [
    {
      name: 'platform-api',
      capability: 'platform',
      entry: 'lambdas/platform/handlers/api.ts',
      description: 'Health check and OpenAPI document',
      uses: {},
      memoryMb: 256,
    },
    {
      name: 'platform-authorizer',
      capability: 'platform',
      entry: 'lambdas/platform/handlers/authorizer.ts',
      description: 'HTTP API Lambda authorizer: human OIDC JWTs and agent SVIDs',
      uses: { controlTable: 'read', revocationTable: 'read' },
      memoryMb: 256,
    },
  ],
  routes: [
    {
      method: 'GET',
      path: '/healthz',
      fn: 'platform-api',
      auth: 'none',
      roles: [],
      summary: 'Liveness',
      response: { status: 200, description: '{status:"ok"}', schema: z.object({ status: z.literal('ok') }) },
    },
    {
      method: 'GET',
      path: '/openapi.json',
      fn: 'platform-api',
      auth: 'none',
      roles: [],
      summary: 'This API as OpenAPI 3.1',
      response: {
        status: 200,
        description: 'OpenAPI 3.1 document',
        schema: z.looseObject({
          openapi: z.string(),
          info: z.looseObject({ title: z.string(), version: z.string() }),
          paths: z.record(z.string(), z.unknown()),
        }),
      },
    },
  ],
};
export default topology;
