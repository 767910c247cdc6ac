/**
 * C4.3 evidence packages: computed report lines, the control mapping with source attribution,
 * the events with their inclusion proofs, a JSON-LD export for GRC tools and a PDF summary.
 * Pure except for pdf-lib (no AWS SDK, no environment).
 */
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import { CONTROL_TITLES, FRAMEWORKS, MAPPING, type Framework } from './evidence.js';
import type { EventProof } from './block.js';
import type { AuditEvent } from './events.js';

export interface ApprovalReport {
  readonly action: string;
  readonly label: string;
  readonly period: string;
  readonly total: number;
  readonly approved_before_execution: number;
  /** Executions without a prior approval in the chain (event ids and why). */
  readonly exceptions: readonly {
    readonly event_id: string;
    readonly correlation_id: string;
    readonly reason: string;
  }[];
  /** The sentence, computed from the counts — never written by hand. */
  readonly line: string;
}

const actionMatches = (pattern: string, action: string): boolean => {
  const p = pattern.split(':');
  const a = action.split(':');
  return (
    p.length === a.length &&
    p.every((seg, i) => seg === '*' || (seg.endsWith('*') ? a[i]!.startsWith(seg.slice(0, -1)) : seg === a[i]))
  );
};

/**
 * "All N <label> in <period> were approved before execution": for every `operation.executed`
 * of `action` whose execution time lies in [from, to), there must be a `decision.approved` event
 * for the same `action_id` (and, when the execution names one, the same `approval_id`) that
 * occurred no later than the execution. The join uses the ids ARX generated and chained, never
 * the correlation id, which the agent chooses and may reuse (F15).
 */
// control: eu_ai_act:Art.14, soc2_2017:CC8.1, eu_ai_act:Art.17
export function approvalCoverage(
  events: readonly AuditEvent[],
  q: { action: string; label?: string; from: string; to: string; period?: string },
): ApprovalReport {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  const approvals = new Map<string, { at: number; approval_id: string | null }>();
  for (const e of events) {
    if (e.event_type !== 'decision.approved' || !e.action_id) continue;
    const t = Date.parse(e.occurred_at);
    const prev = approvals.get(e.action_id);
    if (prev === undefined || t < prev.at) approvals.set(e.action_id, { at: t, approval_id: e.approval_id ?? null });
  }
  const executions = events.filter((e) => {
    if (e.event_type !== 'operation.executed' || !actionMatches(q.action, e.action)) return false;
    const t = Date.parse(e.occurred_at);
    return t >= from && t < to;
  });
  const exceptions: { event_id: string; correlation_id: string; reason: string }[] = [];
  for (const e of executions) {
    const x = (reason: string) => exceptions.push({ event_id: e.event_id, correlation_id: e.correlation_id, reason });
    if (!e.action_id) {
      x('no action_id in the chained event: it cannot be joined to an approval');
      continue;
    }
    const a = approvals.get(e.action_id);
    if (a === undefined) x('no approval recorded');
    else if (e.approval_id && a.approval_id !== e.approval_id) x('the approval recorded is for another approval id');
    else if (a.at > Date.parse(e.occurred_at)) x('approved after execution');
  }
  const label = q.label ?? `${q.action} operations`;
  const period = q.period ?? `${q.from.slice(0, 10)} to ${q.to.slice(0, 10)}`;
  const total = executions.length;
  const ok = total - exceptions.length;
  const line =
    total === 0
      ? `No ${label} were executed in ${period}.`
      : exceptions.length === 0
        ? `All ${total} ${label} in ${period} were approved before execution.`
        : `${ok} of ${total} ${label} in ${period} were approved before execution; ${exceptions.length} were not.`;
  return { action: q.action, label, period, total, approved_before_execution: ok, exceptions, line };
}

export interface ControlSection {
  readonly control_id: string;
  readonly tag: string;
  readonly title: string;
  readonly rules: readonly { readonly id: string; readonly event_type: string; readonly condition: string }[];
  /** file:line@commit of `// control:` annotations (from evidence_map.json). */
  readonly source_attribution: readonly string[];
  readonly event_ids: readonly string[];
}

export interface PackageEvent {
  readonly event: AuditEvent;
  /** Inclusion proof against the signed block root; null while the event is not sealed. */
  readonly proof: (EventProof & { block_hash: string }) | null;
}

