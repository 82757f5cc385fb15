/** The key a client address is throttled under: IPv4 as it is, IPv6 by its network prefix. */
import { describe, expect, it } from "vitest";
import { addressKey } from "../../src/throttle.js";

describe("addressKey", () => {
  it.each([
    ["203.0.113.5", 64, "203.0.113.5"],
    ["::ffff:203.0.113.5", 64, "203.0.113.5"],
    ["2001:db8:1:2::1", 64, "2001:db8:1:2::/64"],
    ["2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"],
    ["2001:0DB8:0001:0002:ffff::", 64, "2001:db8:1:2::/64"],
    ["2001:db8:1:2ff::1", 56, "2001:db8:1:200::/56"],
    ["2001:db8:1:2::1", 48, "2001:db8:1::/48"],
    ["2001:db8::1", 128, "2001:db8:0:0:0:0:0:1"],
    ["::1", 64, "0:0:0:0::/64"],
    ["fe80::1%eth0", 64, "fe80:0:0:0::/64"],
    ["not an address", 64, "not an address"],
    ["1:2:3:4:5:6:7:8:9", 64, "1:2:3:4:5:6:7:8:9"],
    ["1::2::3", 64, "1::2::3"],
  ])("counts %s under /%i as %s", (addr, prefix, key) => {
    expect(addressKey(addr, prefix)).toBe(key);
  });

  it("puts every address of one /64 under one key, and the next /64 under another", () => {
    expect(new Set(Array.from({ length: 50 }, (_, i) => addressKey(`2001:db8:1:2::${((i * 7919) % 0xffff).toString(16)}`)))).toEqual(new Set(["2001:db8:1:2::/64"]));
    expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
  });
});
