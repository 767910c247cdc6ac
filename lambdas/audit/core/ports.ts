import type { OutboxEntry } from '../../shared/events.js';
/** Ports of the audit capability; adapters/ implements them on DynamoDB, S3, KMS, STS and HTTP. */
import type { AuditBlock, BlockHead, ChainState } from './block.js';
import type { AuditEvent } from './events.js';

/** Signs canonical block heads with the tenant's key (ES256). */
export interface BlockSigner {
  /** kid (RFC 7638 thumbprint) of the key `sign` will use for this tenant now. */
  activeKid(tenantId: string): Promise<string>;
  /** ECDSA P-256 / SHA-256 over `message`: kid and base64url R‖S (64 bytes). */
  sign(tenantId: string, message: Uint8Array): Promise<{ kid: string; signature: string }>;
}

/** RFC 3161 timestamping: returns the base64 DER TimeStampToken for a SHA-256 imprint (hex). */
export interface Timestamper {
  readonly url: string;
  stamp(imprintHex: string): Promise<string>;
}

/** Encrypts a full payload under the tenant's key (envelope, encryption context {tenant_id}). */
export interface PayloadCipher {
  encrypt(tenantId: string, eventId: string, plaintext: Uint8Array): Promise<EncryptedPayload>;
  decrypt(tenantId: string, eventId: string, enc: EncryptedPayload): Promise<Uint8Array>;
}
export interface EncryptedPayload {
  readonly alg: 'A256GCM';
  readonly key_arn: string;
  /** KMS-encrypted data key, base64. */
  readonly edk: string;
  readonly iv: string;
  readonly tag: string;
  readonly ct: string;
}

/** The chain head as stored (state + bookkeeping for status, anchoring and recovery). */
export interface ChainRecord extends ChainState {
  readonly tenant_id: string;
  readonly last_sealed_at: string | null;
  readonly last_anchored_at: string | null;
  /** Heights sealed without an RFC 3161 token yet (retried by the sealer). */
  readonly unanchored: readonly number[];
  /** Oldest sealed_at among un-anchored blocks (for the lag in chain status). */
  readonly oldest_unanchored_at: string | null;
  /** The last block's events are not yet marked sealed (crash recovery). */
  readonly marking_height: number | null;
}

export interface BlockSummary {
  readonly tenant_id: string;
  readonly block_id: string;
  readonly height: number;
  readonly block_hash: string;
  readonly head: BlockHead;
  readonly key: string;
  readonly anchored: boolean;
  readonly anchored_at: string | null;
}

export interface StoredEvent {
  readonly event: AuditEvent;
  readonly block_height: number | null;
  readonly leaf_index: number | null;
}

export interface PendingEvent {
  readonly event: AuditEvent;
  readonly leaf: string | null;
}

export interface Page<T> {
  readonly items: T[];
  readonly next_token?: string;
}

/** Audit events: appended once, read by id, agent, control and time; pending until sealed. */
export interface EventStore {
  /**
   * Writes the event, its evidence items and (with `dedupeKey`) a marker in one transaction;
   * returns false when the marker already existed (the source event was recorded before).
   */
  putEvent(event: AuditEvent, redactedPayload: unknown, enc: EncryptedPayload, dedupeKey?: string): Promise<boolean>;
  getEvent(tenantId: string, eventId: string): Promise<StoredEvent | null>;
  /** Newest first; `next_token` is bound to the tenant and the listing (agent or not). */
  listEvents(
    tenantId: string,
    q: { agentId?: string; type?: string; limit: number; nextToken?: string },
  ): Promise<Page<AuditEvent>>;
  controlEvidence(tenantId: string, tag: string, limit: number, nextToken?: string): Promise<Page<AuditEvent>>;
  /** Events in a time range (for compliance packages); newest last. */
  eventsBetween(tenantId: string, from: string, to: string, max: number): Promise<StoredEvent[]>;
  /** Unsealed events with the canonical leaf string kept at write time (null for older items). */
  pendingEvents(tenantId: string, limit: number): Promise<PendingEvent[]>;
  countPending(tenantId: string): Promise<number>;
  /** Records the events' place in block `height` and takes them off the pending index. */
  markSealed(
    tenantId: string,
    height: number,
    events: readonly { event_id: string; leaf_index: number }[],
  ): Promise<void>;
  /** Every tenant that ever recorded an event. */
  tenants(): Promise<string[]>;
}