export interface PackageManifest {
  readonly package_id: string;
  readonly tenant_id: string;
  readonly framework: Framework;
  readonly framework_title: string;
  readonly period: { readonly from: string; readonly to: string; readonly label: string };
  readonly created_at: string;
  readonly created_by: string;
  readonly chain: {
    readonly height: number;
    readonly head_hash: string | null;
    readonly tree_size: number;
    readonly root: string | null;
  };
  readonly reports: readonly ApprovalReport[];
  readonly controls: readonly ControlSection[];
  readonly events: readonly PackageEvent[];
  readonly verifier: { readonly instructions: readonly string[] };
  readonly counts: { readonly events: number; readonly sealed: number; readonly pending: number };
}

/** Controls of a framework that the mapping can produce evidence for. */
export function mappedControls(framework: Framework): string[] {
  const out = new Set<string>();
  for (const r of MAPPING)
    for (const c of r.controls) if (c.startsWith(`${framework}:`)) out.add(c.slice(framework.length + 1));
  return [...out].sort();
}

export function verifierInstructions(p: {
  tenantId: string;
  auditBucket: string;
  jwksUrl: string;
  sampleEventId?: string;
  height?: number;
  headHash?: string | null;
}): string[] {
  const prefix = `s3://${p.auditBucket}/tenants/${p.tenantId}/blocks`;
  return [
    'Verify the chain without trusting ARX: the verifier reads every stored version of the block files, checks every prev_block_hash link, every block signature against the tenant audit key set (keys are never removed from it), every Merkle root and the consistency between consecutive heads, and every RFC 3161 timestamp token against its TSA CA and the block sealed_at.',
    `1. Fetch the tenant audit key set: curl -o audit-keys.json ${p.jwksUrl}`,
    `2. Run: npx arx-verify ${prefix} --audit-keys audit-keys.json --min-height ${p.height ?? '<height>'}${p.headHash ? ` --expect-head ${p.headHash}` : ''}  (or over a directory of block files as GET /v1/audit/blocks/{id} returns them: npx arx-verify ./blocks --audit-keys audit-keys.json)`,
    `3. For one event: npx arx-verify ${prefix} --audit-keys audit-keys.json --event ${p.sampleEventId ?? '<event_id>'}`,
    '4. Exit code 0 prints one status line; exit code 1 names the first bad block and why.',
    'Each event in this package carries its inclusion proof (RFC 9162: leaf_hash, leaf_index, tree_size, root, proof[]) against the signed root of its block.',
  ];
}

export function buildManifest(input: Omit<PackageManifest, 'framework_title' | 'counts'>): PackageManifest {
  const sealed = input.events.filter((e) => e.proof !== null).length;
  return {
    ...input,
    framework_title: FRAMEWORKS[input.framework],
    counts: { events: input.events.length, sealed, pending: input.events.length - sealed },
  };
}

export function controlSection(
  framework: Framework,
  controlId: string,
  events: readonly AuditEvent[],
  attribution: readonly string[],
): ControlSection {
  const tag = `${framework}:${controlId}`;
  return {
    control_id: controlId,
    tag,
    title: CONTROL_TITLES[tag] ?? controlId,
    rules: MAPPING.filter((r) => r.controls.includes(tag)).map((r) => ({
      id: r.id,
      event_type: r.event_type,
      condition: r.condition,
    })),
    source_attribution: attribution,
    event_ids: events.filter((e) => e.evidence_tags.includes(tag)).map((e) => e.event_id),
  };
}

