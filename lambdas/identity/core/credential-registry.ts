/**
 * The per-tenant credential registry's admin operations (F1, F12b): roles the broker may assume
 * for the tenant's agents and OAuth token endpoints it may call. Every change is audited; when the
 * audit record cannot be written the change is undone and the error propagates (fail closed: no
 * unaudited change stays).
 */
import type { Clock } from '../../shared/clock.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import type { AuditSink } from '../../shared/ports.js';
import type { AllowedTokenEndpoint, RegisteredRole } from './broker.js';

/** Names in the registry (roles, token endpoints): the `{name}` path segment. */
export const REGISTRY_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface RegistryAdminPort {
  roleByName(tenantId: string, name: string): Promise<RegisteredRole | null>;
  putRole(role: RegisteredRole): Promise<{ previous: RegisteredRole | null }>;
  deleteRole(tenantId: string, name: string): Promise<RegisteredRole | null>;
  getTokenEndpoint(tenantId: string, name: string): Promise<AllowedTokenEndpoint | null>;
  putTokenEndpoint(e: AllowedTokenEndpoint): Promise<void>;
  deleteTokenEndpoint(tenantId: string, name: string): Promise<AllowedTokenEndpoint | null>;
}

export interface RegistryAdminDeps {
  readonly registry: RegistryAdminPort;
  readonly audit: AuditSink;
  readonly clock: Clock;
  /** Plain-http loopback endpoints may be allowlisted (local runtime and tests only). */
  readonly allowLoopback: boolean;
}

export interface RegistryCaller {
  readonly tenantId: string;
  readonly subject: string;
  readonly correlationId: string;
  readonly traceId: string;
}

function checkName(name: string): string {
  if (!REGISTRY_NAME.test(name))
    throw new ValidationError('name must be lowercase letters, digits and dashes (at most 63)');
  return name;
}

async function audited(
  deps: RegistryAdminDeps,
  caller: RegistryCaller,
  eventType: string,
  target: string,
  payload: Record<string, unknown>,
  undo: () => Promise<unknown>,
): Promise<void> {
  try {
    await deps.audit.record({
      tenant_id: caller.tenantId,
      event_type: eventType,
      action: eventType,
      target,
      occurred_at: deps.clock.now().toISOString(),
      correlation_id: caller.correlationId,
      trace_id: caller.traceId,
      payload: { ...payload, actor: caller.subject },
    });
  } catch (e) {
    await undo().catch(() => undefined);
    throw e;
  }
}

/** Registers (or re-points) a role; a role ARN belongs to one tenant (ConflictError otherwise). */
export async function registerRole(
  deps: RegistryAdminDeps,
  caller: RegistryCaller,
  rawName: string,
  body: { role_arn: string; description?: string },
): Promise<RegisteredRole> {
  const name = checkName(rawName);
  const role: RegisteredRole = {
    tenant_id: caller.tenantId,
    name,
    role_arn: body.role_arn,
    ...(body.description ? { description: body.description } : {}),
    updated_at: deps.clock.now().toISOString(),
    updated_by: caller.subject,
  };
  const { previous } = await deps.registry.putRole(role);
  await audited(
    deps,
    caller,
    'identity.credential_role.registered',
    name,
    { name, role_arn: role.role_arn, previous_role_arn: previous?.role_arn ?? null },
    () => (previous ? deps.registry.putRole(previous) : deps.registry.deleteRole(caller.tenantId, name)),
  );
  return role;
}

export async function removeRole(deps: RegistryAdminDeps, caller: RegistryCaller, rawName: string): Promise<void> {
  const name = checkName(rawName);
  // Look before deleting: a 404 sends no write at all.
  if (!(await deps.registry.roleByName(caller.tenantId, name))) throw new NotFoundError('no such role');
  const previous = await deps.registry.deleteRole(caller.tenantId, name);
  if (!previous) throw new NotFoundError('no such role');
  await audited(deps, caller, 'identity.credential_role.deleted', name, { name, role_arn: previous.role_arn }, () =>
    deps.registry.putRole(previous),
  );
}

function checkEndpoint(u: string | undefined, allowLoopback: boolean): void {
  if (u === undefined) return;
  if (u.includes('#')) throw new ValidationError('endpoints must not carry a fragment');
  if (!u.startsWith('https://') && !(allowLoopback && /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u))) {
    throw new ValidationError('token and revocation endpoints must be https URLs');
  }
}

/** Allows an OAuth token endpoint (with its RFC 7009 revocation endpoint) for the tenant. */
export async function allowTokenEndpoint(
  deps: RegistryAdminDeps,
  caller: RegistryCaller,
  rawName: string,
  body: { token_endpoint: string; revocation_endpoint?: string },
): Promise<AllowedTokenEndpoint> {
  const name = checkName(rawName);
  checkEndpoint(body.token_endpoint, deps.allowLoopback);
  checkEndpoint(body.revocation_endpoint, deps.allowLoopback);
  const previous = await deps.registry.getTokenEndpoint(caller.tenantId, name);
  const entry: AllowedTokenEndpoint = {
    tenant_id: caller.tenantId,
    name,
    token_endpoint: body.token_endpoint,
    ...(body.revocation_endpoint ? { revocation_endpoint: body.revocation_endpoint } : {}),
    updated_at: deps.clock.now().toISOString(),
    updated_by: caller.subject,
  };
  await deps.registry.putTokenEndpoint(entry);
  await audited(
    deps,
    caller,
    'identity.token_endpoint.allowed',
    name,
    { name, token_endpoint: entry.token_endpoint, revocation_endpoint: entry.revocation_endpoint ?? null },
    () =>
      previous ? deps.registry.putTokenEndpoint(previous) : deps.registry.deleteTokenEndpoint(caller.tenantId, name),
  );
  return entry;
}

export async function removeTokenEndpoint(
  deps: RegistryAdminDeps,
  caller: RegistryCaller,
  rawName: string,
): Promise<void> {
  const name = checkName(rawName);
  // Look before deleting: a 404 sends no write at all.
  if (!(await deps.registry.getTokenEndpoint(caller.tenantId, name))) throw new NotFoundError('no such token endpoint');
  const previous = await deps.registry.deleteTokenEndpoint(caller.tenantId, name);
  if (!previous) throw new NotFoundError('no such token endpoint');
  await audited(
    deps,
    caller,
    'identity.token_endpoint.removed',
    name,
    { name, token_endpoint: previous.token_endpoint },
    () => deps.registry.putTokenEndpoint(previous),
  );
}
