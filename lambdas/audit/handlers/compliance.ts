import { createApiHandler, type ApiRequest } from '../../shared/http.js';
import { NotFoundError } from '../../shared/errors.js';
import { handlerSettings, optionalSetting, perEnvironment, readSettings } from '../../shared/settings.js';
import { routesOf } from '../../topology.js';
import { AUDIT_READ_SETTINGS, auditReadDeps } from '../adapters/deps.js';
import { loadAttribution } from '../adapters/evidence-map.js';
import { S3ArtifactStore } from '../adapters/s3-artifact-store.js';
import { CONTROL_TITLES, isFramework } from '../core/evidence.js';
import { buildPackage, getPackage, packageArtifact, type PackageDeps } from '../core/packages.js';
import type { EvidenceQuery, PackageBody, PackageQuery } from '../schemas.js';

const packageDeps = perEnvironment((): PackageDeps => {
  const r = auditReadDeps();
  const c = readSettings(['ARX_ARTIFACT_BUCKET']);
  return {
    events: r.events,
    chain: r.chain,
    packages: r.packages,
    blocks: r.blocks,
    artifacts: new S3ArtifactStore(c.ARX_ARTIFACT_BUCKET),
    artifactBucket: c.ARX_ARTIFACT_BUCKET,
    auditBucket: r.auditBucket,
    clock: r.clock,
    attribution: loadAttribution(),
    ...(optionalSetting('ARX_PUBLIC_API_URL') ? { apiBaseUrl: optionalSetting('ARX_PUBLIC_API_URL') } : {}),
  };
});

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(AUDIT_READ_SETTINGS, [
  'ARX_ARTIFACT_BUCKET',
  'ARX_PUBLIC_API_URL',
  'ARX_EVIDENCE_MAP',
]);

export const handler = createApiHandler(routesOf('compliance-api'), {
  'GET /v1/compliance/controls/{framework}/{control_id}/evidence': async (req: ApiRequest<unknown, EvidenceQuery>) => {
    const framework = req.params.framework ?? '';
    const controlId = decodeURIComponent(req.params.control_id ?? '');
    if (!isFramework(framework)) throw new NotFoundError(`unknown framework ${framework}`);
    const tag = `${framework}:${controlId}`;
    const page = await auditReadDeps().events.controlEvidence(
      req.auth!.tenantId,
      tag,
      req.query.limit ?? 50,
      req.query.next_token,
    );
    return { status: 200, body: { framework, control_id: controlId, title: CONTROL_TITLES[tag] ?? null, ...page } };
  },
  'POST /v1/compliance/packages': async (req: ApiRequest<PackageBody>) => {
    const rec = await buildPackage(packageDeps(), req.auth!.tenantId, req.auth!.subject, req.body);
    return { status: 201, body: rec, headers: { location: `/v1/compliance/packages/${rec.package_id}` } };
  },
  'GET /v1/compliance/packages/{id}': async (req: ApiRequest<unknown, PackageQuery>) => {
    const id = req.params.id ?? '';
    if (req.query.artifact)
      return { status: 200, body: await packageArtifact(packageDeps(), req.auth!.tenantId, id, req.query.artifact) };
    return { status: 200, body: await getPackage(packageDeps(), req.auth!.tenantId, id) };
  },
});
