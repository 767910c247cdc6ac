import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { DependencyError, NotFoundError } from '../../shared/errors.js';
import { routesOf } from '../../topology.js';
import { readClientSecret } from '../adapters/credential-issuers.js';
import { credentialBrokerFromEnv } from '../broker.js';
import type { IssueCredentialBody, RevokeCredentialsBody } from '../schemas.js';
import { lazyConfig, readConfig } from '../../shared/config.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoInventoryStore } from '../../discovery/adapters/dynamo-inventory-store.js';
import { getAgent } from '../core/agents.js';

/** Read-only inventory: this function only checks the agent exists in the caller's tenant. */
const inventory = lazyConfig(() => {
  const c = readConfig(['ARX_INVENTORY_TABLE', 'ARX_CONTROL_TABLE']);
  const readOnly = new Outbox(c.ARX_CONTROL_TABLE, {
    publish: async () => {
      throw new Error('identity-credentials does not write the inventory');
    },
  });
  return new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, readOnly);
});

/**
 * `POST /v1/credentials/issue` (server to server, after a permit). The tenant is the caller's;
 * the response is never cached by intermediaries and the credential is never persisted.
 */
export const handler = createApiHandler(routesOf('identity-credentials'), {
  'POST /v1/credentials/issue': async (req: ApiRequest<IssueCredentialBody>) => {
    const tenantId = req.auth!.tenantId;
    // Another tenant's (or an unknown) agent is a 404; status is checked by the broker's gate.
    await getAgent({ inventory: inventory() }, tenantId, req.body.agent_id);
    const broker = credentialBrokerFromEnv();
    const t = req.body.target;
    let issued;
    if (t.kind === 'aws') {
      issued = (
        await broker.issueAws({
          tenantId,
          agentId: req.body.agent_id,
          ...(req.body.action_id ? { actionId: req.body.action_id } : {}),
          actions: t.actions,
          resources: t.resources,
          ...(t.role_arn ? { roleArn: t.role_arn } : {}),
          ...(t.external_id ? { externalId: t.external_id } : {}),
        })
      ).issued;
    } else {
      if (!t.client_secret_id.startsWith(`arx/${tenantId}/`)) {
        throw new NotFoundError('no such client secret');
      }
      let secret: string;
      try {
        secret = await readClientSecret(t.client_secret_id);
      } catch (e) {
        throw new DependencyError('client secret unavailable', { cause: e });
      }
      issued = await broker.issueOAuth({
        tenantId,
        agentId: req.body.agent_id,
        tokenEndpoint: t.token_endpoint,
        clientId: t.client_id,
        clientSecret: secret,
        resource: t.resource,
        ...(t.scope ? { scope: t.scope } : {}),
      });
    }
    return { status: 200, body: issued, headers: { 'cache-control': 'no-store', pragma: 'no-cache' } };
  },
  'POST /v1/credentials/revoke': async (req: ApiRequest<RevokeCredentialsBody>) => ({
    status: 200,
    body: await credentialBrokerFromEnv().revokeAgentCredentials(req.auth!.tenantId, req.body.agent_id),
  }),
});
