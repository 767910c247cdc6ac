/**
 * The one place that imports cedar-wasm. cedar-wasm is deterministic, pure computation (no I/O),
 * so cores may use it; everything else imports these helpers.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

export { cedar };
export type EntityJson = cedar.EntityJson;
export type EntityUidJson = cedar.EntityUidJson;
export type CedarValue = cedar.CedarValueJson;
export type PolicyJson = cedar.PolicyJson;
export type DetailedError = cedar.DetailedError;

/** A plain `{type, id}` from either JSON entity-reference form. */
export function uidOf(u: EntityUidJson): { type: string; id: string } {
  return '__entity' in u ? u.__entity : u;
}

/** Stable map key of an entity uid, e.g. `Agent::"a1"`. */
export function uidKey(u: EntityUidJson | { type: string; id: string }): string {
  const x =
    '__entity' in u ? (u as { __entity: { type: string; id: string } }).__entity : (u as { type: string; id: string });
  return `${x.type}::${JSON.stringify(x.id)}`;
}

/** Flattens Cedar's detailed errors to readable messages (with help when given). */
export function messages(errors: readonly DetailedError[]): string[] {
  return errors.map((e) => (e.help ? `${e.message} (${e.help})` : e.message));
}
