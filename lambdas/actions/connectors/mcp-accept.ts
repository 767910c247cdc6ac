/** `POST /v1/connectors/{connector}/tools/{tool}/accept`: an admin accepts an MCP tool's (new) definition hash. */
import { NotFoundError } from '../../shared/errors.js';
import { validate, type ApiRequest } from '../../shared/http.js';
import type { ConnectorConfigStore } from '../core/model.js';
import { z } from 'zod';
import { AcceptToolBody, MCP_CONNECTOR_NAME, MCP_TOOL_NAME, McpConfig } from './mcp.js';

const McpName = z.string().regex(MCP_CONNECTOR_NAME, 'an MCP connector name (ending in "mcp")');

/** `GET /v1/connectors/{connector}/tools/pins`: the accepted definition hashes. */
export async function toolPins(
  req: ApiRequest,
  configs: ConnectorConfigStore,
): Promise<{ status: number; body: unknown }> {
  const name = validate(McpName, req.params.connector, 'connector');
  const current = McpConfig.safeParse((await configs.getConfig(req.auth!.tenantId, name)) ?? {});
  if (!current.success) throw new NotFoundError(`connector "${name}" is not configured as kind mcp`);
  return { status: 200, body: { connector: name, pins: current.data.pins ?? {} } };
}

export async function acceptToolDefinition(
  req: ApiRequest,
  configs: ConnectorConfigStore,
  audited: (req: ApiRequest, eventType: string, target: string) => Promise<void>,
): Promise<{ status: number; body: unknown }> {
  const name = validate(McpName, req.params.connector, 'connector');
  const tool = validate(z.string().regex(MCP_TOOL_NAME, 'an MCP tool name'), req.params.tool, 'tool');
  const body = validate(AcceptToolBody, req.body, 'body');
  const tenantId = req.auth!.tenantId;
  const current = McpConfig.safeParse((await configs.getConfig(tenantId, name)) ?? {});
  if (!current.success) throw new NotFoundError(`connector "${name}" is not configured as kind mcp`);
  const next = { ...current.data, pins: { ...(current.data.pins ?? {}), [tool]: body.definition_hash } };
  await configs.putConfig(tenantId, name, next, new Date().toISOString());
  await audited(req, 'connector.tool.accepted', `${name}/${tool}@sha256:${body.definition_hash}`);
  return { status: 200, body: { connector: name, tool, definition_hash: body.definition_hash } };
}
