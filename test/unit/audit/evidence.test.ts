import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { evidenceTags, MAPPING, FRAMEWORKS, CONTROL_TITLES } from '../../../lambdas/audit/core/evidence.js';
import { buildAuditEvent, redact, REDACTED } from '../../../lambdas/audit/core/events.js';
import { approvalCoverage, buildManifest, renderPdf, toJsonLd } from '../../../lambdas/audit/core/compliance.js';
import { buildEvidenceMap, scan, scanEventTypes } from '../../../scripts/evidence-map.js';

/** An event about action `act_<cor>` (the action ids ARX chains); `payload` adds approval ids. */
const ev = (
  type: string,
  action: string,
  cor: string,
  at: string,
  decision = 'permit',
  payload: Record<string, unknown> = { action_id: `act_${cor}` },
) =>
  buildAuditEvent(
    {
      tenant_id: 't',
      event_type: type,
      action,
      decision,
      occurred_at: at,
      correlation_id: cor,
      trace_id: 'e'.repeat(32),
      payload,
    },
    `aev_${cor}_${type}_${at}`,
    new Date(at),
    Buffer.alloc(32, 7),
  ).event;

describe('evidenceTags', () => {
  it('tags a high-risk approval with EU AI Act Art. 14 and record-keeping, a forbid with least privilege', () => {
    expect(evidenceTags({ event_type: 'decision.approved', action: 'okta:users:deactivate' })).toEqual(
      expect.arrayContaining(['eu_ai_act:Art.14', 'eu_ai_act:Art.12', 'soc2_2017:CC8.1']),
    );
    expect(evidenceTags({ event_type: 'policy.decision', action: 'x:y:z', decision: 'forbid' })).toContain(
      'soc2_2017:CC6.3',
    );
    expect(evidenceTags({ event_type: 'policy.decision', action: 'x:y:z', decision: 'permit' })).not.toContain(
      'soc2_2017:CC6.3',
    );
  });

  it('only names frameworks and controls it knows, each with a title', () => {
    for (const r of MAPPING)
      for (const c of r.controls) {
        expect(Object.keys(FRAMEWORKS)).toContain(c.split(':')[0]);
        expect(CONTROL_TITLES[c]).toBeTruthy();
      }
  });
});

describe('redact', () => {
  it('redacts secret and PII keys at any depth and secret-looking values, listing their paths', () => {
    const r = redact({
      user: { email: 'a@b.co', id: 'u1', phones: [{ phone: '+1' }] },
      headers: { Authorization: 'Bearer t' },
      note: 'eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl',
    });
    expect(r.fields).toEqual(['headers.Authorization', 'note', 'user.email', 'user.phones[0].phone']);
    expect(JSON.stringify(r.value)).not.toMatch(/a@b\.co|Bearer t|eyJ/);
    expect((r.value as { user: { id: string } }).user.id).toBe('u1');
    expect((r.value as { note: string }).note).toBe(REDACTED);
  });
});

