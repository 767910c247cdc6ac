/**
 * The audit table (ARX_AUDIT_TABLE, pk/sk, GSIs gsi1 and gsi2), shared by the audit adapters
 * (one a port: events, chain, destinations, packages):
 *   event          pk T#<t>#EV            sk <event_id>   gsi1 T#<t>#PENDING (until sealed), gsi2 T#<t>#AGENT#<agent>
 *   evidence tag   pk T#<t>#CTRL#<fw:id>  sk <event_id>   (written in the event's transaction)
 *   dedupe marker  pk T#<t>#DEDUPE        sk <source key>  (written in the event's transaction)
 *   chain head     pk T#<t>#CHAIN         sk HEAD | LEASE
 *   block summary  pk T#<t>#BLOCK         sk <height, 12 digits>
 *   destinations   pk T#<t>#DEST          sk <destination_id>;  queue pk T#<t>#DESTQ sk <height>#<destination_id>
 *   tenant index   pk AUDIT#TENANTS       sk <tenant>
 *   packages       pk T#<t>#PKG           sk <package_id>
 */
export const auditKeys = {
  events: (t: string) => `T#${t}#EV`,
  pending: (t: string) => `T#${t}#PENDING`,
  agent: (t: string, a: string) => `T#${t}#AGENT#${a}`,
  control: (t: string, tag: string) => `T#${t}#CTRL#${tag}`,
  dedupe: (t: string) => `T#${t}#DEDUPE`,
  chain: (t: string) => `T#${t}#CHAIN`,
  blocks: (t: string) => `T#${t}#BLOCK`,
  destinations: (t: string) => `T#${t}#DEST`,
  destinationQueue: (t: string) => `T#${t}#DESTQ`,
  packages: (t: string) => `T#${t}#PKG`,
  TENANTS: 'AUDIT#TENANTS',
} as const;

/** Block heights as sort keys: 12 digits, so they sort as numbers. */
export const heightSk = (h: number) => String(h).padStart(12, '0');

/** The item without its table keys. */
export function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}
