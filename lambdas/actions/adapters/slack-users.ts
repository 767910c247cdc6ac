import { channelSecretName, type SecretStore } from '../core/model.js';

/** Slack `users.info` → the user's e-mail (needs the users:read.email scope); null when unknown. */
export async function slackUserEmail(secrets: SecretStore, tenantId: string, userId: string, apiBase: string, f: typeof fetch = fetch): Promise<string | null> {
  const token = (await secrets.get(channelSecretName(tenantId, 'slack')))?.bot_token;
  if (!token) return null;
  const res = await f(`${apiBase.replace(/\/$/, '')}/users.info?user=${encodeURIComponent(userId)}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json().catch(() => ({}))) as { ok?: boolean; user?: { profile?: { email?: string } } };
  return body.ok && body.user?.profile?.email ? body.user.profile.email : null;
}
