import { describe, expect, it } from 'vitest';
import { isSimplePattern, matchesPattern, unionBySource } from '../../../local/event-patterns.js';

const arx = { source: ['arx'], 'detail-type': ['policy.decision', 'operation.executed'] };
const cloudtrail = {
  source: ['aws.bedrock'],
  'detail-type': ['AWS API Call via CloudTrail'],
  detail: { eventSource: ['bedrock.amazonaws.com'], eventName: ['CreateAgent', 'DeleteAgent'] },
};

describe('local EventBridge pattern matching', () => {
  it('matches lists of literals at the top level and in nested objects', () => {
    expect(matchesPattern(arx, { source: 'arx', 'detail-type': 'operation.executed', detail: {} })).toBe(true);
    expect(matchesPattern(arx, { source: 'arx', 'detail-type': 'agent.drift' })).toBe(false);
    expect(matchesPattern(arx, { source: 'other', 'detail-type': 'policy.decision' })).toBe(false);
    const ct = { source: 'aws.bedrock', 'detail-type': 'AWS API Call via CloudTrail' };
    expect(
      matchesPattern(cloudtrail, { ...ct, detail: { eventSource: 'bedrock.amazonaws.com', eventName: 'CreateAgent' } }),
    ).toBe(true);
    expect(
      matchesPattern(cloudtrail, { ...ct, detail: { eventSource: 'bedrock.amazonaws.com', eventName: 'ListAgents' } }),
    ).toBe(false);
    expect(matchesPattern(cloudtrail, { ...ct })).toBe(false); // a missing nested object matches nothing
  });

  it('matches an array field when one of its elements is listed, never a missing field', () => {
    const p = { source: ['arx'], detail: { tags: ['pii'] } };
    expect(matchesPattern(p, { source: 'arx', detail: { tags: ['x', 'pii'] } })).toBe(true);
    expect(matchesPattern(p, { source: 'arx', detail: { tags: ['x'] } })).toBe(false);
    expect(matchesPattern(p, { source: 'arx', detail: {} })).toBe(false);
    expect(matchesPattern(p, 'not an event')).toBe(false);
  });

  it('reports content filters as not simple, so their rules keep a queue the emulator filters', () => {
    expect(isSimplePattern(arx)).toBe(true);
    expect(isSimplePattern(cloudtrail)).toBe(true);
    expect(isSimplePattern({ source: [{ prefix: 'ar' }] })).toBe(false);
    expect(isSimplePattern({ source: ['arx'], detail: { n: [{ numeric: ['>', 1] }] } })).toBe(false);
    expect(isSimplePattern({ source: [] })).toBe(false);
    expect(isSimplePattern({})).toBe(false);
  });

  it('filters a shared queue by the union of its rules’ sources', () => {
    expect(unionBySource([arx, { source: ['arx', 'aws.s3'] }])).toEqual({ source: ['arx', 'aws.s3'] });
    expect(unionBySource([arx, { 'detail-type': ['x'] }])).toBeNull();
  });
});
