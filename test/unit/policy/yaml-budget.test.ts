import { describe, expect, it } from 'vitest';
import { compileBundle } from '../../../lambdas/policy/core/bundle.js';
import { cedarContext, decideWith, loadBundle } from '../../../lambdas/policy/core/decide.js';

const meta = { tenantId: 't1', bundleId: 'pb_1', version: 1, createdAt: '2026-01-01T00:00:00Z', revokedAgentIds: [] };
const doc = (budget: string) => `
- name: okta-reads
  connector: okta
  operations: { "users:read*": low, "users:deactivate": high }
  risk_max: medium
  hitl_channel: "#spend"
  ${budget}
`;
const bundle = (budget: string) => {
  const r = compileBundle({ format: 'yaml', document: doc(budget) }, meta);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return loadBundle(r.content, 'sha256:x');
};
const req = (context?: Record<string, unknown>, action = 'okta:users:read') => ({
  tenantId: 't1',
  principal: { type: 'Agent', id: 'agt_1' },
  action,
  ...(context ? { context } : {}),
});
const spend = (day_usd: number, month_usd = day_usd) => ({ connector: 'okta', spend: { day_usd, month_usd } });

describe('YAML budget', () => {
  it('forbids the connector once the period spend reaches the budget (fractional amounts as Cedar decimals)', () => {
    const b = bundle('budget: { period: day, usd: 2.5, over: forbid }');
    expect(decideWith(b, req(spend(2.4999, 100)), 'clear')).toMatchObject({ effect: 'permit', approval: 'none' });
    const over = decideWith(b, req(spend(2.5)), 'clear');
    expect(over).toMatchObject({ effect: 'forbid', determining_policies: ['okta-reads/budget'], errors: [] });
    expect(decideWith(b, req(spend(7.125)), 'clear').effect).toBe('forbid');
    // the budget policy never turns a forbidden operation into a permitted one
    expect(decideWith(b, req(spend(0), 'okta:users:deactivate'), 'clear').effect).toBe('forbid');
  });

  it('reads the month counter for a monthly budget and defaults `over` to forbid', () => {
    const b = bundle('budget: { period: month, usd: 100 }');
    expect(decideWith(b, req(spend(99, 99.99)), 'clear').effect).toBe('permit');
    expect(decideWith(b, req(spend(1, 100)), 'clear').effect).toBe('forbid');
  });

  it('holds for a human with over: hitl, keeping the policy channel', () => {
    const b = bundle('budget: { period: day, usd: 1, over: hitl }');
    expect(decideWith(b, req(spend(0.5)), 'clear')).toMatchObject({ effect: 'permit', approval: 'none' });
    expect(decideWith(b, req(spend(1.01)), 'clear')).toMatchObject({
      effect: 'permit',
      approval: 'hitl',
      hitl: { channel: '#spend' },
    });
    expect(decideWith(b, req(spend(5), 'okta:users:deactivate'), 'clear').effect).toBe('forbid');
  });

  it('fails closed when the spend is not in the context', () => {
    expect(decideWith(bundle('budget: { period: day, usd: 1 }'), req(), 'clear').effect).toBe('forbid');
    expect(decideWith(bundle('budget: { period: day, usd: 1, over: hitl }'), req(), 'clear').approval).toBe('hitl');
    // without a budget the same request is permitted as before
    expect(decideWith(bundle(''), req(), 'clear')).toMatchObject({ effect: 'permit', approval: 'none' });
  });

  it('keeps an API budget context (period_usd, remaining_usd) evaluable: money is decimal, never a float', () => {
    const b = bundle('');
    const ctx = {
      spend: { day_usd: 0.35, month_usd: 3, period_usd: 0.35, period: 'day' },
      budget: { usd: 2, remaining_usd: 1.65 },
    };
    expect(decideWith(b, req(ctx), 'clear')).toMatchObject({ effect: 'permit', errors: [] });
    expect(cedarContext(ctx)).toEqual({
      spend: {
        day_usd: { __extn: { fn: 'decimal', arg: '0.3500' } },
        month_usd: { __extn: { fn: 'decimal', arg: '3.0000' } },
        period_usd: { __extn: { fn: 'decimal', arg: '0.3500' } },
        period: 'day',
      },
      budget: {
        usd: { __extn: { fn: 'decimal', arg: '2.0000' } },
        remaining_usd: { __extn: { fn: 'decimal', arg: '1.6500' } },
      },
    });
  });

  it('refuses bad budgets with a message per problem, compiling nothing', () => {
    const cases: [string, string][] = [
      ['budget: { period: week, usd: 1 }', 'period must be day or month'],
      ['budget: { period: day, usd: -1 }', 'usd must be greater than 0'],
      ['budget: { period: day, usd: 0 }', 'usd must be greater than 0'],
      ['budget: { period: day, usd: "ten" }', 'usd must be a number'],
      ['budget: { period: day, usd: 1.00001 }', 'at most 4 decimal places'],
      ['budget: { period: day, usd: 1e12 }', 'usd must be at most'],
      ['budget: { period: day, usd: 1, over: allow }', 'over must be forbid or hitl'],
      ['budget: { period: day, usd: 1, cap: 2 }', 'cap'],
      ['budget: 50', 'budget is { period: day|month, usd: N, over: forbid|hitl }'],
      ['budget: { usd: 1 }', 'period must be day or month'],
    ];
    for (const [b, msg] of cases) {
      const r = compileBundle({ format: 'yaml', document: doc(b) }, meta);
      expect(r.ok, b).toBe(false);
      if (r.ok) continue;
      expect(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'), b).toContain(msg);
      expect(r.errors[0]!.path, b).toMatch(/^document\.0\.budget/);
    }
  });

  it('names the YAML budgets that govern a permitted action in the decision (what POST /v1/actions reserves against)', () => {
    const forbidB = bundle('budget: { period: month, usd: 20, over: forbid }');
    expect(decideWith(forbidB, req(spend(1)), 'clear').budgets).toEqual([
      {
        policy: 'okta-reads',
        period: 'month',
        usd: 20,
        over: 'forbid',
        hitl: { channel: '#spend', timeout_seconds: 3600, separation_of_duties: false },
      },
    ]);
    // a forbid never carries budgets (nothing is reserved for it)
    expect(decideWith(forbidB, req(spend(1), 'okta:users:deactivate'), 'clear').budgets).toBeUndefined();
    expect(decideWith(forbidB, req(spend(20)), 'clear').budgets).toBeUndefined();
    // over: hitl keeps its budget on a held decision too (the approval reserves against it)
    const hitlB = bundle('budget: { period: day, usd: 1, over: hitl }');
    expect(decideWith(hitlB, req(spend(5)), 'clear')).toMatchObject({
      approval: 'hitl',
      budgets: [{ policy: 'okta-reads', over: 'hitl', usd: 1 }],
    });
    expect(decideWith(bundle(''), req(spend(1)), 'clear').budgets).toBeUndefined();
  });

  it('applies a forbid budget to every action of its connector, a hitl budget to the operations it permits', () => {
    const two = compileBundle(
      {
        format: 'yaml',
        document: `
- name: okta-reads
  connector: okta
  operations: { "users:read*": low }
  budget: { period: day, usd: 3, over: hitl }
- name: okta-groups
  connector: okta
  operations: { "groups:list": low }
  budget: { period: month, usd: 9, over: forbid }
- name: slack-posts
  connector: slack
  operations: { "chat:post": low }
  budget: { period: day, usd: 1, over: forbid }
`,
      },
      meta,
    );
    if (!two.ok) throw new Error(JSON.stringify(two.errors));
    const b = loadBundle(two.content, 'sha256:y');
    const names = (action: string) =>
      (decideWith(b, req(spend(0), action), 'clear').budgets ?? []).map((x) => `${x.policy}:${x.over}`).sort();
    expect(names('okta:users:read')).toEqual(['okta-groups:forbid', 'okta-reads:hitl']);
    expect(names('okta:users:readAll')).toEqual(['okta-groups:forbid', 'okta-reads:hitl']);
    expect(names('okta:groups:list')).toEqual(['okta-groups:forbid']);
    expect(names('slack:chat:post')).toEqual(['slack-posts:forbid']);
  });
});
