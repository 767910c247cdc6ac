import { afterEach, describe, expect, it } from 'vitest';
import { channelSecretName, connectorSecretName } from '../../../lambdas/actions/core/model.js';

describe('secret names', () => {
  const before = process.env.ARX_SECRET_PREFIX;
  afterEach(() => {
    if (before === undefined) delete process.env.ARX_SECRET_PREFIX;
    else process.env.ARX_SECRET_PREFIX = before;
  });

  it('default to arx/<tenant>/… when the stack sets no prefix', () => {
    delete process.env.ARX_SECRET_PREFIX;
    expect(connectorSecretName('acme', 'okta')).toBe('arx/acme/connectors/okta');
    expect(channelSecretName('acme', 'slack')).toBe('arx/acme/slack');
  });

  it('live under the stack prefix (ARX_SECRET_PREFIX), so two stacks in one account keep their secrets apart', () => {
    process.env.ARX_SECRET_PREFIX = 'arx-blue/';
    const blue = connectorSecretName('acme', 'okta');
    process.env.ARX_SECRET_PREFIX = 'arx-green/';
    expect(blue).toBe('arx-blue/acme/connectors/okta');
    expect(connectorSecretName('acme', 'okta')).toBe('arx-green/acme/connectors/okta');
    expect(channelSecretName('acme', 'webhook')).toBe('arx-green/acme/webhook');
  });
});
