/** Where an approval is routed, from the policy's `hitl_channel`. */
export type Route =
  | { kind: 'slack'; channel?: string }
  | { kind: 'email'; to?: string[] }
  | { kind: 'webhook' }
  | { kind: 'api' };

/** `#access-reviews` → Slack; `email` / `email:a@b.c` → SES; `webhook` → signed webhook; `api` → none. Space-separated for several. */
export function parseChannels(channel: string | undefined): Route[] {
  if (!channel) return [{ kind: 'api' }];
  return channel
    .split(/\s+/)
    .filter(Boolean)
    .map((c): Route => {
      if (c.startsWith('#')) return { kind: 'slack', channel: c };
      if (c.startsWith('slack:')) return { kind: 'slack', channel: c.slice(6) };
      if (c === 'slack') return { kind: 'slack' };
      if (c === 'email') return { kind: 'email' };
      if (c.startsWith('email:') || c.startsWith('mailto:'))
        return { kind: 'email', to: c.slice(c.indexOf(':') + 1).split(',') };
      if (c === 'webhook') return { kind: 'webhook' };
      return { kind: 'api' };
    });
}

/**
 * Whether a decision arriving `via` a channel may decide this approval (F4): the API (bearer token
 * with the approver role) always may; Slack, e-mail and webhook only when the approval was routed there.
 */
export function routedTo(channel: string | undefined, via: 'api' | 'slack' | 'email' | 'webhook'): boolean {
  return via === 'api' || parseChannels(channel).some((r) => r.kind === via);
}
