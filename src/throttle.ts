/** Sign-in throttling policy: pure decisions over the counts the store keeps. */
import type { ThrottleRule, ThrottleState } from "./store/store.js";

export interface ThrottlePolicy {
  user: ThrottleRule;
  addr: ThrottleRule;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  user: { limit: 5, windowSeconds: 600, lockSeconds: 600 },
  addr: { limit: 20, windowSeconds: 600, lockSeconds: 600 },
};

/** Seconds until the lock ends, or 0 when the key may try now. */
export function lockedFor(state: ThrottleState | null, now: number): number {
  if (state === null || state.lockedUntil <= now) return 0;
  return state.lockedUntil - now;
}
