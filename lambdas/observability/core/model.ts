/**
 * Span records and ports of the observability capability (C5). The cores talk only to these.
 */
import type { Attributes } from './otlp.js';
import type { Cost, PriceTable, Usage } from './cost.js';

/**
 * The S3 object tag on every cold span object (the Parquet files and their trace-id index entries).
 * Their keys sit under each tenant's prefix (`tenants/<t>/traces/…`), so no one prefix names them
 * all: the artifact bucket's lifecycle rule for cold copies selects them by this tag (lib/observability.ts).
 */
export const COLD_SPAN_TAG = { key: 'arx-data', value: 'cold-spans' } as const;

/** Hot span store retention (DynamoDB TTL). */
export const HOT_RETENTION_DAYS = 90;

/** One span as kept in the hot store: no prompt/completion content, ever. */
export interface SpanRecord {
  readonly tenant_id: string;
  readonly trace_id: string;
  readonly span_id: string;
  readonly parent_span_id: string | null;
  readonly name: string;
  readonly kind: number;
  readonly start_ns: string;
  readonly end_ns: string;
  /** ISO start time (event time for pricing and partitioning). */
  readonly start_time: string;
  readonly duration_ms: number;
  /** `otlp`: sent by an agent or admin; `arx`: ARX's own governed-action spans. */
  readonly source: 'otlp' | 'arx';
  readonly agent_id: string | null;
  readonly operation: string | null;
  readonly provider: string | null;
  readonly model: string | null;
  readonly tool_name: string | null;
  readonly usage: Usage | null;
  readonly cost_usd: number | null;
  readonly priced_as: string | null;
  readonly status: { readonly code: number; readonly message: string };
  readonly attributes: Attributes;
  readonly events: readonly { readonly name: string; readonly time_ns: string; readonly attributes: Attributes }[];
  readonly resource: Attributes;
  readonly scope: { readonly name: string; readonly version: string };
  /** Object key of the redacted, encrypted prompt/completion content, when the span had any. */
  readonly content_ref: string | null;
  readonly ingested_at: string;
}

/** ARX's record that a governed action belongs to a trace (written from the action events). */
export interface ActionLink {
  readonly tenant_id: string;
  readonly trace_id: string;
  readonly action_id: string;
  readonly agent_id: string;
  readonly approval_id: string | null;
  /** Last known state per event type (decision.required, operation.executed, …), for the join. */
  readonly events: readonly { readonly type: string; readonly at: string; readonly detail: Record<string, unknown> }[];
}

export interface Budget {
  readonly scope: 'agent' | 'cohort';
  readonly id: string;
  readonly period: 'day' | 'month';
  readonly usd: number;
  readonly over: 'forbid' | 'hitl';
  readonly updated_at: string;
}

export interface SpanStore {
  putSpans(records: readonly SpanRecord[]): Promise<void>;
  traceSpans(
    tenantId: string,
    traceId: string,
    limit?: number,
  ): Promise<{ spans: SpanRecord[]; links: ActionLink[]; truncated: boolean }>;
  spansByAgent(tenantId: string, agentId: string, fromIso: string, toIso: string): Promise<SpanRecord[]>;
  spansByDay(tenantId: string, day: string, fromIso?: string, toIso?: string): Promise<SpanRecord[]>;
  /** Adds `ev` to the action's link (once per type + at); answers the link as it was before, or null. */
  appendLinkEvent(link: Omit<ActionLink, 'events'>, ev: ActionLink['events'][number]): Promise<ActionLink | null>;
  getPrices(tenantId: string): Promise<(PriceTable & { updated_at: string }) | null>;
  putPrices(tenantId: string, table: PriceTable, at: string): Promise<void>;
  putBudget(tenantId: string, b: Budget): Promise<void>;
  /** Export settings; `headers` are stored encrypted (they often carry the vendor's API key). */
  putExport(
    tenantId: string,
    cfg: { endpoint: string; protocol: string; headers_enc: unknown; header_names: string[]; updated_at: string },
  ): Promise<void>;
  getExport(tenantId: string): Promise<{
    endpoint: string;
    protocol: string;
    headers_enc: unknown;
    header_names: string[];
    updated_at: string;
  } | null>;
  listBudgets(tenantId: string): Promise<Budget[]>;
}

/** Prompt/completion content, redacted and encrypted with the tenant data key, apart from spans. */
export interface ContentStore {
  /** Writes under `tenants/<tenant>/<key>.json`; returns the object reference. */
  put(tenantId: string, key: string, content: unknown): Promise<string>;
  get(tenantId: string, ref: string): Promise<unknown>;
}

export type { Cost };
