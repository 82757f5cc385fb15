/** Which peers may speak for a client through X-Forwarded-* headers. */
import { BlockList, isIP } from "node:net";

export const LOOPBACK_CIDRS = ["127.0.0.0/8", "::1/128"];

/** Answers remembered per address text; cleared when full (X-Forwarded-For hops are client-chosen). */
const REMEMBERED_ADDRESSES = 1024;

export class TrustedProxies {
  private list = new BlockList();
  // BlockList.check builds a SocketAddress for each call; a proxy's address repeats on every request.
  private readonly answers = new Map<string, boolean>();

  /** Throws a TypeError naming the bad entry; checked at start-up. */
  constructor(cidrs: readonly string[]) {
    this.list = TrustedProxies.blockList(cidrs);
  }

  /** A new list in place (SIGHUP): every holder of this object sees it at once; throws like the constructor, changing nothing. */
  replace(cidrs: readonly string[]): void {
    this.list = TrustedProxies.blockList(cidrs);
    this.answers.clear();
  }

  private static blockList(cidrs: readonly string[]): BlockList {
    const list = new BlockList();
    for (const cidr of cidrs) {
      const [address, prefixText] = cidr.split("/");
      const family = isIP(address ?? "");
      if (family === 0) throw new TypeError(`--trusted-proxy "${cidr}" is not an IP address or CIDR range`);
      const max = family === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) {
        throw new TypeError(`--trusted-proxy "${cidr}" has an invalid prefix length`);
      }
      list.addSubnet(address!, prefix, family === 4 ? "ipv4" : "ipv6");
    }
    return list;
  }

  isTrusted(address: string | undefined): boolean {
    if (address === undefined) return false;
    let trusted = this.answers.get(address);
    if (trusted === undefined) {
      trusted = this.check(address);
      if (this.answers.size >= REMEMBERED_ADDRESSES) this.answers.clear();
      this.answers.set(address, trusted);
    }
    return trusted;
  }

  private check(address: string): boolean {
    const plain = unmapIPv4(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 4 ? "ipv4" : "ipv6");
  }

  /**
   * The client's address: the socket's, or behind trusted proxies the right-most
   * X-Forwarded-For entry that is not itself a trusted proxy.
   */
  clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peer = unmapIPv4(socketAddress ?? "");
    if (!this.isTrusted(peer) || forwardedFor === undefined) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map((hop) => unmapIPv4(hop.trim()));
    for (let i = hops.length - 1; i >= 0; i -= 1) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return peer;
      if (!this.isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  }
}

function unmapIPv4(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