/** The chain: its head, block summaries and their anchoring, and the sealer's lease. */
export interface ChainStore {
  getChain(tenantId: string): Promise<ChainRecord | null>;
  /**
   * Writes the new head and block summary iff the stored height is still `prevHeight`; with
   * `outbox`, the block's event is committed in the same transaction (the control table's outbox).
   */
  commitBlock(
    prevHeight: number,
    next: ChainRecord,
    summary: BlockSummary,
    outbox?: { readonly table: string; readonly entry: OutboxEntry },
  ): Promise<boolean>;
  finishMarking(tenantId: string, height: number): Promise<void>;
  recordAnchor(tenantId: string, height: number, anchoredAt: string): Promise<void>;
  getBlockSummary(tenantId: string, height: number): Promise<BlockSummary | null>;
  listBlocks(tenantId: string, fromHeight: number, limit: number): Promise<BlockSummary[]>;
  tryLease(tenantId: string, owner: string, untilIso: string, nowIso: string): Promise<boolean>;
  releaseLease(tenantId: string, owner: string): Promise<void>;
}

/** The Object Lock bucket blocks are written to. */
export interface BlockStore {
  /** Writes a version of the block's object (anchoring adds the RFC 3161 timestamp to a stored block). */
  put(block: AuditBlock): Promise<{ key: string; version_id: string | null }>;
  /**
   * Writes the first version of a height's object; null (nothing written) when one exists already,
   * so a height never holds two different blocks (the bucket keeps every version, F7).
   */
  putNew(block: AuditBlock): Promise<{ key: string; version_id: string | null } | null>;
  get(tenantId: string, height: number): Promise<AuditBlock | null>;
}

/** Customer destinations (cross-account S3 via an assumed role). */
export interface Destination {
  readonly destination_id: string;
  readonly tenant_id: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly role_arn: string;
  /** The tenant's external id, generated by ARX (never taken from the caller, F16). */
  readonly external_id: string;
  readonly region?: string;
  readonly created_at: string;
  /**
   * Blocks are copied only to a `verified` destination: the sealer first assumes the role with
   * the tenant's external id and writes a handshake object under the prefix (F16).
   */
  readonly status?: 'pending_verification' | 'verified';
  readonly verified_at?: string;
  readonly last_error?: string;
}
export interface DestinationStore {
  add(d: Destination): Promise<void>;
  /** The tenant's destination external id: `candidate` is stored when the tenant has none yet. */
  externalId(tenantId: string, candidate: string): Promise<string>;
  setStatus(
    tenantId: string,
    destinationId: string,
    change: { status: 'pending_verification' | 'verified'; verified_at?: string; last_error?: string },
  ): Promise<void>;
  list(tenantId: string): Promise<Destination[]>;
  enqueue(tenantId: string, destinationId: string, height: number, reason: string, at: string): Promise<void>;
  queued(tenantId: string, limit: number): Promise<{ destination_id: string; height: number; attempts: number }[]>;
  dequeue(tenantId: string, destinationId: string, height: number): Promise<void>;
  bumpAttempt(tenantId: string, destinationId: string, height: number, reason: string): Promise<void>;
  /** Copies waiting to be replayed. */
  queueDepth(tenantId: string): Promise<number>;
}
export interface DestinationWriter {
  write(d: Destination, block: AuditBlock): Promise<void>;
  /** Assumes the destination role with its external id and writes the handshake object; throws when refused. */
  handshake(d: Destination, at: string): Promise<void>;
}
