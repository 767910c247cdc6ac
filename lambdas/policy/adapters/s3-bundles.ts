import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../shared/aws.js';
import type { LiveManifest, SignedBundle } from '../core/bundle.js';
import type { BundleRepository } from '../core/service.js';
import type { BundleSource } from '../core/decision-point.js';

export class BundleExistsError extends Error {
  override readonly name = 'BundleExistsError';
}

const isMissing = (e: unknown): boolean => {
  const n = (e as { name?: string; $metadata?: { httpStatusCode?: number } }) ?? {};
  return n.name === 'NoSuchKey' || n.name === 'NotFound' || n.$metadata?.httpStatusCode === 404;
};
const isNotModified = (e: unknown): boolean => {
  const n = (e as { name?: string; $metadata?: { httpStatusCode?: number } }) ?? {};
  return n.$metadata?.httpStatusCode === 304 || n.name === 'NotModified' || n.name === '304';
};

/**
 * Bundles in the versioned bundle bucket: `tenants/<tenant>/bundles/<bundle_id>.json` (written
 * once, If-None-Match) and the live pointer `tenants/<tenant>/live.json`, read with a conditional
 * GET on its ETag by every PDP.
 */
export class S3BundleStore implements BundleRepository, BundleSource {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = s3Client(),
  ) {}

  keyOf(tenantId: string, bundleId: string): string {
    return `tenants/${encodeURIComponent(tenantId)}/bundles/${encodeURIComponent(bundleId)}.json`;
  }
  liveKey(tenantId: string): string {
    return `tenants/${encodeURIComponent(tenantId)}/live.json`;
  }

  async put(bundle: SignedBundle): Promise<string> {
    const key = this.keyOf(bundle.tenant_id, bundle.bundle_id);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(bundle), ContentType: 'application/json', IfNoneMatch: '*' }),
      );
    } catch (e) {
      const s = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (s === 412 || s === 409) throw new BundleExistsError(`bundle ${bundle.bundle_id} already exists`);
      throw e;
    }
    return key;
  }

  async get(tenantId: string, bundleId: string): Promise<SignedBundle | null> {
    const raw = await this.getJson(this.keyOf(tenantId, bundleId));
    return raw as SignedBundle | null;
  }

  async getLive(tenantId: string): Promise<LiveManifest | null> {
    return (await this.getJson(this.liveKey(tenantId))) as LiveManifest | null;
  }

  async putLive(manifest: LiveManifest): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.liveKey(manifest.tenant_id), Body: JSON.stringify(manifest), ContentType: 'application/json' }),
    );
  }

  async fetchLive(tenantId: string, etag: string | null): Promise<{ status: 'not-modified' } | { status: 'none' } | { status: 'ok'; etag: string; bundle: unknown }> {
    let body: string;
    let newTag: string;
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.liveKey(tenantId), ...(etag ? { IfNoneMatch: etag } : {}) }));
      if (etag && r.ETag === etag) return { status: 'not-modified' };
      body = await r.Body!.transformToString();
      newTag = r.ETag ?? '';
    } catch (e) {
      if (isNotModified(e)) return { status: 'not-modified' };
      if (isMissing(e)) return { status: 'none' };
      throw e;
    }
    const manifest = JSON.parse(body) as LiveManifest;
    if (manifest.tenant_id !== tenantId || typeof manifest.key !== 'string') throw new Error('live manifest is malformed');
    const bundle = await this.getJson(manifest.key);
    if (!bundle) throw new Error(`live bundle ${manifest.bundle_id} is missing`);
    if ((bundle as SignedBundle).digest !== manifest.digest) throw new Error('live bundle digest differs from the manifest');
    return { status: 'ok', etag: newTag, bundle };
  }

  private async getJson(key: string): Promise<unknown | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await r.Body!.transformToString());
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }
}
