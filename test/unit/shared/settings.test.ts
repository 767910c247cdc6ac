import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  SETTINGS,
  checkSettings,
  currentEnv,
  handlerSettings,
  optionalSetting,
  perEnvironment,
  readSettings,
  setting,
  withEnvironment,
} from '../../../lambdas/shared/settings.js';
import { REVOCATION_CACHE_MS } from '../../../lambdas/shared/ports.js';
import { SVID_DEFAULT_TTL_S } from '../../../lambdas/identity/core/svid.js';
import { SVID_MAX_TTL_S } from '../../../lambdas/identity/core/keys.js';
import { DEFAULT_ORPHAN_GRACE_S } from '../../../lambdas/identity/core/owners.js';
import { DEFAULT_ORPHAN_GRACE_S as PDP_ORPHAN_GRACE_S } from '../../../lambdas/policy/core/principal-status.js';
import { DEFAULT_RESYNC_MS } from '../../../layers/pdp-extension/src/revocation-cache.js';

describe('settings registry', () => {
  it('declares every variable with an owner, a reader and a one-line description', () => {
    for (const [name, s] of Object.entries(SETTINGS)) {
      expect(s.owner, name).not.toBe('');
      expect(s.description, name).toMatch(/^[^\n]{10,200}$/);
      expect('required' in s && 'default' in s, `${name} is required and has a default`).toBe(false);
    }
  });

  it('keeps the defaults the code relied on', () => {
    expect(SETTINGS.ARX_SVID_TTL_SECONDS.default).toBe(SVID_DEFAULT_TTL_S);
    expect(SETTINGS.ARX_MAX_TOKEN_TTL_S.default).toBe(SVID_MAX_TTL_S);
    expect(SETTINGS.ARX_ORPHAN_GRACE_SECONDS.default).toBe(DEFAULT_ORPHAN_GRACE_S);
    expect(SETTINGS.ARX_ORPHAN_GRACE_SECONDS.default).toBe(PDP_ORPHAN_GRACE_S);
    expect(SETTINGS.ARX_PDP_REVOCATION_RESYNC_MS.default).toBe(DEFAULT_RESYNC_MS);
  });

  it('bounds the PDP extension revocation window by the shared REVOCATION_CACHE_MS (500 ms), not 1000', () => {
    expect(REVOCATION_CACHE_MS).toBe(500);
    expect(setting('ARX_PDP_REVOCATION_WINDOW_MS', {})).toBe(REVOCATION_CACHE_MS);
  });
});

describe('setting / readSettings', () => {
  it('returns typed values with defaults applied', () => {
    expect(setting('ARX_SEAL_INTERVAL_MS', { ARX_SEAL_INTERVAL_MS: '250' })).toBe(250);
    expect(setting('ARX_SEAL_INTERVAL_MS', {})).toBe(5000);
    expect(setting('ARX_SECRET_PREFIX', {})).toBe('arx/');
    expect(setting('ARX_PUBLIC_API_URL', {})).toBeUndefined();
    expect(
      readSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS'], { ARX_CONTROL_TABLE: 'c', ARX_EVENT_BUS: 'b' }),
    ).toEqual({ ARX_CONTROL_TABLE: 'c', ARX_EVENT_BUS: 'b' });
  });

  it('fails naming every missing required variable', () => {
    expect(() =>
      readSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS', 'ARX_AUDIT_TABLE'], { ARX_EVENT_BUS: 'b' }),
    ).toThrow(new ConfigError('missing required environment variable(s): ARX_CONTROL_TABLE, ARX_AUDIT_TABLE'));
    expect(() => setting('ARX_CONTROL_TABLE', { ARX_CONTROL_TABLE: '' })).toThrow(/ARX_CONTROL_TABLE/);
  });

  it('refuses malformed numbers, enums, URLs and JSON', () => {
    expect(() => setting('ARX_SEAL_BUDGET_MS', { ARX_SEAL_BUDGET_MS: 'ten' })).toThrow(
      /ARX_SEAL_BUDGET_MS must be a number/,
    );
    expect(() => setting('ARX_PDP_PORT', { ARX_PDP_PORT: '70000' })).toThrow(/ARX_PDP_PORT must be within/);
    expect(() => setting('ARX_PDP_OFFLINE_REVOCATION', { ARX_PDP_OFFLINE_REVOCATION: 'allow' })).toThrow(
      /one of forbid, bloom/,
    );
    expect(setting('ARX_PDP_OFFLINE_REVOCATION', { ARX_PDP_OFFLINE_REVOCATION: 'bloom' })).toBe('bloom');
    expect(() => setting('ARX_TSA_URL', { ARX_TSA_URL: 'not a url' })).toThrow(/ARX_TSA_URL must be a URL/);
    expect(() => optionalSetting('ARX_SES_SENDERS', { ARX_SES_SENDERS: '{' })).toThrow(/ARX_SES_SENDERS must be JSON/);
    expect(checkSettings(['ARX_CONTROL_TABLE', 'ARX_SEAL_BUDGET_MS'], { ARX_SEAL_BUDGET_MS: 'x' })).toHaveLength(2);
  });

  it('reads an optional value of a required setting without throwing when unset', () => {
    expect(optionalSetting('ARX_TRACES_TABLE', {})).toBeUndefined();
    expect(optionalSetting('ARX_TRACES_TABLE', { ARX_TRACES_TABLE: 't' })).toBe('t');
  });
});

