import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  assertLocal,
  clearFaults,
  faultStats,
  injectFaults,
  injectedCount,
  installFaultsFromEnv,
  parseFaults,
  resetFaultStats,
} from '../../../local/faults.js';
import { capabilityGraph, transitiveImports } from '../../../scripts/capability-graph.js';

const ROOT = join(__dirname, '../../..');
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe('fault layer (local/faults.ts)', () => {
  afterEach(() => {
    clearFaults();
    resetFaultStats();
  });

  it('parses ARX_FAULTS and rejects a malformed entry or an unknown service', () => {
    expect(parseFaults('dynamodb:throttle:0.05, kms:5xx:1,s3:timeout:0.1:200')).toEqual([
      { service: 'dynamodb', kind: 'throttle', rate: 0.05 },
      { service: 'kms', kind: '5xx', rate: 1 },
      { service: 's3', kind: 'timeout', rate: 0.1, delayMs: 200 },
    ]);
    expect(() => parseFaults('kms:explode:1')).toThrow(/bad entry/);
    expect(() => parseFaults('kms:5xx:2')).toThrow(/bad entry/);
    expect(() => parseFaults('dynamo:5xx:1')).toThrow(/unknown service/);
  });

  it('refuses to enable unless AWS_ENDPOINT_URL is the loopback, and never inside a Lambda', () => {
    expect(() => assertLocal({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' })).not.toThrow();
    expect(() => assertLocal({})).toThrow(/local runtime and tests only/);
    expect(() => assertLocal({ AWS_ENDPOINT_URL: 'https://dynamodb.eu-west-1.amazonaws.com' })).toThrow();
    expect(() => assertLocal({ AWS_ENDPOINT_URL: 'http://127.0.0.1.evil.example' })).toThrow();
    expect(() => assertLocal({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_LAMBDA_FUNCTION_NAME: 'f' })).toThrow();
    expect(() => installFaultsFromEnv({ ARX_FAULTS: 'kms:5xx:1' })).toThrow(/local runtime/);
    expect(installFaultsFromEnv({})).toEqual([]);
  });

  it('fails every attempt at rate 1 (the SDK retries: 3 attempts), and nothing at rate 0', async () => {
    const kms = new KMSClient({});
    injectFaults([{ service: 'kms', kind: '5xx', rate: 1 }]);
    const err = await kms.send(new CreateKeyCommand({})).catch((e) => e);
    expect(err.name).toBe('ServiceUnavailable');
    expect(err.$metadata.httpStatusCode).toBe(503);
    expect(faultStats().injected['kms.CreateKey 5xx']).toBe(3);
    injectFaults([{ service: 'kms', kind: 'throttle', rate: 0 }]);
    await expect(kms.send(new CreateKeyCommand({}))).resolves.toHaveProperty('KeyMetadata');
  });

  it('`after` lets the first matching attempts of a rule through, then fails the rest (a fault partway through a run)', async () => {
    const ddb = new DynamoDBClient({ maxAttempts: 1 });
    injectFaults([{ service: 'dynamodb', kind: '5xx', rate: 1, operations: ['ListTables'], after: 2 }]);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await ddb.send(new ListTablesCommand({})).then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );
    expect(outcomes).toEqual(['ok', 'ok', 'ServiceUnavailable', 'ServiceUnavailable']);
    // new rules count afresh
    injectFaults([{ service: 'dynamodb', kind: '5xx', rate: 1, operations: ['ListTables'], after: 1 }]);
    await expect(ddb.send(new ListTablesCommand({}))).resolves.toHaveProperty('TableNames');
    await expect(ddb.send(new ListTablesCommand({}))).rejects.toThrow(/ServiceUnavailable/);
  });

  it('throttles DynamoDB as ProvisionedThroughputExceeded, times out with TimeoutError, and adds latency', async () => {
    const ddb = new DynamoDBClient({ maxAttempts: 1 });
    injectFaults([{ service: 'dynamodb', kind: 'throttle', rate: 1 }]);
    const t = await ddb.send(new ListTablesCommand({})).catch((e) => e);
    expect(t.name).toBe('ProvisionedThroughputExceededException');
    expect(t.$retryable).toEqual({ throttling: true });
    injectFaults([{ service: 'dynamodb', kind: 'timeout', rate: 1, delayMs: 100 }]);
    const t0 = Date.now();
    const to = await ddb.send(new ListTablesCommand({})).catch((e) => e);
    expect(to.name).toBe('TimeoutError');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    injectFaults([{ service: 'dynamodb', kind: 'latency', rate: 1, delayMs: 150 }]);
    const t1 = Date.now();
    await ddb.send(new ListTablesCommand({}));
    expect(Date.now() - t1).toBeGreaterThanOrEqual(140);
  });

  it('a rate between 0 and 1 injects about that share of attempts, the same ones for the same seed', async () => {
    const ddb = new DynamoDBClient({ maxAttempts: 1 });
    const run = async () => {
      resetFaultStats();
      injectFaults([{ service: 'dynamodb', kind: '5xx', rate: 0.3 }], 42);
      const out: boolean[] = [];
      for (let i = 0; i < 40; i++)
        out.push(
          await ddb.send(new ListTablesCommand({})).then(
            () => true,
            () => false,
          ),
        );
      return out;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    const failed = a.filter((x) => !x).length;
    expect(failed).toBe(injectedCount('dynamodb'));
    expect(failed).toBeGreaterThan(4);
    expect(failed).toBeLessThan(24);
  });

  it('cannot be reached from Lambda code, and no stack or topology sets a fault variable', () => {
    const g = capabilityGraph();
    expect(g.files.length).toBeGreaterThan(150);
    for (const f of g.files.filter((x) => x.startsWith('lambdas/') || x.startsWith('layers/'))) {
      const reach = transitiveImports(f).files;
      expect(
        [...reach].filter((r) => r.startsWith('local/')),
        f,
      ).toEqual([]);
    }
    const sources = [...walk(join(ROOT, 'lambdas')), ...walk(join(ROOT, 'lib')), ...walk(join(ROOT, 'layers'))].filter(
      (p) => /\.(ts|js|mjs|json)$/.test(p) && !p.includes('node_modules'),
    );
    for (const p of sources) {
      const src = readFileSync(p, 'utf8');
      expect(/ARX_FAULTS|local\/faults/.test(src), relative(ROOT, p)).toBe(false);
    }
  }, 60_000);
});
