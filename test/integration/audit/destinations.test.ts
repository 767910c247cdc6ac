import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import { DynamoDestinationStore } from '../../../lambdas/audit/adapters/dynamo-destination-store.js';
import { addDestination } from '../../../lambdas/audit/core/read.js';
import { verifyDestination } from '../../../lambdas/audit/core/sealer.js';
import type { AuditBlock } from '../../../lambdas/audit/core/block.js';
import type { Destination, DestinationWriter } from '../../../lambdas/audit/core/ports.js';
import { createAuditTable, suffix } from './env.js';

/**
 * Tenant B's destination role, as IAM evaluates it: it trusts ARX only with B's external id
 * (moto does not evaluate trust-policy conditions, so the role's decision is modelled here).
 */
class RoleTrustingOnly implements DestinationWriter {
  readonly written: string[] = [];
  constructor(
    private readonly roleArn: string,
    private readonly externalId: () => string,
  ) {}
  private assume(d: Destination): void {
    if (d.role_arn === this.roleArn && d.external_id !== this.externalId()) {
      throw Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied' });
    }
  }
  async handshake(d: Destination): Promise<void> {
    this.assume(d);
    this.written.push(`${d.tenant_id}:handshake`);
  }
  async write(d: Destination, b: AuditBlock): Promise<void> {
    this.assume(d);
    this.written.push(`${d.tenant_id}:${b.head.height}`);
  }
}

describe('audit destinations (F16)', () => {
  it("F16: tenant A registering tenant B's destination role never gets it used: A's ARX external id fails the handshake", async () => {
    const sfx = suffix();
    const table = `audit-dest-${sfx}`;
    await createAuditTable(table);
    const store = new DynamoDestinationStore(table);
    const clock = new ManualClock();
    const roleB = 'arn:aws:iam::210987654321:role/arx-audit-writer-b';
    const destB = await addDestination({ store, clock }, `t-b-${sfx}`, {
      bucket: 'b-audit',
      prefix: 'arx',
      role_arn: roleB,
    });
    const writer = new RoleTrustingOnly(roleB, () => destB.external_id);
    const deps = { destinations: { store, writer }, clock };

    const destA = await addDestination({ store, clock }, `t-a-${sfx}`, {
      bucket: 'b-audit',
      prefix: 'arx',
      role_arn: roleB,
    });
    expect(destA.external_id).not.toBe(destB.external_id);
    expect(await verifyDestination(deps, destA)).toBe(false);
    expect((await store.list(`t-a-${sfx}`))[0]).toMatchObject({
      status: 'pending_verification',
      last_error: 'handshake failed: AccessDenied',
    });
    expect(writer.written).toEqual([]);

    // B's own registration verifies with B's external id, and only then is written to.
    expect(await verifyDestination(deps, destB)).toBe(true);
    expect((await store.list(`t-b-${sfx}`))[0]).toMatchObject({
      status: 'verified',
      verified_at: clock.now().toISOString(),
    });
    expect(writer.written).toEqual([`t-b-${sfx}:handshake`]);
  });
});
