import { describe, it, expect, afterEach } from 'vitest';
import type { Server } from 'node:http';
import { ManualClock } from '../../support/clock.js';
import { compileBundle, digestOf } from '../../../lambdas/policy/core/bundle.js';
import { TenantBundlePdp } from '../../../lambdas/policy/core/decision-point.js';
import { BoundIdentity, startPdpServer } from '../../../layers/pdp-extension/src/server.js';
import { freePort } from '../../../local/moto.js';
import { EVERYONE_ACTIVE, LocalSigner, MemorySource, OKTA_YAML } from './helpers.js';

describe('PDP extension server with a function-bound agent (ARX_AGENT_ID)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  it('F21a: a function bound to one agent cannot ask as a sibling agent of its tenant', async () => {
    const signer = new LocalSigner();
    const source = new MemorySource();
    const c = compileBundle(
      { format: 'yaml', document: OKTA_YAML },
      { tenantId: 't1', bundleId: 'pb_1', version: 1, createdAt: '2026-12-01T00:00:00Z', revokedAgentIds: [] },
    );
    if (!c.ok) throw new Error('invalid');
    const digest = digestOf(c.content);
    source.set('t1', { ...c.content, digest, signature: await signer.sign('t1', digest) });
    const pdp = new TenantBundlePdp({
      source,
      signer,
      revocation: { status: async () => 'clear' },
      principals: EVERYONE_ACTIVE,
      clock: new ManualClock(),
    });
    const port = await freePort();
    server = await startPdpServer(
      { tenantId: 't1', pdp, health: () => ({}), identity: new BoundIdentity('agt_terminated') },
      port,
    );
    const ask = (id: string) =>
      fetch(`http://127.0.0.1:${port}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ principal: { type: 'Agent', id }, action: 'okta:users:read' }),
      });
    const sibling = await ask('agt_sibling');
    expect(sibling.status).toBe(403);
    expect(await sibling.json()).toEqual({ error: 'the caller may only ask about its own agent' });
    const own = await ask('agt_terminated');
    expect(own.status).toBe(200);
    expect(((await own.json()) as { effect: string }).effect).toBe('permit');
  });
});
