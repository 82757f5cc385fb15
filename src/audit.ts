/** The audit trail: one JSON line per event on stdout, and a row in the database. Never a secret. */
import type { Store } from "./store/store.js";

export interface AuditFields {
  username?: string | undefined;
  [key: string]: unknown;
}

export class AuditLog {
  constructor(
    private readonly store: Store,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
  ) {}

  async record(event: string, fields: AuditFields, now: number): Promise<void> {
    const { username, ...detail } = fields;
    this.write(JSON.stringify({ time: new Date(now * 1000).toISOString(), event, user: username, ...detail }) + "\n");
    try {
      await this.store.audit({ at: now, event, username, detail });
    } catch (error) {
      this.write(JSON.stringify({ time: new Date().toISOString(), event: "audit.write_failed", error: (error as Error).message }) + "\n");
    }
  }
}
