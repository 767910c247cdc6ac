import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { TtlCache } from '../../shared/ttl-cache.js';
import type { SecretStore } from '../core/model.js';

/**
 * How long a connector secret read is reused (AWS's own secrets caching does the same): a rotation
 * through ARX takes effect at once in this process, one made elsewhere within this window.
 */
export const SECRET_CACHE_MS = 30_000;
const cache = new TtlCache<Record<string, string> | null>(SECRET_CACHE_MS);

let shared: SecretsManagerClient | undefined;
export const secretsClient = (): SecretsManagerClient => (shared ??= new SecretsManagerClient({}));

const notFound = (e: unknown): boolean => (e as { name?: string }).name === 'ResourceNotFoundException';

/**
 * Secrets Manager adapter: one JSON secret per name (`arx/<tenant>/connectors/<connector>`,
 * `arx/<tenant>/slack`, …). Read through a process-wide cache of {@link SECRET_CACHE_MS}, never logged.
 */
export class SecretsManagerStore implements SecretStore {
  constructor(
    private readonly client: SecretsManagerClient = secretsClient(),
    /** Optional CMK for new secrets (ARX_DATA_KEY_ARN). */
    private readonly kmsKeyId?: string,
  ) {}

  get(name: string): Promise<Record<string, string> | null> {
    return cache.get(name, () => this.read(name)).then((v) => (v ? { ...v } : null));
  }

  private async read(name: string): Promise<Record<string, string> | null> {
    try {
      const r = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
      if (!r.SecretString) return null;
      const v = JSON.parse(r.SecretString) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : null;
    } catch (e) {
      if (notFound(e)) return null;
      throw e;
    }
  }

  async put(name: string, value: Record<string, string>): Promise<void> {
    cache.delete(name);
    try {
      await this.write(name, value);
    } finally {
      cache.delete(name);
    }
  }

  private async write(name: string, value: Record<string, string>): Promise<void> {
    const SecretString = JSON.stringify(value);
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
    } catch (e) {
      if (!notFound(e)) throw e;
      await this.client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString,
          ...(this.kmsKeyId ? { KmsKeyId: this.kmsKeyId } : {}),
          Tags: [{ Key: 'arx:managed', Value: 'true' }],
        }),
      );
    }
  }
}
