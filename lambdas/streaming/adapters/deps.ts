import { systemClock } from '../../shared/clock.js';
import { perEnvironment, readSettings } from '../../shared/settings.js';
import { KmsEnvelopeCipher } from '../../audit/index.js';
import type { DeliveryDeps } from '../core/deliver.js';
import { DynamoStreamingStore } from './dynamo-streaming-store.js';
import { guardedSend } from './outbound.js';
import { S3LakeWriter } from './s3-lake.js';
import { EnvelopeSecretBox } from './secrets.js';

export const API_SETTINGS = ['ARX_CONTROL_TABLE', 'ARX_DATA_KEY_ARN'] as const;
export const DELIVERY_SETTINGS = [
  'ARX_CONTROL_TABLE',
  'ARX_DATA_KEY_ARN',
  'ARX_ARTIFACT_BUCKET',
  'ARX_STREAMING_RETRY_BASE_MS',
  'ARX_STREAMING_RETRY_MAX_DELAY_MS',
  'ARX_STREAMING_RETRY_WINDOW_S',
  'ARX_STREAMING_TIMEOUT_MS',
] as const;

/** Composition root of the subscriptions API. */
export const apiDeps = perEnvironment(() => {
  const c = readSettings(API_SETTINGS);
  return {
    store: new DynamoStreamingStore(c.ARX_CONTROL_TABLE),
    secrets: new EnvelopeSecretBox(new KmsEnvelopeCipher(c.ARX_DATA_KEY_ARN)),
    clock: systemClock,
  };
});

/** Composition root of the bus consumer and the retry worker (the same delivery engine). */
export const deliveryDeps = perEnvironment((): DeliveryDeps => {
  const c = readSettings(DELIVERY_SETTINGS);
  const secrets = new EnvelopeSecretBox(new KmsEnvelopeCipher(c.ARX_DATA_KEY_ARN));
  return {
    store: new DynamoStreamingStore(c.ARX_CONTROL_TABLE),
    secrets,
    openSecret: (s) => secrets.openCached(s),
    send: guardedSend,
    lake: new S3LakeWriter(c.ARX_ARTIFACT_BUCKET),
    clock: systemClock,
    retry: {
      baseMs: c.ARX_STREAMING_RETRY_BASE_MS,
      maxDelayMs: c.ARX_STREAMING_RETRY_MAX_DELAY_MS,
      windowMs: c.ARX_STREAMING_RETRY_WINDOW_S * 1000,
    },
    timeoutMs: c.ARX_STREAMING_TIMEOUT_MS,
  };
});
