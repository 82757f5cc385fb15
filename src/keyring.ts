/**
 * The keys a running server verifies with: the current key (signs; `secret.key`, or with
 * PostgreSQL a row of the database: see signing-keys.ts) and retired keys still in their
 * grace. `refresh()`, polled, picks up a `key rotate` made by the CLI;
 * `signingKey()` and `latest()` look at the key (file) at once, for the moments that
 * cannot wait for the poll: signing a sign-in, and a token under a key not seen yet.
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
  private rereading: Promise<void> | null = null;

  private constructor(
    private readonly keys: SigningKeys,
    private readonly store: Store,
  ) {}

  static async load(source: DataDir | SigningKeys, store: Store, now: number): Promise<Keyring> {
    const keyring = new Keyring(signingKeysOf(source, store), store);
    await keyring.refresh(now);
    return keyring;
  }

  /** The signing key as of the last look; `signingKey()` to sign with. */
  get current(): string {
    return this.secrets[0]!;
  }

  /**
   * The key to sign with now: one stat of the key file (cheap next to the password check
   * before a sign-in), so a sign-in that starts after `key rotate` returned uses the new key.
   */
  async signingKey(now: number): Promise<string> {
    return (await this.latest(now))[0]!;
  }

  /**
   * The verifying keys after a look at the key file (one stat; reread only when it changed).
   * For a token naming a key not known yet, so one signed right after a rotation verifies at once.
   */
  async latest(now: number): Promise<readonly string[]> {
    try {
      if (this.keyFileStamp() !== this.fileStamp) {
        // Requests that all notice the new file at once share one reread.
        this.rereading ??= this.refresh(now).finally(() => (this.rereading = null));
        await this.rereading;
      }
    } catch {
      // An unreadable key file keeps the keys last read, as between polls; the poll reports it.
    }
    return this.secrets;
  }

  async refresh(now: number): Promise<void> {
    const fileStamp = this.keyFileStamp();
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

  /** Changes whenever `key rotate` replaces the key (the file's inode, or the database's change counter). */
  private keyFileStamp(): string {
    return this.keys.stamp();
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