describe('approvalCoverage', () => {
  it('computes "All N … were approved before execution" from approvals of the same action id', () => {
    const events = [
      ev('decision.approved', 'okta:users:deactivate', 'c1', '2026-01-05T10:00:00Z', 'approved'),
      ev('operation.executed', 'okta:users:deactivate', 'c1', '2026-01-05T10:01:00Z'),
      ev('decision.approved', 'okta:users:deactivate', 'c2', '2026-02-05T10:00:00Z', 'approved'),
      ev('operation.executed', 'okta:users:deactivate', 'c2', '2026-02-05T10:00:00Z'),
      ev('operation.executed', 'okta:users:deactivate', 'c3', '2026-04-05T10:00:00Z'), // outside Q1
    ];
    const r = approvalCoverage(events, {
      action: 'okta:users:deactivate',
      label: 'user deactivations',
      from: '2026-01-01T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
      period: 'Q1',
    });
    expect(r.line).toBe('All 2 user deactivations in Q1 were approved before execution.');
  });

  it('counts an approval recorded after execution, or none, as an exception', () => {
    const events = [
      ev('operation.executed', 'okta:users:deactivate', 'c1', '2026-01-05T10:00:00Z'),
      ev('decision.approved', 'okta:users:deactivate', 'c1', '2026-01-05T10:05:00Z', 'approved'),
      ev('operation.executed', 'okta:users:deactivate', 'c2', '2026-01-06T10:00:00Z'),
      ev('decision.approved', 'okta:users:deactivate', 'c3', '2026-01-07T10:00:00Z', 'approved'),
      ev('operation.executed', 'okta:users:deactivate', 'c3', '2026-01-07T10:01:00Z'),
    ];
    const r = approvalCoverage(events, {
      action: 'okta:users:*',
      label: 'user deactivations',
      from: '2026-01-01T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
      period: 'Q1',
    });
    expect(r.line).toBe('1 of 3 user deactivations in Q1 were approved before execution; 2 were not.');
    expect(r.exceptions.map((e) => e.reason)).toEqual(['approved after execution', 'no approval recorded']);
    expect(
      approvalCoverage([], { action: 'a:b:c', from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' }).line,
    ).toMatch(/^No a:b:c operations were executed/);
  });
});

describe('approvalCoverage joins on action and approval ids (F15)', () => {
  const Q = {
    action: 'okta:users:deactivate',
    label: 'user deactivations',
    from: '2026-01-01T00:00:00Z',
    to: '2026-04-01T00:00:00Z',
    period: 'Q1',
  };
  it('F15: reusing an approved correlation id does not make an unapproved execution look approved', () => {
    const events = [
      // One benign high-risk action approved with correlation_id "C" …
      ev('decision.approved', 'okta:users:deactivate', 'C', '2026-01-05T10:00:00Z', 'approve', {
        action_id: 'act_1',
        approval_metadata: { approval_id: 'apr_1' },
      }),
      ev('operation.executed', 'okta:users:deactivate', 'C', '2026-01-05T10:01:00Z', 'executed', {
        action_id: 'act_1',
        approval_metadata: { approval_id: 'apr_1' },
      }),
      // … later executions that were never approved reuse "C".
      ev('operation.executed', 'okta:users:deactivate', 'C', '2026-01-06T10:00:00Z', 'executed', {
        action_id: 'act_2',
        approval_metadata: null,
      }),
      ev('operation.executed', 'okta:users:deactivate', 'C', '2026-01-07T10:00:00Z', 'executed', {
        action_id: 'act_3',
        approval_metadata: null,
      }),
    ];
    const r = approvalCoverage(events, Q);
    expect(r.line).toBe('1 of 3 user deactivations in Q1 were approved before execution; 2 were not.');
    expect(r.exceptions.map((e) => e.reason)).toEqual(['no approval recorded', 'no approval recorded']);
    expect(events[0]!).toMatchObject({ action_id: 'act_1', approval_id: 'apr_1' });
  });

  it('F15: an execution naming another approval id, or no action id, is an exception', () => {
    const events = [
      ev('decision.approved', 'okta:users:deactivate', 'a', '2026-01-05T10:00:00Z', 'approve', {
        action_id: 'act_1',
        approval_id: 'apr_1',
      }),
      ev('operation.executed', 'okta:users:deactivate', 'a', '2026-01-05T10:01:00Z', 'executed', {
        action_id: 'act_1',
        approval_metadata: { approval_id: 'apr_9' },
      }),
      ev('operation.executed', 'okta:users:deactivate', 'a', '2026-01-05T10:02:00Z', 'executed', {}),
    ];
    expect(approvalCoverage(events, Q).exceptions.map((e) => e.reason)).toEqual([
      'the approval recorded is for another approval id',
      'no action_id in the chained event: it cannot be joined to an approval',
    ]);
  });
});

describe('package rendering', () => {
  it('renders a PDF summary and a JSON-LD dataset from a manifest', async () => {
    const e = ev('decision.approved', 'okta:users:deactivate', 'c1', '2026-01-05T10:00:00Z', 'approved');
    const m = buildManifest({
      package_id: 'pkg_1',
      tenant_id: 't',
      framework: 'eu_ai_act',
      period: { from: '2026-01-01T00:00:00Z', to: '2026-04-01T00:00:00Z', label: 'Q1 2026' },
      created_at: '2026-04-02T00:00:00Z',
      created_by: 'auditor',
      chain: { height: 1, head_hash: 'ab', tree_size: 1, root: 'cm9vdA==' },
      reports: [],
      controls: [
        {
          control_id: 'Art.14',
          tag: 'eu_ai_act:Art.14',
          title: 'Human oversight → “approval”',
          rules: [],
          source_attribution: [],
          event_ids: [e.event_id],
        },
      ],
      events: [{ event: e, proof: null }],
      verifier: { instructions: ['run arx-verify'] },
    });
    const pdf = Buffer.from(await renderPdf(m));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const ld = toJsonLd(m);
    expect(ld['@id']).toBe('urn:arx:package:pkg_1');
    expect(m.counts).toEqual({ events: 1, sealed: 0, pending: 1 });
  });
});

describe('evidence-map script', () => {
  it('turns // control: annotations into file:start-end ranges and derives attribution from audited event types', () => {
    const src = [
      'const a = 1;',
      '// control: eu_ai_act:Art.14, soc2_2017:CC8.1',
      'await sink.record({',
      "  event_type: 'decision.approved',",
      '});',
      '',
    ].join('\n');
    expect(scan(src, 'x.ts')).toEqual([
      { tag: 'eu_ai_act:Art.14', file: 'x.ts', start: 2, end: 5 },
      { tag: 'soc2_2017:CC8.1', file: 'x.ts', start: 2, end: 5 },
    ]);
    const derived = scanEventTypes(src.replace('sink', 'audit'), 'y.ts');
    expect(derived.filter((d) => d.tag === 'eu_ai_act:Art.14')).toEqual([
      { tag: 'eu_ai_act:Art.14', file: 'y.ts', start: 4, end: 4, event_type: 'decision.approved' },
    ]);
  });

  it('builds a map over the repository with every mapping rule and no unmapped annotations', () => {
    const { map, unknown } = buildEvidenceMap('0123abc');
    expect(unknown).toEqual([]);
    expect(map.mapping).toHaveLength(MAPPING.length);
    expect(
      map.controls['eu_ai_act:Art.12']!.source_attribution.some((s) =>
        /^lambdas\/audit\/core\/record\.ts:\d+-\d+@0123abc$/.test(s),
      ),
    ).toBe(true);
  });
});

describe('leafString', () => {
  it('produces exactly canonicalJson(event) on the fast path, for any strings', async () => {
    const { canonicalJson } = await import('../../../lambdas/shared/ids.js');
    const { leafString } = await import('../../../lambdas/audit/core/events.js');
    fc.assert(
      fc.property(
        fc.string(),
        fc.option(fc.string(), { nil: null }),
        fc.array(fc.string()),
        fc.string({ unit: 'grapheme' }),
        (s, n, arr, u) => {
          const e = {
            ...ev('operation.executed', s, u, '2026-01-01T00:00:00Z'),
            agent_id: n,
            evidence_tags: arr,
            target: u,
            approval_id: n,
          };
          expect(leafString(e)).toBe(canonicalJson(e));
        },
      ),
    );
  });
});
