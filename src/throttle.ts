/** Sign-in throttling policy: pure decisions over the counts the store keeps. */
import type { ThrottleRule, ThrottleState } from "./store/store.js";

export interface ThrottlePolicy {
  user: ThrottleRule;
  addr: ThrottleRule;
  /** IPv6 clients are counted by this prefix (default 64: one home connection holds a whole /64); 128 counts each address. */
  ipv6Prefix?: number;
}

export const DEFAULT_IPV6_PREFIX = 64;

/**
 * The key a client address is counted under: an IPv4 address (also IPv4-mapped IPv6) as it is, an
 * IPv6 address by its first `prefix` bits (`2001:db8:1:2::/64`), so a client cannot spread guesses
 * over the addresses of its own network. Anything else is counted as given.
 */
export function addressKey(addr: string, prefix: number = DEFAULT_IPV6_PREFIX): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(addr);
  if (mapped !== null) return mapped[1]!;
  const groups = expandIpv6(addr);
  if (groups === null || prefix >= 128) return groups === null ? addr : groups.map((g) => g.toString(16)).join(":");
  const kept = groups.map((group, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 0 ? 0 : group & (0xffff << (16 - bits)) & 0xffff;
  });
  return `${kept.slice(0, Math.ceil(prefix / 16)).map((g) => g.toString(16)).join(":")}::/${prefix}`;
}

/** The eight 16-bit groups of an IPv6 address, or null when `addr` is not one. */
function expandIpv6(addr: string): number[] | null {
  const text = addr.replace(/%.*$/, "");
  if (!text.includes(":") || !/^[0-9a-f:.]+$/i.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const piece of part.split(":")) {
      if (/^\d{1,3}(\.\d{1,3}){3}$/.test(piece)) {
        const [a, b, c, d] = piece.split(".").map(Number) as [number, number, number, number];
        if ([a, b, c, d].some((n) => n > 255)) return null;
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  return [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
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
