/**
 * C4.1 evidence mapping: a static (event type, condition) → controls table per framework. Tags are
 * written into each AuditEvent at emit time, so evidence retrieval is a query, not a join.
 *
 * Frameworks: SOC 2 (TSC 2017), ISO/IEC 42001:2023 (Annex A), EU AI Act (Art. 9, 10, 11, 12, 14,
 * 17, 26), NIST AI RMF 1.0 subcategories (with the NIST AI 600-1 GenAI profile, whose suggested
 * actions are keyed by the same subcategories), OWASP NHI Top 10 (2025), OWASP Agentic AI —
 * Threats and Mitigations (2025, threat ids T1…T15).
 */

export const FRAMEWORKS = {
  soc2_2017: 'SOC 2 — Trust Services Criteria (2017)',
  iso_42001_2023: 'ISO/IEC 42001:2023 AI management systems',
  eu_ai_act: 'EU AI Act (Regulation (EU) 2024/1689)',
  nist_ai_rmf_1_0: 'NIST AI RMF 1.0 with the GenAI profile NIST AI 600-1',
  owasp_nhi_top10_2025: 'OWASP Non-Human Identities Top 10 (2025)',
  owasp_agentic_top10_2025: 'OWASP Agentic AI — Threats and Mitigations (2025)',
} as const;
export type Framework = keyof typeof FRAMEWORKS;
export const isFramework = (s: string): s is Framework => Object.hasOwn(FRAMEWORKS, s);

export interface ControlRef {
  readonly framework: Framework;
  readonly control_id: string;
}

/** Human-readable names of the controls the mapping uses. */
export const CONTROL_TITLES: Record<string, string> = {
  'soc2_2017:CC6.1': 'Logical access security over protected information assets',
  'soc2_2017:CC6.2': 'Registration and authorization of new users (incl. non-human)',
  'soc2_2017:CC6.3': 'Role-based authorization; removal of access',
  'soc2_2017:CC6.6': 'Restriction of access from outside system boundaries',
  'soc2_2017:CC7.2': 'Monitoring of system components for anomalies',
  'soc2_2017:CC7.3': 'Evaluation of security events',
  'soc2_2017:CC7.4': 'Response to security incidents',
  'soc2_2017:CC8.1': 'Authorization and approval of changes',
  'iso_42001_2023:A.6.2.6': 'AI system operation and monitoring',
  'iso_42001_2023:A.6.2.8': 'AI system recording of event logs',
  'iso_42001_2023:A.9.2': 'Processes for responsible use of AI systems',
  'iso_42001_2023:A.3.2': 'AI roles and responsibilities',
  'iso_42001_2023:A.6.2.5': 'AI system deployment',
  'eu_ai_act:Art.9': 'Risk management system',
  'eu_ai_act:Art.10': 'Data and data governance',
  'eu_ai_act:Art.11': 'Technical documentation',
  'eu_ai_act:Art.12': 'Record-keeping (automatic logging of events)',
  'eu_ai_act:Art.14': 'Human oversight',
  'eu_ai_act:Art.17': 'Quality management system',
  'eu_ai_act:Art.26': 'Obligations of deployers (monitoring, log retention)',
  'nist_ai_rmf_1_0:GOVERN-1.4': 'Risk management process and outcomes established through transparent policies',
  'nist_ai_rmf_1_0:GOVERN-1.6': 'Mechanisms to inventory AI systems',
  'nist_ai_rmf_1_0:GOVERN-2.1': 'Roles, responsibilities and lines of communication documented',
  'nist_ai_rmf_1_0:MEASURE-2.7': 'AI system security and resilience evaluated and documented',
  'nist_ai_rmf_1_0:MANAGE-2.4': 'Mechanisms to supersede, disengage or deactivate AI systems',
  'nist_ai_rmf_1_0:MANAGE-4.1': 'Post-deployment monitoring plans implemented',
  'owasp_nhi_top10_2025:NHI1': 'Improper offboarding',
  'owasp_nhi_top10_2025:NHI2': 'Secret leakage',
  'owasp_nhi_top10_2025:NHI4': 'Insecure authentication',
  'owasp_nhi_top10_2025:NHI5': 'Overprivileged NHI',
  'owasp_nhi_top10_2025:NHI7': 'Long-lived secrets',
  'owasp_nhi_top10_2025:NHI10': 'Human use of NHI',
  'owasp_agentic_top10_2025:T2': 'Tool misuse',
  'owasp_agentic_top10_2025:T3': 'Privilege compromise',
  'owasp_agentic_top10_2025:T8': 'Repudiation and untraceability',
  'owasp_agentic_top10_2025:T9': 'Identity spoofing and impersonation',
  'owasp_agentic_top10_2025:T10': 'Overwhelming human in the loop',
  'owasp_agentic_top10_2025:T13': 'Rogue agents in multi-agent systems',
};

/** What a mapping rule may look at. */
export interface TaggableEvent {
  readonly event_type: string;
  readonly action: string;
  readonly decision?: string;
}

export interface MappingRule {
  readonly id: string;
  /** Exact event type, or a prefix ending in `*`. */
  readonly event_type: string;
  /** Human-readable condition (printed in packages and evidence_map.json). */
  readonly condition: string;
  readonly when?: (e: TaggableEvent) => boolean;
  readonly controls: readonly string[]; // "framework:control_id"
}

