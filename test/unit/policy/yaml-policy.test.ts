import { describe, it, expect } from 'vitest';
import {
  compileYamlPolicy,
  classify,
  parseDuration,
  YamlPolicyError,
} from '../../../lambdas/policy/core/yaml-policy.js';
import { validateCedar } from '../../../lambdas/policy/core/bundle.js';
import { OKTA_YAML } from './helpers.js';

describe('compileYamlPolicy', () => {
  it('compiles the brief policy to Cedar that validates strictly against its schema', () => {
    const c = compileYamlPolicy(OKTA_YAML);
    expect(validateCedar(c.schema, c.policies, [])).toEqual([]);
    expect(c.policies).toContain('permit (principal is Agent, action in Action::"okta:users:read*", resource);');
    expect(c.policies).toContain('forbid (principal, action in Action::"okta:users:delete", resource);');
    expect(c.actionPatterns).toEqual(expect.arrayContaining(['okta:*', 'okta:users:read*', 'okta:groups:read*']));
  });

  it('keeps the approval map, channel, timeout and separation of duties in the risk table', () => {
    const [p] = compileYamlPolicy(OKTA_YAML).risk;
    expect(p).toMatchObject({
      name: 'okta-access-review',
      connector: 'okta',
      risk_max: 'high',
      approval: { low: 'none', medium: 'auto', high: 'hitl', critical: 'hitl' },
      hitl_channel: '#access-reviews',
      hitl_timeout_seconds: 3600,
      separation_of_duties: true,
    });
  });

  it('refuses unknown fields, bad risks and bad YAML with a path per problem', () => {
    expect(() => compileYamlPolicy('- name: x\n  connector: okta\n  operations: { "users:read": extreme }\n')).toThrow(
      YamlPolicyError,
    );
    expect(() =>
      compileYamlPolicy('- name: x\n  connector: okta\n  operations: { "users:read": low }\n  colour: red\n'),
    ).toThrow(/colour/);
    expect(() => compileYamlPolicy('- name: [unclosed')).toThrow(/not valid YAML/);
  });

  it('refuses two policies with the same name', () => {
    const doc =
      '- name: a\n  connector: okta\n  operations: { "users:read": low }\n- name: a\n  connector: jira\n  operations: { "issues:read": low }\n';
    expect(() => compileYamlPolicy(doc)).toThrow(/duplicate policy name/);
  });
});

describe('classify', () => {
  const table = compileYamlPolicy(OKTA_YAML).risk;
  it('prefers the exact operation, then the longest wildcard pattern', () => {
    expect(classify(table, 'okta:users:deactivate')?.risk).toBe('high');
    expect(classify(table, 'okta:users:read')?.risk).toBe('low');
    expect(classify(table, 'okta:users:readAll')?.risk).toBe('low');
  });
  it('returns null for an unknown connector or operation', () => {
    expect(classify(table, 'github:repos:read')).toBeNull();
    expect(classify(table, 'okta:apps:delete')).toBeNull();
  });
});

describe('parseDuration', () => {
  it('reads s, m, h, d and bare seconds', () => {
    expect([
      parseDuration('90s'),
      parseDuration('30m'),
      parseDuration('1h'),
      parseDuration('2d'),
      parseDuration(45),
      parseDuration('15'),
    ]).toEqual([90, 1800, 3600, 172800, 45, 15]);
  });
});
