/**
 * The keys a running server verifies with: `secret.key` (signs) and retired keys
 * still in their grace. `refresh()` picks up a `key rotate` made by the CLI.
 */
import * as fs from "node:fs";
import { readSecret, replacePrivateFile, generateSecret, type DataDir } from "./data-dir.js";
import { keyId } from "./token.js";
import type { Store } from "./store/store.js";

export class Keyring {
  /** The current key first; a new array whenever the set changes (caches key on its identity). */
  secrets: readonly string[] = [];
  private fileStamp = "";
  private retired: { secret: string; expiresAt: number }[] = [];
  private storeStamp = -1;

  private constructor(
    private readonly dataDir: DataDir,
    private readonly store: Store,
  ) {}

  static async load(dataDir: DataDir, store: Store, now: number): Promise<Keyring> {
    const keyring = new Keyring(dataDir, store);
    await keyring.refresh(now);
    return keyring;
  }

  get current(): string {
    return this.secrets[0]!;
  }

  async refresh(now: number): Promise<void> {
    const stat = fs.statSync(this.dataDir.keyPath);
    const fileStamp = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    const storeStamp = this.store.changeCounter();
    let current = this.secrets[0];
    if (fileStamp !== this.fileStamp) {
      current = readSecret(this.dataDir);
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
export async function rotateKey(dataDir: DataDir, store: Store, graceSeconds: number, now: number): Promise<{ kid: string; previousKid: string }> {
  const previous = readSecret(dataDir);
  const next = generateSecret();
  await store.addRetiredKey({ kid: keyId(previous), secret: previous, retiredAt: now, expiresAt: now + graceSeconds });
  replacePrivateFile(dataDir.keyPath, next + "\n");
  await store.audit({ at: now, event: "key.rotated", detail: { kid: keyId(next), previousKid: keyId(previous), graceSeconds } });
  return { kid: keyId(next), previousKid: keyId(previous) };
}