const ALL_EVENTS_LOGGED = [
  'eu_ai_act:Art.12',
  'iso_42001_2023:A.6.2.8',
  'owasp_agentic_top10_2025:T8',
  'eu_ai_act:Art.26',
];

/** The mapping table. Order does not matter; tags are the union of every matching rule. */
export const MAPPING: readonly MappingRule[] = [
  {
    id: 'any-event-recorded',
    event_type: '*',
    condition: 'every governed event is logged in the tamper-evident chain',
    controls: ALL_EVENTS_LOGGED,
  },
  {
    id: 'decision-evaluated',
    event_type: 'policy.decision',
    condition: 'a policy decision was evaluated for an agent action',
    controls: [
      'soc2_2017:CC6.1',
      'iso_42001_2023:A.9.2',
      'eu_ai_act:Art.9',
      'nist_ai_rmf_1_0:GOVERN-1.4',
      'owasp_agentic_top10_2025:T2',
      'owasp_nhi_top10_2025:NHI5',
    ],
  },
  {
    id: 'decision-forbid',
    event_type: 'policy.decision',
    condition: 'the decision was a forbid (least privilege enforced)',
    when: (e) => e.decision === 'forbid' || e.decision === 'denied',
    controls: ['soc2_2017:CC6.3', 'owasp_agentic_top10_2025:T3', 'nist_ai_rmf_1_0:MEASURE-2.7'],
  },
  {
    id: 'approval-requested',
    event_type: 'decision.required',
    condition: 'a high-risk action was held for human approval',
    controls: ['eu_ai_act:Art.14', 'iso_42001_2023:A.9.2', 'soc2_2017:CC8.1', 'owasp_agentic_top10_2025:T10'],
  },
  {
    id: 'approval-decided',
    event_type: 'decision.*',
    condition: 'a human approved, denied or let expire a held action',
    when: (e) => e.event_type !== 'decision.required',
    controls: ['eu_ai_act:Art.14', 'soc2_2017:CC8.1', 'nist_ai_rmf_1_0:GOVERN-2.1', 'iso_42001_2023:A.3.2'],
  },
  {
    id: 'operation-executed',
    event_type: 'operation.*',
    condition: 'a governed operation ran (or failed) against an external system',
    controls: [
      'soc2_2017:CC7.2',
      'iso_42001_2023:A.6.2.6',
      'nist_ai_rmf_1_0:MANAGE-4.1',
      'eu_ai_act:Art.26',
      'owasp_agentic_top10_2025:T2',
    ],
  },
  {
    id: 'identity-registered',
    event_type: 'identity.agent.registered',
    condition: 'a non-human identity was registered with an accountable owner',
    controls: [
      'soc2_2017:CC6.2',
      'nist_ai_rmf_1_0:GOVERN-1.6',
      'owasp_nhi_top10_2025:NHI4',
      'owasp_agentic_top10_2025:T9',
      'eu_ai_act:Art.11',
    ],
  },
  {
    id: 'identity-credential-rotated',
    event_type: 'identity.*',
    condition: 'a credential or signing key was rotated',
    when: (e) => /rotat/.test(e.event_type) || /rotat/.test(e.action),
    controls: ['owasp_nhi_top10_2025:NHI7', 'owasp_nhi_top10_2025:NHI2', 'soc2_2017:CC6.1'],
  },
  {
    id: 'identity-revoked',
    event_type: 'identity.*',
    condition: 'an identity was revoked or its owner changed',
    when: (e) => /revok|owner/.test(e.event_type),
    controls: ['soc2_2017:CC6.3', 'owasp_nhi_top10_2025:NHI1', 'owasp_nhi_top10_2025:NHI10'],
  },
  {
    id: 'bundle-promoted',
    event_type: 'bundle.*',
    condition: 'a policy bundle was created or promoted (change management)',
    controls: [
      'soc2_2017:CC8.1',
      'eu_ai_act:Art.17',
      'eu_ai_act:Art.9',
      'iso_42001_2023:A.6.2.5',
      'nist_ai_rmf_1_0:GOVERN-1.4',
    ],
  },
  {
    id: 'agent-terminated',
    event_type: 'agent.terminated*',
    condition: 'an agent, cohort or organisation was stopped (kill switch)',
    controls: [
      'eu_ai_act:Art.14',
      'nist_ai_rmf_1_0:MANAGE-2.4',
      'soc2_2017:CC7.4',
      'owasp_nhi_top10_2025:NHI1',
      'owasp_agentic_top10_2025:T13',
    ],
  },
  {
    id: 'connector-configured',
    event_type: 'connector.*',
    condition: 'a connector secret was configured (stored in Secrets Manager, never returned)',
    controls: ['owasp_nhi_top10_2025:NHI2', 'soc2_2017:CC6.6', 'eu_ai_act:Art.10'],
  },
];

function typeMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Evidence tags (`framework:control_id`, sorted, unique) for an event. */
export function evidenceTags(e: TaggableEvent, mapping: readonly MappingRule[] = MAPPING): string[] {
  const out = new Set<string>();
  for (const r of mapping) {
    if (!typeMatches(r.event_type, e.event_type)) continue;
    if (r.when && !r.when(e)) continue;
    for (const c of r.controls) out.add(c);
  }
  return [...out].sort();
}

export function parseTag(tag: string): ControlRef | null {
  const i = tag.indexOf(':');
  if (i < 0) return null;
  const framework = tag.slice(0, i);
  if (!isFramework(framework)) return null;
  return { framework, control_id: tag.slice(i + 1) };
}
