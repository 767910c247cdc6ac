import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { SecretStore } from '../core/model.js';

let shared: SecretsManagerClient | undefined;
export const secretsClient = (): SecretsManagerClient => (shared ??= new SecretsManagerClient({}));

const notFound = (e: unknown): boolean => (e as { name?: string }).name === 'ResourceNotFoundException';

/**
 * Secrets Manager adapter: one JSON secret per name (`arx/<tenant>/connectors/<connector>`,
 * `arx/<tenant>/slack`, …). Read at call time, never cached across actions, never logged.
 */
export class SecretsManagerStore implements SecretStore {
  constructor(
    private readonly client: SecretsManagerClient = secretsClient(),
    /** Optional CMK for new secrets (ARX_DATA_KEY_ARN). */
    private readonly kmsKeyId?: string,
  ) {}

  async get(name: string): Promise<Record<string, string> | null> {
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
