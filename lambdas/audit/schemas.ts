import { z } from 'zod';
import { FRAMEWORKS } from './core/evidence.js';

const limit = z.coerce.number().int().min(1).max(200).optional();
const nextToken = z.string().min(1).max(2048).optional();

export const EventsQuery = z.strictObject({
  agent_id: z.string().min(1).max(128).optional(),
  type: z.string().regex(/^[a-z][a-z0-9_.]{0,127}$/).optional(),
  limit,
  next_token: nextToken,
});
export type EventsQuery = z.infer<typeof EventsQuery>;

export const BlocksQuery = z.strictObject({
  from_height: z.coerce.number().int().min(1).optional(),
  limit,
});
export type BlocksQuery = z.infer<typeof BlocksQuery>;

export const DestinationBody = z.strictObject({
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
  prefix: z.string().max(512).regex(/^[A-Za-z0-9!_.*'()/-]*$/).default(''),
  role_arn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'an IAM role ARN'),
  region: z.string().regex(/^(?!.*--)[a-z]{2}-[a-z-]*[a-z]-\d$/).optional(),
});
export type DestinationBody = z.infer<typeof DestinationBody>;

const frameworkIds = Object.keys(FRAMEWORKS) as [keyof typeof FRAMEWORKS, ...(keyof typeof FRAMEWORKS)[]];
export const Framework = z.enum(frameworkIds);

export const EvidenceQuery = z.strictObject({ limit, next_token: nextToken });
export type EvidenceQuery = z.infer<typeof EvidenceQuery>;

export const PackageQuery = z.strictObject({
  /** Download one artifact inline: manifest / jsonld as JSON, pdf as base64. */
  artifact: z.enum(['manifest', 'jsonld', 'pdf']).optional(),
});
export type PackageQuery = z.infer<typeof PackageQuery>;

export const PackageBody = z.strictObject({
  framework: Framework,
  /** Controls to include; all controls the mapping knows for the framework when omitted. */
  controls: z.array(z.string().min(1).max(64)).min(1).max(50).optional(),
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  /** Computed report lines: "All N <label> in <period> were approved before execution". */
  approval_reports: z
    .array(z.strictObject({ action: z.string().regex(/^[a-z0-9_-]+:[a-z0-9_*-]+:[a-z0-9_*-]+$/), label: z.string().min(1).max(80).optional() }))
    .max(10)
    .optional(),
  period_label: z.string().min(1).max(40).optional(),
});
export type PackageBody = z.infer<typeof PackageBody>;
