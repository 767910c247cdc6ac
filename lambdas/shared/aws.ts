import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { KMSClient } from '@aws-sdk/client-kms';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

/**
 * SDK clients created once per process (module scope) and shared by adapters. Adapters accept
 * an optional client so tests hand in clients pointed at the emulator. The SDK honours
 * AWS_ENDPOINT_URL natively; S3 additionally needs path-style addressing on an emulator.
 */
const emulated = (): boolean => Boolean(process.env.AWS_ENDPOINT_URL);

let ddb: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let kms: KMSClient | undefined;
let eb: EventBridgeClient | undefined;

export const documentClient = (): DynamoDBDocumentClient =>
  (ddb ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  }));
export const s3Client = (): S3Client => (s3 ??= new S3Client({ forcePathStyle: emulated() }));
export const kmsClient = (): KMSClient => (kms ??= new KMSClient({}));
export const eventBridgeClient = (): EventBridgeClient => (eb ??= new EventBridgeClient({}));
