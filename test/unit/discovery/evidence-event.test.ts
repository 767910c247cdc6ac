import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import { discoveredIdOf } from '../../../lambdas/discovery/core/discovered.js';
import { applyEvidenceEvent, parseEvidenceEvent } from '../../../lambdas/discovery/core/evidence-event.js';
import { handshakeEvidence } from '../../../lambdas/shared/mcp-handshake.js';
import { evidenceEntries, reportEvidence } from '../../../lambdas/shared/discovery-evidence.js';
import { MemoryDiscoveryStore } from './fakes.js';

const T0 = new Date('2026-12-01T10:00:00.000Z');
const at = T0.toISOString();
const deps = () => ({ store: new MemoryDiscoveryStore(), clock: new ManualClock(T0.getTime()) });
const noArx = async () => false;
const otlp = (id: string, n: number, name?: string) =>
  evidenceEntries('acme', 'otlp_inference', 'otlp', [
    { platform: 'otel', platform_native_id: id, observed_at: at, observed_actions: n, ...(name ? { name } : {}) },
  ])[0]!.detail;

const initialize = (name: string, version: string, capabilities: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities, clientInfo: { name, version } },
});

describe('discovery.evidence (OTLP inference)', () => {
  it('makes an unsanctioned otlp_inference agent whose confidence rises with its spans', async () => {
    const d = deps();
    const r = await applyEvidenceEvent(d, noArx, parseEvidenceEvent(otlp('bot-1', 3, 'Bot one'))!);
    expect(r).toMatchObject({ found: 1, new: 1, skipped: 0 });
    const a = (await d.store.get('acme', discoveredIdOf('acme', 'otel', 'bot-1')))!;
    expect(a).toMatchObject({
      platform: 'otel',
      platform_native_id: 'bot-1',
      name: 'Bot one',
      source: 'otlp_inference',
      sanctioned: false,
      owner: 'unknown',
      confidence: 0.7,
      observed_actions_30d: 3,
    });
    expect(a.sources).toEqual([
      expect.objectContaining({ source: 'otlp_inference', origin: 'otlp', first_seen: at, last_seen: at }),
    ]);
    d.clock.advance(60_000);
    await applyEvidenceEvent(d, noArx, parseEvidenceEvent(otlp('bot-1', 9))!);
    const b = (await d.store.get('acme', a.id))!;
    expect(b).toMatchObject({ observed_actions_30d: 12, confidence: 0.8, version: 2 });
    expect(b.sources).toHaveLength(1);
  });

  it('skips ids that are ARX identities (agent ids, SPIFFE ids): spans of known agents make nothing', async () => {
    const d = deps();
    const r = await applyEvidenceEvent(
      d,
      async (_t, id) => id === 'agt_01KNOWN',
      parseEvidenceEvent({
        ...otlp('agt_01KNOWN', 1),
        items: [
          { platform: 'otel', platform_native_id: 'agt_01KNOWN', observed_at: at },
          { platform: 'otel', platform_native_id: 'spiffe://acme.arx/custom/agt_01KNOWN', observed_at: at },
        ],
      })!,
    );
    expect(r).toMatchObject({ found: 0, new: 0, skipped: 2 });
    expect((await d.store.list('acme', {}, 10)).items).toEqual([]);
  });

  it('refuses malformed events (no source, unknown source, bad time, no items)', () => {
    const ok = otlp('x', 1);
    expect(parseEvidenceEvent(ok)).not.toBeNull();
    expect(parseEvidenceEvent({ ...ok, source: 'list_api' })).toBeNull();
    expect(parseEvidenceEvent({ ...ok, source: undefined })).toBeNull();
    expect(parseEvidenceEvent({ ...ok, items: [] })).toBeNull();
    expect(
      parseEvidenceEvent({ ...ok, items: [{ platform: 'otel', platform_native_id: 'x', observed_at: 'yesterday' }] }),
    ).toBeNull();
    expect(parseEvidenceEvent('nope')).toBeNull();
  });
});

describe('MCP handshake evidence', () => {
  it('maps initialize to (mcp, <agent>/<client>) with the client and its capabilities; version and protocol as signals', () => {
    const items = handshakeEvidence(initialize('claude-code', '1.2.3', { roots: {}, sampling: {} }), {
      agentId: 'agt_1',
      connector: 'ledger-mcp',
      at,
    });
    expect(items).toEqual([
      {
        platform: 'mcp',
        platform_native_id: 'agt_1/claude-code',
        name: 'claude-code',
        observed_at: at,
        declared_capabilities: ['mcp-client:claude-code', 'mcp:roots', 'mcp:sampling'],
        signals: ['mcp:clientInfo=claude-code@1.2.3', 'mcp:protocolVersion=2025-06-18', 'mcp:connector=ledger-mcp'],
        arx_agent_id: 'agt_1',
      },
    ]);
  });

  it('finds initialize in a batch, ignores other methods and an initialize without clientInfo', () => {
    const ctx = { agentId: 'agt_1', connector: 'c-mcp', at };
    expect(handshakeEvidence({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, ctx)).toEqual([]);
    expect(handshakeEvidence({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, ctx)).toEqual([]);
    const batch = [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, initialize('cursor', '0.9')];
    expect(handshakeEvidence(batch, ctx).map((i) => i.platform_native_id)).toEqual(['agt_1/cursor']);
  });

  it("a handshake is the calling agent's: sanctioned through it; a second one merges into the same record", async () => {
    const d = deps();
    const ev = (version: string) =>
      parseEvidenceEvent(
        evidenceEntries(
          'acme',
          'mcp_handshake',
          'mcp:hosted:ledger-mcp',
          handshakeEvidence(initialize('claude-code', version), { agentId: 'agt_1', connector: 'ledger-mcp', at }),
        )[0]!.detail,
      )!;
    const first = await applyEvidenceEvent(d, noArx, ev('1.0.0'));
    d.clock.advance(1000);
    const second = await applyEvidenceEvent(d, noArx, ev('1.0.1'));
    expect(first.ids).toEqual(second.ids);
    expect(second.new).toBe(0);
    const a = (await d.store.get('acme', first.ids[0]!))!;
    expect(a).toMatchObject({
      platform: 'mcp',
      platform_native_id: 'agt_1/claude-code',
      source: 'mcp_handshake',
      sanctioned: true,
      arx_agent_id: 'agt_1',
      confidence: 1,
    });
    expect(a.sources).toHaveLength(1);
    expect(a.sources[0]!.signals).toContain('mcp:clientInfo=claude-code@1.0.1');
    expect((await d.store.list('acme', {}, 10)).items).toHaveLength(1);
  });
});

describe('reportEvidence', () => {
  it('stops waiting after its budget when the outbox never answers (the caller goes on), and never throws', async () => {
    const entries = evidenceEntries('acme', 'otlp_inference', 'otlp', [
      { platform: 'otel', platform_native_id: 'x', observed_at: at },
    ]);
    const hung = { stage: () => new Promise<void>(() => {}), flush: async () => 0, discard: async () => {} };
    expect(await reportEvidence(hung, entries, at, 5)).toBe('timeout');
    const broken = {
      stage: async () => {
        throw new Error('down');
      },
      flush: async () => 0,
      discard: async () => {},
    };
    expect(await reportEvidence(broken, entries, at, 60_000)).toBe('failed');
  });
});
