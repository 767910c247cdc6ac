/** Builds, stores and reads compliance evidence packages. */
import type { Clock } from '../../shared/clock.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { canonicalJson, newId, sha256Hex } from '../../shared/ids.js';
import { eventProof, type AuditBlock } from './block.js';
import {
  approvalCoverage,
  buildManifest,
  controlSection,
  mappedControls,
  renderPdf,
  toJsonLd,
  verifierInstructions,
  type PackageEvent,
  type PackageManifest,
} from './compliance.js';
import { isFramework, type Framework } from './evidence.js';
import type { BlockStore, ChainStore, EventStore } from './ports.js';

export interface ArtifactStore {
  put(key: string, body: Uint8Array | string, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
}

export interface PackageRecord {
  readonly package_id: string;
  readonly tenant_id: string;
  readonly framework: Framework;
  readonly status: 'complete';
  readonly created_at: string;
  readonly created_by: string;
  readonly period: PackageManifest['period'];
  readonly reports: readonly string[];
  readonly counts: PackageManifest['counts'];
  readonly artifacts: {
    readonly bucket: string;
    readonly manifest: string;
    readonly pdf: string;
    readonly jsonld: string;
    readonly sha256: Record<string, string>;
  };
}

export interface PackageStore {
  putPackage(r: PackageRecord): Promise<void>;
  getPackage(tenantId: string, id: string): Promise<PackageRecord | null>;
}

export interface PackageDeps {
  readonly events: Pick<EventStore, 'eventsBetween'>;
  readonly chain: Pick<ChainStore, 'getChain'>;
  readonly packages: PackageStore;
  readonly blocks: BlockStore;
  readonly artifacts: ArtifactStore;
  readonly artifactBucket: string;
  readonly auditBucket: string;
  readonly clock: Clock;
  /** file:line@commit attributions per control tag (from evidence_map.json). */
  readonly attribution: (tag: string) => readonly string[];
  /** Public base URL of the API (for the JWKS link in the instructions). */
  readonly apiBaseUrl?: string;
  /** Most events a package carries. @default 5000 */
  readonly maxEvents?: number;
}

export interface PackageRequest {
  readonly framework: string;
  readonly controls?: readonly string[] | undefined;
  readonly from: string;
  readonly to: string;
  readonly approval_reports?: readonly { action: string; label?: string | undefined }[] | undefined;
  readonly period_label?: string | undefined;
}

export async function buildPackage(
  d: PackageDeps,
  tenantId: string,
  createdBy: string,
  req: PackageRequest,
): Promise<PackageRecord> {
  if (!isFramework(req.framework)) throw new ValidationError(`unknown framework ${req.framework}`);
  if (Date.parse(req.from) >= Date.parse(req.to)) throw new ValidationError('from must be before to');
  const framework = req.framework;
  const controls = req.controls ?? mappedControls(framework);
  const tags = new Set(controls.map((c) => `${framework}:${c}`));
  const now = d.clock.now();
  const packageId = newId('pkg', now);
  const max = d.maxEvents ?? 5000;
  const stored = await d.events.eventsBetween(tenantId, req.from, req.to, max);
  const all = stored.map((s) => s.event);
  const period = {
    from: req.from,
    to: req.to,
    label: req.period_label ?? `${req.from.slice(0, 10)} to ${req.to.slice(0, 10)}`,
  };
  const reports = (req.approval_reports ?? []).map((r) =>
    approvalCoverage(all, {
      action: r.action,
      ...(r.label ? { label: r.label } : {}),
      from: req.from,
      to: req.to,
      period: period.label,
    }),
  );

  // Evidence events: tagged with a requested control, or named by a report.
  const reportActions = req.approval_reports ?? [];
  const selected = stored.filter(
    (s) =>
      s.event.evidence_tags.some((t) => tags.has(t)) ||
      reportActions.some(
        (r) =>
          s.event.action === r.action &&
          (s.event.event_type === 'operation.executed' || s.event.event_type === 'decision.approved'),
      ),
  );
  const blockCache = new Map<number, AuditBlock | null>();
  const events: PackageEvent[] = [];
  for (const s of selected) {
    let proof: PackageEvent['proof'] = null;
    if (s.block_height !== null) {
      if (!blockCache.has(s.block_height)) blockCache.set(s.block_height, await d.blocks.get(tenantId, s.block_height));
      const b = blockCache.get(s.block_height);
      const i = b ? b.events.findIndex((e) => e.event_id === s.event.event_id) : -1;
      if (b && i >= 0) proof = { ...eventProof(b, i), block_hash: b.block_hash };
    }
    events.push({ event: s.event, proof });
  }
  const chain = await d.chain.getChain(tenantId);
  const manifest = buildManifest({
    package_id: packageId,
    tenant_id: tenantId,
    framework,
    period,
    created_at: now.toISOString(),
    created_by: createdBy,
    chain: {
      height: chain?.height ?? 0,
      head_hash: chain?.head_hash ?? null,
      tree_size: chain?.tree_size ?? 0,
      root: chain?.root ?? null,
    },
    reports,
    controls: controls.map((c) => controlSection(framework, c, all, d.attribution(`${framework}:${c}`))),
    events,
    verifier: {
      instructions: verifierInstructions({
        tenantId,
        auditBucket: d.auditBucket,
        jwksUrl: `${d.apiBaseUrl ?? 'https://<arx-api>'}/tenants/${tenantId}/.well-known/audit-keys.json`,
        ...(events[0] ? { sampleEventId: events[0].event.event_id } : {}),
        ...(chain ? { height: chain.height, headHash: chain.head_hash } : {}),
      }),
    },
  });
  const manifestJson = JSON.stringify(manifest, null, 2);
  const jsonld = JSON.stringify(toJsonLd(manifest), null, 2);
  const pdf = await renderPdf(manifest);
  const base = `tenants/${tenantId}/packages/${packageId}`;
  await d.artifacts.put(`${base}/manifest.json`, manifestJson, 'application/json');
  await d.artifacts.put(`${base}/evidence.jsonld`, jsonld, 'application/ld+json');
  await d.artifacts.put(`${base}/summary.pdf`, pdf, 'application/pdf');
  await d.artifacts.put(`${base}/VERIFY.txt`, `${manifest.verifier.instructions.join('\n')}\n`, 'text/plain');
  const record: PackageRecord = {
    package_id: packageId,
    tenant_id: tenantId,
    framework,
    status: 'complete',
    created_at: manifest.created_at,
    created_by: createdBy,
    period,
    reports: reports.map((r) => r.line),
    counts: manifest.counts,
    artifacts: {
      bucket: d.artifactBucket,
      manifest: `${base}/manifest.json`,
      pdf: `${base}/summary.pdf`,
      jsonld: `${base}/evidence.jsonld`,
      sha256: { manifest: sha256Hex(manifestJson), pdf: sha256Hex(pdf), jsonld: sha256Hex(jsonld) },
    },
  };
  await d.packages.putPackage(record);
  return record;
}

export async function getPackage(
  d: Pick<PackageDeps, 'packages'>,
  tenantId: string,
  id: string,
): Promise<PackageRecord> {
  const r = await d.packages.getPackage(tenantId, id);
  if (!r) throw new NotFoundError(`no package ${id}`);
  return r;
}

/** One artifact of a package, checked against the digest recorded at build time. */
export async function packageArtifact(
  d: Pick<PackageDeps, 'packages' | 'artifacts'>,
  tenantId: string,
  id: string,
  which: 'manifest' | 'jsonld' | 'pdf',
) {
  const rec = await getPackage(d, tenantId, id);
  const body = await d.artifacts.get(rec.artifacts[which]);
  if (!body) throw new NotFoundError(`artifact ${which} of package ${id} not found`);
  if (sha256Hex(body) !== rec.artifacts.sha256[which])
    throw new Error(`artifact ${which} of package ${id} does not match its recorded digest`);
  if (which === 'pdf')
    return {
      content_type: 'application/pdf',
      encoding: 'base64',
      sha256: rec.artifacts.sha256.pdf,
      data: Buffer.from(body).toString('base64'),
    };
  return JSON.parse(Buffer.from(body).toString('utf8')) as unknown;
}

export const digestOf = (v: unknown): string => sha256Hex(canonicalJson(v));
