// Waiting with a deadline. The timer is cleared whichever side wins: a bare
// Promise.race([work, new Promise((r) => setTimeout(r, ms))]) leaves the timer pending, and a
// pending timer keeps the whole process alive until it fires.

export type Settled<T> = { settled: true; value: T } | { settled: false };

/**
 * Waits for `promise` at most `ms` milliseconds: `{ settled: true, value }` when it resolved
 * in time, `{ settled: false }` when the time ran out (the promise itself keeps running), and
 * its rejection when it rejected in time.
 */
export async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
  });
  try {
    return await Promise.race([
      promise.then((value): Settled<T> => ({ settled: true, value })),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
