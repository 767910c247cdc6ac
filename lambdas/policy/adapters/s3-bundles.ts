import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../shared/aws.js';
import { decodeBundle, encodeBundle, splitBundle, type LiveManifest, type SignedBundle } from '../core/bundle.js';
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
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: encodeBundle(bundle),
          ContentType: 'application/x-arx-bundle',
          IfNoneMatch: '*',
        }),
      );
    } catch (e) {
      const s = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (s === 412 || s === 409) throw new BundleExistsError(`bundle ${bundle.bundle_id} already exists`);
      throw e;
    }
    return key;
  }

  async get(tenantId: string, bundleId: string): Promise<SignedBundle | null> {
    const text = await this.getText(this.keyOf(tenantId, bundleId));
    if (text === null) return null;
    try {
      return decodeBundle(text);
    } catch {
      return null;
    }
  }

  async getLive(tenantId: string): Promise<LiveManifest | null> {
    const text = await this.getText(this.liveKey(tenantId));
    return text === null ? null : (JSON.parse(text) as LiveManifest);
  }

  async putLive(manifest: LiveManifest): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.liveKey(manifest.tenant_id),
        Body: JSON.stringify(manifest),
        ContentType: 'application/json',
      }),
    );
  }

  async fetchLive(
    tenantId: string,
    etag: string | null,
  ): Promise<{ status: 'not-modified' } | { status: 'none' } | { status: 'ok'; etag: string; bundle: string }> {
    let body: string;
    let newTag: string;
    try {
      const r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.liveKey(tenantId),
          ...(etag ? { IfNoneMatch: etag } : {}),
        }),
      );
      if (etag && r.ETag === etag) return { status: 'not-modified' };
      body = await r.Body!.transformToString();
      newTag = r.ETag ?? '';
    } catch (e) {
      if (isNotModified(e)) return { status: 'not-modified' };
      if (isMissing(e)) return { status: 'none' };
      throw e;
    }
    const manifest = JSON.parse(body) as LiveManifest;
    if (manifest.tenant_id !== tenantId || typeof manifest.key !== 'string')
      throw new Error('live manifest is malformed');
    if (!manifest.key.startsWith(`tenants/${encodeURIComponent(tenantId)}/bundles/`))
      throw new Error('live manifest points outside the tenant');
    const bundle = await this.getText(manifest.key);
    if (bundle === null) throw new Error(`live bundle ${manifest.bundle_id} is missing`);
    if (splitBundle(bundle).header.digest !== manifest.digest)
      throw new Error('live bundle digest differs from the manifest');
    return { status: 'ok', etag: newTag, bundle };
  }

  private async getText(key: string): Promise<string | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await r.Body!.transformToString();
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }
}