/** JSON-LD for GRC tools: the package as a schema.org Dataset of evidence items per control. */
export function toJsonLd(m: PackageManifest): Record<string, unknown> {
  return {
    '@context': {
      '@vocab': 'https://schema.org/',
      arx: 'https://arx.dev/ns/compliance#',
      'arx:control': { '@type': '@id' },
    },
    '@type': 'Dataset',
    '@id': `urn:arx:package:${m.package_id}`,
    name: `${m.framework_title} evidence for ${m.tenant_id}, ${m.period.label}`,
    dateCreated: m.created_at,
    temporalCoverage: `${m.period.from}/${m.period.to}`,
    'arx:framework': m.framework,
    'arx:chainHead': {
      'arx:height': m.chain.height,
      'arx:headHash': m.chain.head_hash,
      'arx:treeSize': m.chain.tree_size,
      'arx:root': m.chain.root,
    },
    'arx:report': m.reports.map((r) => ({
      '@type': 'arx:ApprovalReport',
      description: r.line,
      'arx:total': r.total,
      'arx:approvedBeforeExecution': r.approved_before_execution,
    })),
    hasPart: m.controls.map((c) => ({
      '@type': 'arx:ControlEvidence',
      '@id': `urn:arx:control:${c.tag}`,
      identifier: c.control_id,
      name: c.title,
      'arx:sourceAttribution': c.source_attribution,
      'arx:mappingRule': c.rules.map((r) => ({
        identifier: r.id,
        'arx:eventType': r.event_type,
        description: r.condition,
      })),
      'arx:evidence': c.event_ids.map((id) => ({ '@id': `urn:arx:event:${m.tenant_id}:${id}` })),
    })),
    'arx:event': m.events.map((e) => ({
      '@id': `urn:arx:event:${m.tenant_id}:${e.event.event_id}`,
      '@type': 'arx:AuditEvent',
      'arx:eventType': e.event.event_type,
      'arx:action': e.event.action,
      'arx:decision': e.event.decision,
      'arx:agent': e.event.agent_id,
      'arx:occurredAt': e.event.occurred_at,
      'arx:payloadHmacSha256': e.event.hash_of_full_payload, // salted per event (F26)
      'arx:inclusionProof': e.proof
        ? {
            'arx:block': e.proof.block_id,
            'arx:leafIndex': e.proof.leaf_index,
            'arx:treeSize': e.proof.tree_size,
            'arx:root': e.proof.root,
            'arx:path': e.proof.proof,
          }
        : null,
    })),
  };
}

// ------------------------------------------------------------------ PDF summary

/** pdf-lib's standard fonts speak WinAnsi only: keep the summary printable. */
const ascii = (s: string): string =>
  s
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2192/g, '->')
    .replace(/\u2026/g, '...')
    .replace(/[^\x20-\x7e]/g, '?');

/** A readable summary (one page when it fits, more when it does not). */
export async function renderPdf(m: PackageManifest): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(ascii(`ARX evidence package ${m.package_id}`));
  doc.setAuthor('ARX');
  doc.setCreationDate(new Date(m.created_at));
  doc.setModificationDate(new Date(m.created_at));
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  let page: PDFPage = doc.addPage([595, 842]);
  let y = 800;
  const write = (text: string, f: PDFFont = font, size = 10, indent = 0): void => {
    const maxWidth = 595 - 50 - 50 - indent;
    const words = ascii(text).split(' ');
    let line = '';
    const flush = (): void => {
      if (y < 50) {
        page = doc.addPage([595, 842]);
        y = 800;
      }
      page.drawText(line, { x: 50 + indent, y, size, font: f, color: rgb(0.1, 0.1, 0.1) });
      y -= size + 4;
      line = '';
    };
    for (const w of words) {
      const next = line ? `${line} ${w}` : w;
      if (f.widthOfTextAtSize(next, size) > maxWidth && line) {
        flush();
        line = w;
      } else line = next;
    }
    flush();
  };
  write('ARX compliance evidence package', bold, 16);
  y -= 4;
  write(`${m.framework_title}`, bold, 11);
  write(`Tenant ${m.tenant_id} - period ${m.period.label} (${m.period.from} to ${m.period.to})`);
  write(`Package ${m.package_id}, generated ${m.created_at} by ${m.created_by}`);
  write(`Chain head: height ${m.chain.height}, tree size ${m.chain.tree_size}, root ${m.chain.root ?? '-'}`);
  write(
    `Events: ${m.counts.events} (${m.counts.sealed} sealed with inclusion proofs, ${m.counts.pending} pending sealing)`,
  );
  y -= 6;
  write('Findings (computed from the audit chain)', bold, 12);
  if (m.reports.length === 0) write('No approval reports were requested.', font, 10, 10);
  for (const r of m.reports) {
    write(`- ${r.line}`, font, 10, 10);
    for (const ex of r.exceptions.slice(0, 10)) write(`exception: ${ex.event_id} (${ex.reason})`, font, 9, 24);
  }
  y -= 6;
  write('Controls and evidence', bold, 12);
  for (const c of m.controls) {
    write(`${c.control_id} - ${c.title}: ${c.event_ids.length} event(s)`, bold, 10, 10);
    for (const r of c.rules) write(`when ${r.event_type}: ${r.condition}`, font, 9, 24);
    for (const s of c.source_attribution.slice(0, 3)) write(`source: ${s}`, font, 8, 24);
  }
  y -= 6;
  write('How to verify independently', bold, 12);
  for (const line of m.verifier.instructions) write(line, font, 9, 10);
  return doc.save({ useObjectStreams: false });
}
