/**
 * The console in a real browser: Debian's Chromium driven by playwright-core against the local
 * runtime. Signs in through the dev issuer's OIDC code + PKCE flow, approves and denies actions
 * agents submit while the page is open, terminates an agent and watches the saga, opens a trace's
 * waterfall, validates, uploads and promotes a policy, and runs axe on every page. Screenshots of
 * every page go to console/screenshots/ (gitignored).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActionDenied, ArxClient } from '../../sdk/index.js';
import type { LocalRuntime } from '../../local/runtime.js';
import { api, eventually, startTestRuntime } from '../support/runtime.js';
import { fakeOkta, recordingServer } from '../integration/actions/support.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN_TTL_S = 30;
const SHOTS = 'console/screenshots';
const POLICY = `
- name: okta-access-review
  connector: okta
  operations:
    "users:read*": low
    "users:deactivate": high
    "users:update": high
  risk_max: high
  approval: { low: none, medium: auto, high: hitl, critical: hitl }
  hitl_channel: "#access-reviews"
  hitl_timeout: 1h
`;

describe('ARX console in Chromium', () => {
  let rt: LocalRuntime;
  let call: ReturnType<typeof api>;
  let admin: string;
  let browser: Browser;
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  const fake = fakeOkta('okta-console-token');
  const contexts: BrowserContext[] = [];
  const axeFindings: Record<string, string[]> = {};
  let reviewer: { agentId: string; arx: ArxClient };
  let approvedTraceId = '';

  const register = async (nativeId: string, name: string) => {
    const r = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: nativeId,
        name,
        owner: { oidc_sub: 'owner-1', email: 'owner@example.com' },
      },
    });
    expect(r.status).toBe(201);
    return {
      agentId: r.json.agent_id as string,
      arx: new ArxClient({ apiUrl: rt.url, bootstrapToken: r.json.bootstrap_token }),
    };
  };
  /** What an agent sends: a governed action that waits for a human (202 pending_approval). */
  const submit = async (
    arx: ArxClient,
    operation: string,
    params: Record<string, unknown>,
    reason: string,
    traceparent?: string,
  ) => {
    const res = await fetch(`${rt.url}/v1/actions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await arx.token()}`,
        'content-type': 'application/json',
        ...(traceparent ? { traceparent } : {}),
      },
      body: JSON.stringify({ connector: 'okta', operation, params, reason }),
    });
    const body = (await res.json()) as { action_id: string; status: string; trace_id: string };
    expect(res.status).toBe(202);
    expect(body.status).toBe('pending_approval');
    return body;
  };
  /** Script errors and console errors (a CSP violation among them) of every page, checked after each test. */
  const pageErrors: string[] = [];
  const newPage = async (): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    return page;
  };
  const signIn = async (page: Page, user: 'admin' | 'approver' | 'auditor') => {
    await page.goto(`${rt.url}/console/`);
    await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
    await page.getByRole('button', { name: `Sign in as ${user}` }).click();
    await page.waitForURL(`${rt.url}/console/**`);
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
    await expect(page.locator('.who').textContent()).resolves.toContain(user);
  };
  /** axe on the page as it is: no serious or critical violation; screenshots at 1280×800 and a laptop's 1024×640. */
  const check = async (page: Page, name: string, laptop = true) => {
    const r = await new AxeBuilder({ page }).analyze();
    const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    axeFindings[name] = bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    expect(axeFindings[name]).toEqual([]);
    if (laptop) await shot(page, name);
    else await page.screenshot({ path: `${SHOTS}/${name}.png` });
  };
  /** Screenshots at 1280×800 (whole page) and at a laptop's 1024×640, where nothing may scroll sideways. */
  const shot = async (page: Page, name: string) => {
    await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
    const size = page.viewportSize()!;
    await page.setViewportSize({ width: 1024, height: 640 });
    await page.screenshot({ path: `${SHOTS}/${name}-laptop.png` });
    // Nothing wider than the laptop's screen: no sideways scrolling of the page itself.
    const overflow = await page.evaluate(
      () =>
        (globalThis as any).document.documentElement.scrollWidth -
        (globalThis as any).document.documentElement.clientWidth,
    );
    await page.setViewportSize(size);
    expect(overflow, `${name} scrolls sideways at 1024×640`).toBeLessThanOrEqual(0);
  };
  const goto = async (page: Page, hash: string, heading: string) => {
    await page.evaluate((h) => {
      (globalThis as any).location.hash = h;
    }, hash);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };

  beforeAll(async () => {
    // Fails loudly, never skips: the browser tests need Debian's Chromium.
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    const launched = chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    okta = await recordingServer((c) => fake.handler(c));
    // Console tokens live 30 s: every flow below runs across renewals, and the token test sees them.
    rt = await startTestRuntime({}, { consoleTokenTtlSeconds: TOKEN_TTL_S });
    call = api(rt.url);
    admin = await rt.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    expect(
      (
        await call('PUT', '/v1/connectors/okta', {
          token: admin,
          body: { config: { base_url: okta.url }, secret: { api_token: 'okta-console-token' } },
        })
      ).status,
    ).toBe(200);
    const b = await call('POST', '/v1/policies/bundles', { token: admin, body: { format: 'yaml', document: POLICY } });
    expect((await call('POST', `/v1/policies/bundles/${b.json.bundle_id}/promote`, { token: admin })).status).toBe(200);
    reviewer = await register('reviewer-1', 'access reviewer');
    // The PDP loads the promoted bundle within its poll window.
    await eventually(
      () =>
        reviewer.arx.execute({ connector: 'okta', operation: 'users:read', params: { user_id: '00u1' } }).then(
          () => true,
          (e: unknown) => (e instanceof ActionDenied ? false : Promise.reject(e)),
        ),
      45_000,
      500,
    );
    browser = await launched;
  }, 120_000);
  afterEach(() => {
    const seen = pageErrors.splice(0);
    expect(seen).toEqual([]);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await rt?.stop();
    await okta?.close();
  });

  it('an approver signs in, sees a pending approval appear, approves it (executed) and denies another', async () => {
    const page = await newPage();
    await signIn(page, 'approver');
    await page.getByRole('heading', { level: 1, name: 'Approvals' }).waitFor();
    // Roles shape the console: an approver sees approvals and the dashboard only.
    await expect(
      page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents(),
    ).resolves.toEqual(['Approvals', 'Dashboard']);
    const reason = '<img src=x onerror="window.pwned=1"> offboarding 00u3 (ticket IT-7)';
    // The agent's own LLM span (OpenTelemetry SDK, OTLP/JSON), in whose trace it asks ARX to act.
    const exporter = new OTLPTraceExporter({
      url: `${rt.url}/v1/otlp/v1/traces`,
      headers: { authorization: `Bearer ${await reviewer.arx.token()}` },
    });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'access-reviewer', 'gen_ai.agent.id': reviewer.agentId }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const llm = provider.getTracer('reviewer-agent').startSpan('chat claude-sonnet-4', {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-sonnet-4-20250514',
        'gen_ai.usage.input_tokens': 2000,
        'gen_ai.usage.output_tokens': 400,
      },
    });
    const sc = llm.spanContext();
    const pending = await submit(
      reviewer.arx,
      'users:deactivate',
      { user_id: '00u3' },
      reason,
      `00-${sc.traceId}-${sc.spanId}-01`,
    );
    llm.end();
    await provider.forceFlush();
    await provider.shutdown();
    expect(pending.trace_id).toBe(sc.traceId);
    approvedTraceId = pending.trace_id;
    // Appears without a reload.
    const card = page.locator('li.card', { hasText: '"user_id": "00u3"' });
    await card.waitFor({ timeout: 10_000 });
    await expect(card.locator('blockquote.reason').textContent()).resolves.toBe(reason);
    expect(await card.locator('blockquote.reason img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    await expect(card.locator('.sla').textContent()).resolves.toMatch(/^(59m|1h 0m)/);
    await expect(card.textContent()).resolves.toContain('okta-access-review');
    await expect(card.textContent()).resolves.toContain('high');
    await check(page, 'approvals');

    await card.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('ticket IT-7 checked');
    await check(page, 'approvals-dialog', false);
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    const outcome = page.locator('.outcome', { hasText: pending.action_id });
    await outcome.waitFor();
    await expect(outcome.textContent()).resolves.toMatch(/^Approved: okta users:deactivate.*executed/);
    const act = await call('GET', `/v1/actions/${pending.action_id}`, { token: admin });
    expect(act.json.status).toBe('executed');
    expect(act.json.approval_metadata.reason).toBe('ticket IT-7 checked');
    expect(
      okta.calls.some((c) => c.method === 'POST' && c.path.startsWith('/api/v1/users/00u3/lifecycle/deactivate')),
    ).toBe(true);

    // Deny a second one, with the keyboard only.
    const title = `Director of ${'very '.repeat(40)}long titles`;
    const second = await submit(
      reviewer.arx,
      'users:update',
      { user_id: '00u1', profile: { title, lastName: 'Doe', firstName: 'John' } },
      'promote 00u1',
    );
    const card2 = page.locator('li.card', { hasText: '"user_id": "00u1"' });
    await card2.waitFor({ timeout: 10_000 });
    // Parameters whole (nothing cut), keys in canonical order at every level.
    const params = await card2.locator('pre.json').textContent();
    expect(JSON.parse(params!)).toEqual({ profile: { firstName: 'John', lastName: 'Doe', title }, user_id: '00u1' });
    expect(params!.indexOf('"profile"')).toBeLessThan(params!.indexOf('"user_id"'));
    expect(params!.indexOf('"firstName"')).toBeLessThan(params!.indexOf('"lastName"'));
    expect(params!.indexOf('"lastName"')).toBeLessThan(params!.indexOf('"title"'));
    await card2.getByRole('button', { name: 'Deny' }).focus();
    await page.keyboard.press('Enter');
    await expect(
      page.getByLabel('Reason').evaluate((el) => el === (globalThis as any).document.activeElement),
    ).resolves.toBe(true);
    await page.keyboard.type('not in the leavers list');
    await page.keyboard.press('Tab'); // Cancel
    await page.keyboard.press('Tab'); // Confirm
    await page.keyboard.press('Enter');
    await page.locator('.outcome', { hasText: second.action_id }).waitFor();
    await expect(page.locator('.outcome', { hasText: second.action_id }).textContent()).resolves.toMatch(/^Denied/);
    expect((await call('GET', `/v1/actions/${second.action_id}`, { token: admin })).json.status).toBe('rejected');
    // Decided: who and how long it took.
    const row = page.locator('tr', { hasText: 'not in the leavers list' });
    await row.waitFor();
    await expect(row.textContent()).resolves.toMatch(/denied.*manager@example\.com|denied.*dev-approver/);
    await shot(page, 'approvals-decided');
  }, 120_000);

  it('an admin terminates an agent and watches the saga to its end; register and adopt', async () => {
    const victim = await register('victim-1', 'runaway agent');
    const ingest = await call('POST', '/v1/discovery/ingest', {
      token: admin,
      body: {
        agents: [{ platform: 'crewai', platform_native_id: 'shadow-1', name: 'shadow agent', observed_actions: 3 }],
      },
    });
    expect(ingest.status).toBe(200);
    // An agent whose owner left: an orphan until someone else is made accountable.
    const r = await call('POST', '/v1/identity/agents', {
      token: admin,
      body: {
        platform: 'langchain',
        platform_native_id: 'orphan-1',
        name: 'orphaned agent',
        owner: { oidc_sub: 'leaver-1' },
      },
    });
    expect(r.status).toBe(201);
    expect((await call('POST', '/v1/identity/leavers', { token: admin, body: { oidc_sub: 'leaver-1' } })).status).toBe(
      200,
    );
    const page = await newPage();
    await signIn(page, 'admin');
    await goto(page, '#/agents', 'Agents');
    const row = page.locator('tr', { hasText: victim.agentId });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('owner@example.com');
    await expect(page.locator('tr', { hasText: 'shadow agent' }).textContent()).resolves.toContain('discovered');

    await row.getByRole('button', { name: 'Terminate runaway agent' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await expect(dialog.getByRole('alert').textContent()).resolves.toBe('A reason is required.');
    await dialog.getByLabel('Reason').fill('runaway loop, INC-42');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    const saga = page.locator('section.termination');
    await saga.waitFor();
    await expect(saga.locator('li.step').allTextContents()).resolves.toHaveLength(7);
    await saga.locator('h2 .badge', { hasText: /^(complete|partial failure)$/ }).waitFor({ timeout: 30_000 });
    const final = await saga.locator('h2 .badge').textContent();
    const steps = await saga.locator('li.step').allTextContents();
    const t = await call('GET', `/v1/identity/agents/${victim.agentId}`, { token: admin });
    expect(t.json.status).toBe('terminated');
    expect(final).toBe('complete');
    expect(steps.every((s) => /\b(ok|skipped)\b/.test(s))).toBe(true);
    await check(page, 'agents-terminated');

    // Adopt the discovered agent: it becomes sanctioned, with a one-time bootstrap token.
    await page.locator('tr', { hasText: 'shadow agent' }).getByRole('button', { name: 'Adopt shadow agent' }).click();
    await page.getByRole('dialog').getByLabel('Owner (OIDC subject)').fill('bob');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.secret', { hasText: 'Bootstrap token for shadow agent' }).waitFor();
    await expect(page.locator('.secret code').textContent()).resolves.toMatch(/^arxb_/);
    // Adopted, it is a registered agent: sanctioned, with its accountable owner.
    // Until discovery folds the adoption in (an inventory change through the bus), the list may
    // also show the discovered record beside the new agent: look at the sanctioned row.
    const adopted = page.locator('tr', {
      hasText: 'shadow agent',
      has: page.locator('.badge', { hasText: /^sanctioned$/ }),
    });
    await adopted.waitFor();
    await expect(adopted.textContent()).resolves.toContain('bob');

    // The orphan gets a new owner.
    await page.getByRole('button', { name: 'Assign owner to orphaned agent' }).click();
    await page.getByRole('dialog').getByLabel('Owner (OIDC subject)').fill('dana');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('heading', { name: 'Orphans (0)' }).waitFor();
    expect((await call('GET', `/v1/identity/agents/${r.json.agent_id}`, { token: admin })).json.owner).toMatchObject({
      oidc_sub: 'dana',
      status: 'live',
    });

    // Register, rotate and revoke from the page.
    await page.getByText('Register an agent').click();
    const form = page.locator('details.panel form');
    await form.getByLabel('Platform', { exact: true }).fill('langchain');
    await form.getByLabel('Platform id').fill('ui-registered-1');
    await form.getByLabel('Name').fill('ui agent');
    await form.getByLabel('Owner (OIDC subject)').fill('carol');
    await form.getByRole('button', { name: 'Register' }).click();
    await page.locator('.secret', { hasText: 'Bootstrap token for ui agent' }).waitFor();
    const first = await page.locator('.secret code').textContent();
    const uiRow = page.locator('tr', { hasText: 'ui agent' });
    await uiRow.waitFor();
    await uiRow.getByRole('button', { name: 'Rotate ui agent' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.secret', { hasText: 'New bootstrap token for ui agent' }).waitFor();
    const rotated = await page.locator('.secret code').textContent();
    expect(rotated).toMatch(/^arxb_/);
    expect(rotated).not.toBe(first);
    await uiRow.getByRole('button', { name: 'Revoke ui agent' }).click();
    await page.getByRole('dialog').getByLabel('Reason').fill('replaced');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await uiRow.locator('.badge', { hasText: 'revoked' }).waitFor();
  }, 120_000);

  it('an admin opens the waterfall of the approved action: ARX decision, approval wait, execution, cost', async () => {
    const page = await newPage();
    await signIn(page, 'admin');
    await goto(page, '#/traces', 'Traces');
    const link = page.getByRole('link', { name: approvedTraceId });
    await link.waitFor();
    await check(page, 'traces');
    await link.click();
    await page.getByRole('heading', { name: `Trace ${approvedTraceId}` }).waitFor();
    // ARX's spans (decision, approval wait, execution) reach the trace store through the bus: the page re-reads a partial trace.
    await page.locator('table.waterfall tbody button', { hasText: 'arx.execution' }).waitFor({ timeout: 20_000 });
    const names = await page.locator('table.waterfall tbody button').allTextContents();
    expect(names).toEqual(
      expect.arrayContaining([
        'chat claude-sonnet-4',
        'arx.governed_action',
        'arx.decision',
        'arx.approval',
        'arx.execution',
      ]),
    );
    // The agent's LLM span is priced; the total is the sum.
    const llmRow = page.locator('table.waterfall tr', { hasText: 'chat claude-sonnet-4' });
    await expect(llmRow.locator('td').last().textContent()).resolves.toMatch(/^\$0\.0\d*[1-9]/);
    await expect(llmRow.textContent()).resolves.toContain('agent');
    await expect(page.locator('dl.facts').textContent()).resolves.toMatch(/Total cost\$\d/);
    const approvalRow = page.locator('table.waterfall tr', { hasText: 'arx.approval' });
    await approvalRow.getByRole('button').click();
    await expect(page.locator('pre.json').last().textContent()).resolves.toContain('arx.approver');
    await expect(page.getByText(/Partial trace/).count()).resolves.toBeGreaterThanOrEqual(0);
    await check(page, 'trace-waterfall');
  }, 30_000);

  it('an admin edits a policy with inline validation, uploads it, sees the diff and promotes it', async () => {
    const page = await newPage();
    await signIn(page, 'admin');
    await goto(page, '#/policies', 'Policies');
    const editor = page.getByLabel('Policy document (YAML)');
    await editor.waitFor();
    await page.getByText('Valid: the compiler accepts it and every operation is in its connector’s catalog.').waitFor();
    // An operation the okta catalog does not have, as you type.
    await editor.fill(POLICY.replace('"users:deactivate": high', '"users:deactivat": high'));
    const msg = page.locator('.messages li', { hasText: 'has no operation matching "users:deactivat"' });
    await msg.waitFor();
    await expect(msg.locator('.where').textContent()).resolves.toBe('line 6');
    await expect(page.getByRole('button', { name: 'Upload bundle' }).isDisabled()).resolves.toBe(true);
    // The compiler's own message, inline.
    await editor.fill(POLICY.replace('risk_max: high', 'risk_max: extreme'));
    await page.locator('.messages li', { hasText: '0.risk_max' }).waitFor();
    await expect(page.locator('.messages li .where').first().textContent()).resolves.toBe('line 8');
    await check(page, 'policies-invalid');
    await editor.fill(POLICY.replace('"users:deactivate": high', '"users:deactivate": critical'));
    // The catalog's suggested risk differs: a warning, which does not block the upload.
    await page
      .locator('.messages li.warning', { hasText: 'the catalog suggests risk high, the policy says critical' })
      .waitFor();
    await page
      .locator('.messages li.warning', { hasText: 'above risk_max high: the compiled policy forbids it' })
      .waitFor();
    await page.getByRole('button', { name: 'Upload bundle' }).click();
    const stored = await page.getByText(/^Stored bundle v\d+/).textContent();
    const version = /^Stored bundle v(\d+) \((pb_[^)]+)\)/.exec(stored!)!;
    // The bundle list is the API's (GET /v1/policies/bundles): the new bundle is a draft, the one the suite promoted is live.
    const listed = await call('GET', '/v1/policies/bundles', { token: admin });
    expect(listed.json.items[0]).toMatchObject({ bundle_id: version[2], version: Number(version[1]), status: 'draft' });
    const liveBefore = listed.json.live.bundle_id as string;
    const newRow = page.locator('tbody tr', { hasText: version[2]! });
    await newRow.locator('.badge', { hasText: /^draft$/ }).waitFor();
    await expect(newRow.textContent()).resolves.toContain('by dev-admin');
    await page
      .locator('tbody tr', { hasText: liveBefore })
      .locator('.badge', { hasText: /^live$/ })
      .waitFor();
    await newRow.getByRole('button', { name: `Promote v${version[1]}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/^Live bundle is now v\d+/).waitFor();
    // The list re-reads: the new bundle live, the one it replaced previous.
    await newRow.locator('.badge', { hasText: /^live$/ }).waitFor();
    await page
      .locator('tbody tr', { hasText: liveBefore })
      .locator('.badge', { hasText: /^previous$/ })
      .waitFor();
    const live = await call('POST', '/v1/policies/evaluate', {
      token: admin,
      body: {
        principal: { type: 'Agent', id: reviewer.agentId },
        action: { type: 'Action', id: 'okta:users:deactivate' },
        resource: { type: 'Resource', id: 'x' },
        context: {},
      },
    });
    expect([200, 400]).toContain(live.status);
    // Policy-by-policy diff of the new bundle against the one it replaced.
    await page.getByRole('button', { name: 'Show diff' }).click();
    await page.locator('.diff').waitFor();
    await expect(page.locator('.diff p').textContent()).resolves.toMatch(
      /^v\d+ → v\d+: \d+ added, \d+ removed, \d+ changed/,
    );
    await expect(page.locator('.diff pre.add').textContent()).resolves.toContain(
      'forbid (principal, action in Action::"okta:users:deactivate", resource);',
    );
    await shot(page, 'policies');
  }, 40_000);

  it('an auditor reads the chain, evidence and builds a compliance package; the dashboard shows charts with numbers', async () => {
    const page = await newPage();
    await signIn(page, 'auditor');
    await expect(
      page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents(),
    ).resolves.toEqual(['Agents', 'Traces', 'Audit', 'Policies', 'Budgets', 'Dashboard']);
    await goto(page, '#/audit', 'Audit');
    await page.locator('dd.big').first().waitFor();
    await page.getByText(/^arx-verify s3:\/\//).waitFor();
    await page.getByRole('button', { name: 'Build package' }).click();
    await page.getByText(/^Package pkg_/).waitFor({ timeout: 20_000 });
    const [pdf] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download PDF' }).click(),
    ]);
    expect(pdf.suggestedFilename()).toMatch(/^pkg_.*\.pdf$/);
    expect(
      readFileSync((await pdf.path())!)
        .subarray(0, 5)
        .toString('latin1'),
    ).toBe('%PDF-');
    const [manifest] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download manifest' }).click(),
    ]);
    expect(JSON.parse(readFileSync((await manifest.path())!, 'utf8'))).toMatchObject({ framework: 'soc2_2017' });
    await check(page, 'audit');

    await goto(page, '#/agents', 'Agents');
    await page.locator('tbody tr').first().waitFor();
    expect(await page.getByRole('button', { name: /^Terminate/ }).count()).toBe(0);
    expect(await page.getByText('Register an agent').count()).toBe(0);

    await goto(page, '#/dashboard', 'Dashboard');
    await page.getByText('Approval rate').waitFor();
    await page.locator('figure.chart').first().waitFor();
    const perAgent = page.locator('figure.chart', { hasText: 'Executed actions and denials per agent' });
    await perAgent.locator('.uplot').waitFor();
    await perAgent.getByText(/^Numbers for/).click();
    // The numbers are the server's summary over the window (GET /v1/dashboard/summary), not the browser's count.
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000).toISOString();
    const from = new Date(Date.parse(to) - 7 * 86_400_000).toISOString();
    const sum = await call('GET', `/v1/dashboard/summary?from=${from}&to=${to}`, { token: admin });
    expect(sum.status).toBe(200);
    const mine = sum.json.agents.find((a: { agent_id: string }) => a.agent_id === reviewer.agentId);
    expect(mine.executed).toBeGreaterThanOrEqual(2);
    const cells = await perAgent.locator('tbody tr', { hasText: reviewer.agentId }).locator('td').allTextContents();
    expect(cells).toEqual([
      reviewer.agentId,
      String(mine.executed),
      String(mine.forbidden),
      String(mine.denied_by_approver),
    ]);
    await page.getByRole('combobox', { name: 'Window' }).selectOption('30');
    await page.getByRole('heading', { name: 'Approvals (last 30 days)' }).waitFor();
    await check(page, 'dashboard');
  }, 40_000);

  it("an admin sets a budget for an agent; a bad limit is refused with the validator's message and changes nothing", async () => {
    const page = await newPage();
    await signIn(page, 'admin');
    await goto(page, '#/budgets', 'Budgets');
    await page.getByRole('heading', { name: 'Set a budget' }).waitFor();
    const form = page.locator('form.grid-form');
    const stored = (await call('GET', '/v1/usage/budgets', { token: admin })).json.items;
    await form.getByLabel('Agent or cohort id').fill(reviewer.agentId);
    await form.getByLabel('Period').selectOption('month');
    await form.getByLabel('Limit (USD)').fill('2000000');
    await form.getByRole('button', { name: 'Set budget' }).click();
    await page.getByRole('alert').filter({ hasText: /^400 / }).waitFor();
    expect((await call('GET', '/v1/usage/budgets', { token: admin })).json.items).toEqual(stored);
    await form.getByLabel('Limit (USD)').fill('250');
    await form.getByLabel('Over the limit').selectOption('hitl');
    await form.getByRole('button', { name: 'Set budget' }).click();
    await page.getByText(`Budget for agent ${reviewer.agentId} set: $250.0000 per month.`).waitFor();
    const row = page.locator('tbody tr', { hasText: reviewer.agentId });
    await row.waitFor();
    await expect(row.locator('td').allTextContents()).resolves.toEqual([
      'agent',
      reviewer.agentId,
      'per month',
      '$250.0000',
      'held for approval',
      expect.any(String),
    ]);
    expect((await call('GET', '/v1/usage/budgets', { token: admin })).json.items).toContainEqual(
      expect.objectContaining({ scope: 'agent', id: reviewer.agentId, period: 'month', usd: 250, over: 'hitl' }),
    );
    await check(page, 'budgets');
    // The browser reports the refused request as a console error: that 400 is this test's own doing.
    const refused = pageErrors.filter((e) => /status of 400/.test(e));
    pageErrors.splice(0, pageErrors.length, ...pageErrors.filter((e) => !refused.includes(e)));
  }, 40_000);

  it('tokens: the console renews its token before it expires, retries a refused one once renewed, and signs in again when it cannot', async () => {
    const page = await newPage();
    const renewals: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/.dev-idp/token') && /grant_type=refresh_token/.test(r.postData() ?? ''))
        renewals.push(r.url());
    });
    const session = () =>
      page.evaluate(() => JSON.parse((globalThis as any).sessionStorage.getItem('arx.console.session') ?? 'null'));
    const setSession = (patch: Record<string, unknown>, drop: string[] = []) =>
      page.evaluate(
        ([p, d]) => {
          const st = (globalThis as any).sessionStorage;
          const cur = JSON.parse(st.getItem('arx.console.session'));
          for (const k of d as string[]) delete cur[k];
          st.setItem('arx.console.session', JSON.stringify({ ...cur, ...(p as object) }));
        },
        [patch, drop] as const,
      );
    await signIn(page, 'admin');
    const first = await session();
    expect(first.refreshToken).toEqual(expect.any(String));
    expect(first.expiresAt - first.issuedAt).toBeLessThanOrEqual(TOKEN_TTL_S * 1000);
    // Renewed in the token's last third, with nothing on the page asking for it.
    await goto(page, '#/audit', 'Audit');
    await eventually(async () => (await session()).accessToken !== first.accessToken, TOKEN_TTL_S * 1000, 500);
    const renewed = await session();
    expect(renewals.length).toBeGreaterThanOrEqual(1);
    expect(renewed.refreshToken).not.toBe(first.refreshToken); // rotated
    expect(renewed.expiresAt).toBeGreaterThan(first.expiresAt);
    expect((await call('GET', '/v1/audit/chain/status', { token: renewed.accessToken })).status).toBe(200);

    // A token the API refuses (401): renewed and the request sent again; the page never breaks.
    await setSession({ accessToken: 'not-a-token', expiresAt: Date.now() + 3_600_000 });
    const before = renewals.length;
    await goto(page, '#/policies', 'Policies');
    await page.getByRole('heading', { name: 'Bundles and versions' }).waitFor();
    await page
      .locator('tbody tr .badge', { hasText: /^live$/ })
      .first()
      .waitFor();
    expect(renewals.length).toBeGreaterThan(before);
    expect((await session()).accessToken).not.toBe('not-a-token');
    expect(await page.getByRole('alert').count()).toBe(0);

    // Refused with nothing to renew it with: back to the issuer, and after signing in, back on the same page.
    await setSession({ accessToken: 'not-a-token', expiresAt: Date.now() + 3_600_000 }, ['refreshToken']);
    await goto(page, '#/agents', 'Agents').catch(() => undefined);
    await page.getByRole('button', { name: 'Sign in as admin' }).click({ timeout: 15_000 });
    await page.waitForURL(`${rt.url}/console/**`);
    await page.getByRole('heading', { level: 1, name: 'Agents' }).waitFor();
    expect((await session()).accessToken).not.toBe('not-a-token');
    // The browser reports each refused request as a console error: those 401s are this test's own doing.
    const mine = pageErrors.filter((e) => /status of 401/.test(e));
    pageErrors.splice(0, pageErrors.length, ...pageErrors.filter((e) => !mine.includes(e)));
  }, 90_000);

  it('keyboard: the skip button and the navigation work without a mouse', async () => {
    const page = await newPage();
    await signIn(page, 'admin');
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).resolves.toBe(
      'Skip to content',
    );
    await page.keyboard.press('Enter');
    await expect(page.evaluate(() => (globalThis as any).document.activeElement?.id)).resolves.toBe('main');
    await page.getByRole('link', { name: 'Audit' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
  });
});
