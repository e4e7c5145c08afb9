/**
 * Why a bounded run (a lookup, a crawl) stops: its time ran out, or its caller aborted it. Both
 * end the run the same way, but its report names which, so the two sources are watched in one
 * place and the first to fire gives the reason.
 *
 * Not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`, for two reasons:
 * - AbortSignal.timeout cannot be cleared when the run ends first, and runs on Node's own clock, so
 *   tests with fake timers cannot drive it; a plain setTimeout can be both.
 * - AbortSignal.any keeps every signal it makes in a list held by each source, and a long-lived
 *   source never lets go of that list (Node issues 55351 and 64476): a crawl hands its one signal to
 *   every walk, and a batch scrape the CLI's to every lookup. Measured on Node 20.20.2, about 100
 *   bytes a call that never came back. A listener removed by `dispose` costs nothing once the run is over.
 */
export type StopReason = 'timeout' | 'aborted';

export interface StopSources {
  /** Time allowed, in ms; undefined: no limit (only the signal stops the run). */
  timeoutMs: number | undefined;
  /** The caller's signal. */
  signal?: AbortSignal | undefined;
  /** Let the process exit while only this timer is left (a library lookup must not hold it open). */
  unref?: boolean;
}

/**
 * Call `onStop` once, with the first reason to come: at once if the signal is already aborted.
 * Returns `dispose`, which clears the timer and the listener (call it when the run ends, stopped or not).
 */
export function watchStop(sources: StopSources, onStop: (reason: StopReason) => void): () => void {
  const { timeoutMs, signal } = sources;
  let fired = false;
  const fire = (reason: StopReason): void => {
    if (fired) return;
    fired = true;
    dispose();
    onStop(reason);
  };
  const onAbort = (): void => fire('aborted');
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => fire('timeout'), timeoutMs);
  if (sources.unref === true) timer?.unref();
  signal?.addEventListener('abort', onAbort, { once: true });
  function dispose(): void {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted === true) fire('aborted');
  return dispose;
}
