import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../../lambdas/actions/core/model.js';
import { mcpConnector, withMcpConnectors } from '../../../lambdas/actions/connectors/mcp.js';
import { CONNECTORS } from '../../../lambdas/actions/connectors/index.js';
import { argumentsHash, canonicalJson, operationName, toolDefinitionHash } from '../../../sdk/mcp-gateway/canonical.js';
import { ArxBackedPinStore, MemoryPinStore } from '../../../sdk/mcp-gateway/pins.js';
import { splitCommandLine } from '../../../sdk/mcp-gateway/index.js';

const ctx = (config: Record<string, unknown> | null) =>
  ({
    tenantId: 't',
    agentId: 'a',
    actionId: 'act',
    correlationId: 'c',
    traceparent: '00-0-0-01',
    config,
    secret: async () => null,
    credentials: {} as never,
    fetch,
  }) as never;

describe('MCP canonical hashes', () => {
  it('is independent of key order and ignores _meta in tool definitions', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(argumentsHash({ a: 1, b: 2 })).toBe(argumentsHash({ b: 2, a: 1 }));
    expect(argumentsHash({ a: 1 })).not.toBe(argumentsHash({ a: '1' }));
    const t = { name: 'x', description: 'd', inputSchema: { type: 'object', properties: {} } };
    expect(toolDefinitionHash({ ...t, _meta: { n: 1 } } as never)).toBe(toolDefinitionHash(t));
    expect(toolDefinitionHash({ ...t, description: 'd2' })).not.toBe(toolDefinitionHash(t));
  });
  it('maps MCP names to policy operations', () => {
    expect(operationName('tools', 'get-sum')).toBe('tools:get_sum');
    expect(operationName('prompts', 'simple.prompt')).toBe('prompts:simple_prompt');
  });
  it('splits command lines with quotes', () => {
    expect(splitCommandLine(`node "a b.js" --x 'y z'`)).toEqual(['node', 'a b.js', '--x', 'y z']);
  });
});

describe('pin stores', () => {
  const h = (c: string) => c.repeat(64);
  it('pins on first use and quarantines a different definition until accepted', async () => {
    const p = new MemoryPinStore();
    expect(await p.check('m', 't', h('a'))).toEqual({ status: 'pinned', hash: h('a') });
    expect(await p.check('m', 't', h('b'))).toEqual({ status: 'quarantined', pinned: h('a'), seen: h('b') });
    await expect(p.accept('m', 't', 'zz')).rejects.toThrow(/64 hex/);
    await p.accept('m', 't', h('b'));
    expect((await p.check('m', 't', h('b'))).status).toBe('pinned');
  });
  it('lets ARX-accepted hashes override, and fails closed when ARX cannot be read', async () => {
    const ok = new ArxBackedPinStore(new MemoryPinStore(), async () => ({ t: h('c') }));
    expect((await ok.check('m', 't', h('a'))).status).toBe('quarantined');
    expect((await ok.check('m', 't', h('c'))).status).toBe('pinned');
    expect((await ok.check('m', 'other', h('a'))).status).toBe('pinned');
    const down = new ArxBackedPinStore(new MemoryPinStore(), async () => {
      throw new Error('down');
    });
    expect((await down.check('m', 't', h('a'))).status).toBe('quarantined');
  });
});

describe('connector kind mcp (the grant ARX executes after approval)', () => {
  const args = { entities: [{ name: 'x' }] };
  const params = {
    tool: 'create_entities',
    arguments: args,
    arguments_hash: argumentsHash(args),
    definition_hash: 'd'.repeat(64),
    bundle_version: '3',
  };
  const c = mcpConnector('memory-mcp');

  it('accepts tools:/prompts:/resources:read operations only', () => {
    expect(Object.hasOwn(c.operations, 'tools:create_entities')).toBe(true);
    expect(c.operations['prompts:p1']).toBeDefined();
    expect(c.operations['resources:read']).toBeDefined();
    expect(c.operations['users:read']).toBeUndefined();
    expect(c.operations['tools:a-b']).toBeUndefined();
  });
  it('rejects params whose argument hash is not the canonical hash of the arguments', () => {
    expect(c.operations['tools:create_entities']!.params.safeParse(params).success).toBe(true);
    expect(
      c.operations['tools:create_entities']!.params.safeParse({ ...params, arguments: { other: 1 } }).success,
    ).toBe(false);
    expect(c.operations['tools:create_entities']!.params.safeParse({ ...params, extra: 1 }).success).toBe(false);
  });
  it('grants a receipt bound to the hashes, and refuses a definition other than the accepted one', async () => {
    expect(await c.execute(ctx({ kind: 'mcp' }), 'tools:create_entities', params)).toEqual({
      granted: true,
      connector: 'memory-mcp',
      operation: 'tools:create_entities',
      tool: 'create_entities',
      arguments_hash: params.arguments_hash,
      definition_hash: params.definition_hash,
      bundle_version: '3',
    });
    await expect(
      c.execute(ctx({ kind: 'mcp', pins: { create_entities: 'e'.repeat(64) } }), 'tools:create_entities', params),
    ).rejects.toMatchObject({ code: 'definition_not_accepted' });
    await expect(c.execute(ctx(null), 'tools:create_entities', params)).rejects.toBeInstanceOf(ConnectorError);
  });
  it('extends the shipped connectors only for names ending in mcp', () => {
    const m = withMcpConnectors(CONNECTORS);
    expect(m.get('okta')).toBe(CONNECTORS.get('okta'));
    expect(m.get('okta-mcp')?.name).toBe('okta-mcp');
    expect(m.get('okta-mcp')).toBe(m.get('okta-mcp'));
    expect(m.get('nope')).toBeUndefined();
    expect([...m.keys()]).toEqual([...CONNECTORS.keys()]);
    expect(c.configSchema.safeParse({ kind: 'okta' }).success).toBe(false);
  });
});
