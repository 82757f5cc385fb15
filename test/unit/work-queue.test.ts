import { describe, expect, it } from "vitest";
import { QueueFullError, WorkQueue } from "../../src/work-queue.js";

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("WorkQueue", () => {
  it("never runs more than `concurrency` jobs at once", async () => {
    const queue = new WorkQueue({ concurrency: 2, queueLimit: 100 });
    let running = 0;
    let peak = 0;
    const jobs = Array.from({ length: 20 }, (_, i) =>
      queue.run(async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 1 + (i % 3)));
        running -= 1;
        return i;
      }),
    );
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(2);
    expect(queue.pending).toBe(0);
  });

  it("refuses at once with QueueFullError past the queue, and accepts again once there is room", async () => {
    const queue = new WorkQueue({ concurrency: 1, queueLimit: 2 });
    const g = gate();
    const started: number[] = [];
    const run = (n: number): Promise<number> =>
      queue.run(async () => {
        started.push(n);
        await g.promise;
        return n;
      });
    const accepted = [run(1), run(2), run(3)];
    await settle();
    expect(started).toEqual([1]);
    expect(queue.pending).toBe(3);
    await expect(run(4)).rejects.toBeInstanceOf(QueueFullError);
    await expect(run(5)).rejects.toThrow(/too many/);
    expect(started).toEqual([1]);
    g.open();
    expect(await Promise.all(accepted)).toEqual([1, 2, 3]);
    expect(started).toEqual([1, 2, 3]);
    expect(queue.pending).toBe(0);
    expect(await run(6)).toBe(6);
  });

  it("frees the slot when a job fails, so a failure never wedges the queue", async () => {
    const queue = new WorkQueue({ concurrency: 1, queueLimit: 1 });
    const failing = queue.run(async () => {
      throw new Error("boom");
    });
    const next = queue.run(async () => "ok");
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe("ok");
    expect(queue.pending).toBe(0);
    const sync = queue.run(() => {
      throw new Error("sync boom");
    });
    await expect(sync).rejects.toThrow("sync boom");
    expect(await queue.run(async () => 1)).toBe(1);
    expect(queue.pending).toBe(0);
  });

  it("with no queue at all refuses anything beyond the running jobs", async () => {
    const queue = new WorkQueue({ concurrency: 1, queueLimit: 0 });
    const g = gate();
    const first = queue.run(() => g.promise);
    await expect(queue.run(async () => 2)).rejects.toBeInstanceOf(QueueFullError);
    g.open();
    await first;
  });

  it("runs waiting jobs in arrival order", async () => {
    const queue = new WorkQueue({ concurrency: 1, queueLimit: 10 });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4, 5].map((n) => queue.run(async () => void order.push(n))));
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });
});