describe('withEnvironment', () => {
  it('scopes reads to the given environment across awaits, and falls back to process.env outside it', async () => {
    const fnEnv = { ARX_CONTROL_TABLE: 'scoped-table' };
    const seen = await withEnvironment(fnEnv, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return { table: setting('ARX_CONTROL_TABLE'), bus: optionalSetting('ARX_EVENT_BUS'), env: currentEnv() };
    });
    expect(seen).toEqual({ table: 'scoped-table', bus: undefined, env: fnEnv });
    expect(currentEnv()).toBe(process.env);
  });

  it('memoises wiring once per environment, never across them, and not after a failure', () => {
    let builds = 0;
    const wiring = perEnvironment(() => ({ table: setting('ARX_CONTROL_TABLE'), n: ++builds }));
    const a = { ARX_CONTROL_TABLE: 'a' };
    const b = { ARX_CONTROL_TABLE: 'b' };
    expect(withEnvironment(a, wiring)).toEqual({ table: 'a', n: 1 });
    expect(withEnvironment(b, wiring)).toEqual({ table: 'b', n: 2 });
    expect(withEnvironment(a, wiring)).toEqual({ table: 'a', n: 1 });
    expect(() => withEnvironment({}, wiring)).toThrow(ConfigError);
    expect(builds).toBe(2);
  });
});

describe('handlerSettings', () => {
  it('lists the union of its groups and checks them against an environment', () => {
    const s = handlerSettings(['ARX_EVENT_BUS', 'ARX_CONTROL_TABLE'], ['ARX_CONTROL_TABLE', 'ARX_TSA_URL']);
    expect(s.names).toEqual(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS', 'ARX_TSA_URL']);
    expect(() => s.check({ ARX_CONTROL_TABLE: 'c' })).toThrow(
      new ConfigError('missing required environment variable(s): ARX_EVENT_BUS'),
    );
    expect(() => s.check({ ARX_CONTROL_TABLE: 'c', ARX_EVENT_BUS: 'b' })).not.toThrow();
  });

  it('fails at import in a Lambda execution environment when a variable is missing', () => {
    const saved = process.env.AWS_LAMBDA_FUNCTION_NAME;
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'arx-test';
    try {
      expect(() => handlerSettings(['ARX_TERMINATION_STATE_MACHINE_ARN'])).toThrow(/ARX_TERMINATION_STATE_MACHINE_ARN/);
    } finally {
      if (saved === undefined) delete process.env.AWS_LAMBDA_FUNCTION_NAME;
      else process.env.AWS_LAMBDA_FUNCTION_NAME = saved;
    }
  });
});
