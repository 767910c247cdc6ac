/**
 * When a failed delivery is tried again: exponential backoff with "equal jitter" (half the delay
 * fixed, half random, so retries of many deliveries spread out while each still waits at least
 * half its step), capped per step, for as long as the retry window (24 h by default) lasts from
 * the delivery's creation; after that the delivery is dead-lettered.
 */
export interface RetryPolicy {
  /** Delay before the second attempt (ms); each further step doubles it. */
  readonly baseMs: number;
  /** Longest single delay (ms). */
  readonly maxDelayMs: number;
  /** How long after its creation a delivery may still be attempted (ms). */
  readonly windowMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 5_000, maxDelayMs: 2 * 3600_000, windowMs: 24 * 3600_000 };

/**
 * The delay after the `attempts`-th failed attempt (attempts ≥ 1), with `random` in [0, 1).
 * @example backoffMs(DEFAULT_RETRY, 1, 0.5) // 3750: between 2.5 s and 5 s
 */
export function backoffMs(p: RetryPolicy, attempts: number, random: number): number {
  const step = Math.min(p.maxDelayMs, p.baseMs * 2 ** Math.min(40, Math.max(0, attempts - 1)));
  return Math.round(step / 2 + (step / 2) * random);
}

/**
 * When to try again after `attempts` failures, or null when that would fall outside the window
 * (the delivery is then dead-lettered).
 */
export function nextAttemptAt(
  p: RetryPolicy,
  createdAt: Date,
  now: Date,
  attempts: number,
  random: number,
): Date | null {
  const at = new Date(now.getTime() + backoffMs(p, attempts, random));
  return at.getTime() > createdAt.getTime() + p.windowMs ? null : at;
}
