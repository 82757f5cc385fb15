/**
 * Where the current signing key lives. SQLite installations keep it in the data
 * directory's `secret.key`; with PostgreSQL it is a row of the database, so that
 * every login server signs and verifies with the same key and `key rotate` reaches
 * them all. The keyring reads the key through this and nothing else.
 */
import * as fs from "node:fs";
import { readSecret, replacePrivateFile, type DataDir } from "./data-dir.js";
import { SsoctlError } from "./errors.js";
import type { RetiredKey, Store } from "./store/store.js";

export interface SigningKeys {
  /** Where the key is, for messages ("the key in /srv/sso/secret.key"). */
  readonly origin: string;
  /** Cheap and synchronous; changes whenever the current key may have changed. */
  stamp(): string;
  current(): Promise<string>;
  /** Makes `next` the current key and keeps `retired` (the previous one) verifying until its grace ends. */
  replace(next: string, retired: RetiredKey): Promise<void>;
}

/** The key in `secret.key`, replaced atomically; retired keys in the store. */
export class FileSigningKeys implements SigningKeys {
  readonly origin: string;

  constructor(
    private readonly dataDir: DataDir,
    private readonly store: Store,
  ) {
    this.origin = `the key in ${dataDir.keyPath}`;
  }

  stamp(): string {
    const stat = fs.statSync(this.dataDir.keyPath);
    return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
  }

  async current(): Promise<string> {
    return readSecret(this.dataDir);
  }

  async replace(next: string, retired: RetiredKey): Promise<void> {
    await this.store.addRetiredKey(retired);
    replacePrivateFile(this.dataDir.keyPath, next + "\n");
  }
}

/** What a store that holds the signing key itself offers (the PostgreSQL store). */
export interface SigningKeyTable {
  signingKey(): Promise<string | null>;
  /** Sets the first key; false when there is one already (nothing is ever overwritten). */
  createSigningKey(secret: string, now: number): Promise<boolean>;
  /** In one transaction: `next` becomes current, `retired` is kept; false when the current key is no longer `retired.secret`. */
  replaceSigningKey(next: string, retired: RetiredKey): Promise<boolean>;
  changeCounter(): number;
}

/** The key in the database: every server sees a rotation at its next refresh. */
export class DatabaseSigningKeys implements SigningKeys {
  readonly origin = "the key in the database";

  constructor(private readonly table: SigningKeyTable) {}

  stamp(): string {
    return String(this.table.changeCounter());
  }

  async current(): Promise<string> {
    const secret = await this.table.signingKey();
    if (secret === null) throw new SsoctlError("the database has no signing key; run `ssoctl init --database …` first");
    return secret;
  }

  async replace(next: string, retired: RetiredKey): Promise<void> {
    if (!(await this.table.replaceSigningKey(next, retired))) {
      throw new SsoctlError("the signing key changed while rotating it (another `key rotate` at the same time?); try again");
    }
  }
}
