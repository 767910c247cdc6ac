import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { TOPOLOGY } from '../../lambdas/topology.js';
import { RESOURCE_ENV } from '../../lambdas/shared/topology-types.js';
import { SETTINGS, type HandlerSettings, type SettingName, type SettingSpec } from '../../lambdas/shared/settings.js';
import { EXTENSION_SETTINGS } from '../../layers/pdp-extension/src/settings.js';
import { buildApp } from '../../lib/synth.js';

// In-process CDK synthesis is CPU-bound and synchronous: allow for a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

/** Variables each function's environment carries in the synthesised stack. */
let setOn: Map<string, Record<string, unknown>>;
/** Settings each function's handler declares (`export const settings = handlerSettings(…)`). */
const reads = new Map<string, readonly SettingName[]>();

beforeAll(async () => {
  const { stack } = buildApp();
  setOn = new Map();
  for (const r of Object.values(Template.fromStack(stack).toJSON().Resources) as { Type: string; Properties: any }[]) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const vars = r.Properties.Environment?.Variables ?? {};
    setOn.set(vars.ARX_FUNCTION_NAME, vars);
  }
  for (const f of TOPOLOGY.functions) {
    const mod = (await import(pathToFileURL(resolve(f.entry)).href)) as { settings?: HandlerSettings };
    if (mod.settings) reads.set(f.name, mod.settings.names);
  }
});

const spec = (name: string): SettingSpec | undefined => (SETTINGS as Record<string, SettingSpec>)[name];

describe('settings registry against lib/', () => {
  it('every handler module declares the settings its function reads', () => {
    expect(TOPOLOGY.functions.filter((f) => !reads.has(f.name)).map((f) => f.entry)).toEqual([]);
    for (const [fn, names] of reads)
      for (const n of names) expect(spec(n), `${fn} reads an undeclared ${n}`).toBeDefined();
  });

  it('declares every variable any function carries', () => {
    expect(setOn.size).toBe(TOPOLOGY.functions.length);
    const undeclared = [...setOn].flatMap(([fn, vars]) =>
      Object.keys(vars)
        .filter((k) => !spec(k))
        .map((k) => `${fn}: ${k}`),
    );
    expect(undeclared).toEqual([]);
  });

  it('sets every required variable a function reads on that function', () => {
    const unset = [...reads].flatMap(([fn, names]) =>
      names.filter((n) => spec(n)!.required && !(n in setOn.get(fn)!)).map((n) => `${fn}: ${n}`),
    );
    expect(unset).toEqual([]);
  });

  it("sets on each function only the variables its handler declares (and the runtime's own)", () => {
    // ARX_FUNCTION_NAME, POWERTOOLS_SERVICE_NAME and NODE_OPTIONS are read by the local runtime,
    // Powertools and node on every function, not by a handler.
    const runtime = (k: string) => !['lambda', 'lambda+extension'].includes(spec(k)?.reader ?? 'lambda');
    const unread = [...setOn].flatMap(([fn, vars]) =>
      Object.keys(vars)
        .filter((k) => !runtime(k) && !(reads.get(fn) ?? []).includes(k as SettingName))
        .map((k) => `${fn}: ${k}`),
    );
    expect(unread).toEqual([]);
    // It does bind settings: the API URL where links are written, the SVID issuer base where SVIDs are
    // minted or verified, never on every function.
    const carrying = (k: string) => [...setOn].filter(([, vars]) => k in vars).map(([fn]) => fn);
    expect(carrying('ARX_PUBLIC_API_URL').sort()).toEqual(
      [...reads]
        .filter(([, names]) => names.includes('ARX_PUBLIC_API_URL'))
        .map(([fn]) => fn)
        .sort(),
    );
    expect(carrying('ARX_SVID_ISSUER_BASE')).toContain('platform-authorizer');
    expect(carrying('ARX_SVID_ISSUER_BASE')).toContain('identity-api');
    expect(carrying('ARX_SVID_ISSUER_BASE')).not.toContain('identity-credentials');
    expect(carrying('ARX_PUBLIC_API_URL')).not.toContain('platform-api');
  });

  it('declares the resource variables of RESOURCE_ENV as required and owned by their `uses` binding', () => {
    for (const [name, variable] of Object.entries(RESOURCE_ENV)) {
      if (!variable) continue;
      expect(spec(variable)?.required, variable).toBe(true);
      expect(spec(variable)?.owner, variable).toContain(`uses.${name}`);
    }
  });

  it('declares a reader for every registered variable, and no registered variable that nothing reads', () => {
    const readAnywhere = new Set<string>([
      ...[...reads.values()].flat(),
      ...EXTENSION_SETTINGS,
      'AWS_LAMBDA_RUNTIME_API',
    ]);
    const orphans = Object.entries(SETTINGS as Record<string, SettingSpec>)
      .filter(([n, s]) => ['lambda', 'lambda+extension', 'extension'].includes(s.reader) && !readAnywhere.has(n))
      .map(([n]) => n);
    expect(orphans).toEqual([]);
  });

  it('no longer sets ARX_CREDENTIAL_ROLE_ARN, ARX_CREDENTIAL_BROKER or ARX_APPROVAL_STATE_MACHINE_ARN anywhere', () => {
    for (const [fn, vars] of setOn) {
      for (const k of ['ARX_CREDENTIAL_ROLE_ARN', 'ARX_CREDENTIAL_BROKER', 'ARX_APPROVAL_STATE_MACHINE_ARN'])
        expect(vars[k], `${fn}: ${k}`).toBeUndefined();
    }
  });
});
