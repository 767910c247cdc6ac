import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type StreamEvent } from '../../../lambdas/streaming/core/model.js';
import { OCSF_CLASSES, OCSF_MAPPING, OCSF_VERSION, toOcsf } from '../../../lambdas/streaming/core/ocsf.js';

/**
 * The OCSF 1.3.0 class requirements, resolved from the ocsf/ocsf-schema repository at tag 1.3.0
 * (see the fixture's `source`): required attributes, attribute types, enums and object constraints.
 */
interface Attr {
  type: string;
  requirement: string;
  object_type?: string;
  is_array?: boolean;
  enum?: (number | string)[];
}
interface Shape {
  attributes: Record<string, Attr>;
  required: string[];
  constraints?: { at_least_one?: string[] };
}
const schema = JSON.parse(readFileSync('test/fixtures/ocsf/ocsf-1.3.0-classes.json', 'utf8')) as {
  version: string;
  classes: Record<string, Shape & { class_uid: number; category_uid: number }>;
  objects: Record<string, Shape>;
};

/** Every problem of `value` against `shape` (unknown attributes, missing required ones, wrong types, enums). */
function check(value: Record<string, unknown>, shape: Shape, at: string, out: string[]): string[] {
  for (const r of shape.required) if (value[r] === undefined) out.push(`${at}.${r}: required`);
  const one = shape.constraints?.at_least_one;
  if (one && !one.some((k) => value[k] !== undefined)) out.push(`${at}: needs at least one of ${one.join(', ')}`);
  for (const [k, v] of Object.entries(value)) {
    const a = shape.attributes[k];
    if (!a) {
      out.push(`${at}.${k}: not an attribute of this class/object`);
      continue;
    }
    if (v === undefined) continue;
    if (a.is_array && !Array.isArray(v)) {
      out.push(`${at}.${k}: must be an array`);
      continue;
    }
    const items = a.is_array ? (v as unknown[]) : [v];
    for (const [i, item] of items.entries()) {
      const p = a.is_array ? `${at}.${k}[${i}]` : `${at}.${k}`;
      if (a.type === 'object_t') {
        if (a.object_type === 'object') continue; // `unmapped` and other free-form objects
        const obj = schema.objects[a.object_type!];
        if (typeof item !== 'object' || item === null || Array.isArray(item)) out.push(`${p}: must be an object`);
        else if (obj) check(item as Record<string, unknown>, obj, p, out);
        else out.push(`${p}: object type ${a.object_type} missing from the fixture`);
      } else if (['integer_t', 'long_t', 'timestamp_t'].includes(a.type)) {
        if (!Number.isInteger(item)) out.push(`${p}: must be an integer (${a.type})`);
        else if (a.enum && !a.enum.includes(item as number))
          out.push(`${p}: ${String(item)} not in ${a.enum.join(',')}`);
      } else if (a.type === 'boolean_t') {
        if (typeof item !== 'boolean') out.push(`${p}: must be a boolean`);
      } else if (a.type === 'float_t') {
        if (typeof item !== 'number') out.push(`${p}: must be a number`);
      } else if (typeof item !== 'string') out.push(`${p}: must be a string (${a.type})`);
    }
  }
  return out;
}

const sample = (type: string): StreamEvent => ({
  type,
  time: '2026-12-02T06:00:00.000Z',
  detail: {
    tenant_id: 'acme',
    event_id: `evt_${type}`,
    correlation_id: 'cor_1',
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    agent_id: 'agt_1',
    spiffe_id: 'spiffe://acme.arx/custom/agt_1',
    action_id: 'act_1',
    approval_id: 'apr_1',
    action: 'okta:users:deactivate',
    connector: 'okta',
    target: 'okta:user:00u1',
    effect: 'forbid',
    reason: 'compromised',
    initiated_by: 'alice@acme.com',
    decided_by: 'bob@acme.com',
    bundle_id: 'pb_1',
    version: 3,
    block_id: 'blk_1',
    height: 7,
    anchored: false,
    change: 'registered',
    status: 'active',
    error: 'upstream 503',
  },
});

describe(`OCSF mapping (pinned to OCSF ${OCSF_VERSION})`, () => {
  it('pins the version the fixture was resolved from, and the class and category ids it states', () => {
    expect(schema.version).toBe(OCSF_VERSION);
    for (const [name, c] of Object.entries(OCSF_CLASSES)) {
      expect(schema.classes[name]?.class_uid, name).toBe(c.class_uid);
      expect(schema.classes[name]?.category_uid, name).toBe(c.category_uid);
    }
  });

  it('maps every streamed event type to a record that meets its class requirements', () => {
    for (const type of EVENT_TYPES) {
      expect(OCSF_MAPPING[type], `${type} is documented`).toBeDefined();
      const rec = toOcsf(sample(type));
      const m = OCSF_MAPPING[type]!;
      const cls = schema.classes[m.cls]!;
      expect(check(rec, cls, type, []), type).toEqual([]);
      expect(rec.class_uid).toBe(cls.class_uid);
      expect(rec.type_uid).toBe(cls.class_uid * 100 + (rec.activity_id as number));
      expect(rec.metadata).toMatchObject({ version: '1.3.0', uid: `evt_${type}`, tenant_uid: 'acme' });
      expect(rec.unmapped).toMatchObject({ event_id: `evt_${type}` });
    }
  });

  it('states actor, resources and status as the mapping documents them', () => {
    const term = toOcsf(sample('agent.terminated'));
    expect(term).toMatchObject({
      class_uid: 3001,
      activity_id: 5,
      actor: { user: { name: 'alice@acme.com' } },
      user: { uid: 'agt_1', uid_alt: 'spiffe://acme.arx/custom/agt_1' },
      status_id: 1,
      status_detail: 'compromised',
    });
    const forbid = toOcsf(sample('policy.decision'));
    expect(forbid).toMatchObject({ class_uid: 6003, status_id: 2, api: { operation: 'okta:users:deactivate' } });
    expect(forbid.resources).toEqual(expect.arrayContaining([expect.objectContaining({ uid: 'act_1' })]));
    const permit = toOcsf({ ...sample('policy.decision'), detail: { ...sample('x').detail, effect: 'permit' } });
    expect(permit.status_id).toBe(1);
    expect(toOcsf(sample('decision.approved')).actor).toEqual({
      user: { name: 'bob@acme.com', type_id: 1, type: 'User' },
    });
    const anchoring = toOcsf(sample('audit.anchoring.failed'));
    expect(anchoring).toMatchObject({ class_uid: 2004, finding_info: { uid: 'evt_audit.anchoring.failed' } });
    expect(toOcsf(sample('inventory.change')).activity_id).toBe(1);
  });

  it('catches a record that breaks the schema (the checker is not vacuous)', () => {
    const rec = toOcsf(sample('agent.terminated'));
    const { user: _u, ...noUser } = rec;
    expect(check(noUser, schema.classes.account_change!, 'x', [])).toContain('x.user: required');
    expect(check({ ...rec, activity_id: 42 }, schema.classes.account_change!, 'x', []).join()).toContain('not in');
    expect(check({ ...rec, made_up: 1 }, schema.classes.account_change!, 'x', []).join()).toContain('made_up');
    expect(check({ ...rec, user: { type_id: 99 } }, schema.classes.account_change!, 'x', []).join()).toContain(
      'at least one',
    );
  });
});
