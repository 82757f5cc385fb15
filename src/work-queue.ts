/**
 * Runs at most `concurrency` jobs at once and holds at most `queueLimit` more;
 * past that, `run` rejects at once with QueueFullError, so memory stays bounded.
 */
export class QueueFullError extends Error {
  constructor() {
    super("too many requests are waiting");
    this.name = "QueueFullError";
  }
}

export class WorkQueue {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limits: { concurrency: number; queueLimit: number }) {}

  get pending(): number {
    return this.active + this.waiting.length;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queueLimit) throw new QueueFullError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.active -= 1;
      else next();
    }
  }
}
