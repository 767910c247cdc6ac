import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A file under test/fixtures/ (golden data kept as files, CONVENTIONS.md 10). */
export function fixture(path: string): string {
  return readFileSync(fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url)), 'utf8');
}

/**
 * The integration brief's Okta access-review policy (ARX YAML): every Okta user and group
 * operation classified, deactivation held for a human in `#access-reviews`, deletion forbidden.
 */
export const ACCESS_REVIEW_POLICY = fixture('policies/okta-access-review.yaml');

/** The same policy reduced to `users:read*` (low) and `users:deactivate` (high). */
export const ACCESS_REVIEW_SHORT = fixture('policies/okta-access-review-short.yaml');

/** The short form with its approvals routed to `#access-reviews`. */
export const ACCESS_REVIEW_SHORT_SLACK = `${ACCESS_REVIEW_SHORT}  hitl_channel: "#access-reviews"\n`;
