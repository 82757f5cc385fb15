/**
 * The keys a running server verifies with: the current key (signs; `secret.key` or, with
 * PostgreSQL, the database: see signing-keys.ts) and retired keys still in their grace.
 * `refresh()` picks up a `key rotate` made by the CLI.
 */
import { generateSecret, type DataDir } from "./data-dir.js";
import { FileSigningKeys, type SigningKeys } from "./signing-keys.js";
import { keyId } from "./token.js";
import type { Store } from "./store/store.js";

/** A data directory means its `secret.key`. */
function signingKeysOf(source: DataDir | SigningKeys, store: Store): SigningKeys {
  return "keyPath" in source ? new FileSigningKeys(source, store) : source;
}

export class Keyring {
  /** The current key first; a new array whenever the set changes (caches key on its identity). */
  secrets: readonly string[] = [];
  private fileStamp = "";
  private retired: { secret: string; expiresAt: number }[] = [];
  private storeStamp = -1;

  private constructor(
    private readonly keys: SigningKeys,
    private readonly store: Store,
  ) {}

  static async load(source: DataDir | SigningKeys, store: Store, now: number): Promise<Keyring> {
    const keyring = new Keyring(signingKeysOf(source, store), store);
    await keyring.refresh(now);
    return keyring;
  }

  get current(): string {
    return this.secrets[0]!;
  }

  async refresh(now: number): Promise<void> {
    const fileStamp = this.keys.stamp();
    const storeStamp = this.store.changeCounter();
    let current = this.secrets[0];
    if (fileStamp !== this.fileStamp) {
      current = await this.keys.current();
      this.fileStamp = fileStamp;
    }
    if (storeStamp !== this.storeStamp) {
      this.retired = (await this.store.liveRetiredKeys(now)).map((k) => ({ secret: k.secret, expiresAt: k.expiresAt }));
      this.storeStamp = storeStamp;
    }
    const next = [current!, ...this.retired.filter((k) => k.expiresAt > now && k.secret !== current).map((k) => k.secret)];
    if (next.length !== this.secrets.length || next.some((s, i) => s !== this.secrets[i])) this.secrets = next;
  }
}

/** `ssoctl key rotate`: the old key verifies for `graceSeconds` more, the new one signs from now on. */
export async function rotateKey(source: DataDir | SigningKeys, store: Store, graceSeconds: number, now: number): Promise<{ kid: string; previousKid: string }> {
  const keys = signingKeysOf(source, store);
  const previous = await keys.current();
  const next = generateSecret();
  await keys.replace(next, { kid: keyId(previous), secret: previous, retiredAt: now, expiresAt: now + graceSeconds });
  await store.audit({ at: now, event: "key.rotated", detail: { kid: keyId(next), previousKid: keyId(previous), graceSeconds } });
  return { kid: keyId(next), previousKid: keyId(previous) };
}
