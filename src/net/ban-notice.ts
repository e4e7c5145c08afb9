/**
 * Who has been told that they are banned. A node that silently ignores a source (source-limiter.ts)
 * leaves its user guessing: to them it looks exactly like a dead node or a broken connection. So
 * the first refused query of a ban gets one KRPC error 202 "rate limited" (BEP 5, "Errors": 202 is
 * the server error code), and the client can name the node that refused it.
 *
 * Once per ban, per querying port: a user who runs the tool again while still banned (a new
 * process, a new port) hears it again, but at most MAX_PORTS_PER_BAN times per ban, so a forged
 * flood from one address can draw only a handful of small errors, each smaller than its query.
 * A new ban starts the count again. Memory is capped like the ban table's.
 *
 * Pure: no timers, no clock.
 */
import { sourceKey } from './source-limiter.js';

/** Querying ports told per ban (a user's reruns); past it, the source hears nothing more. */
export const MAX_PORTS_PER_BAN = 4;

export class BanNotices {
  /** Ports told, by source key, least recently banned first. */
  private readonly told = new Map<string, number[]>();

  constructor(private readonly maxSources = 256) {}

  /** A new ban of `address`'s source: it may be told again. */
  banned(address: string): void {
    const key = sourceKey(address);
    this.told.delete(key);
    this.told.set(key, []);
    if (this.told.size > this.maxSources) {
      const oldest = this.told.keys().next();
      if (!oldest.done) this.told.delete(oldest.value);
    }
  }

  /** Whether a refused packet from this endpoint gets the error: true once per port, per ban. */
  shouldTell(address: string, port: number): boolean {
    const ports = this.told.get(sourceKey(address));
    if (ports === undefined || ports.includes(port) || ports.length >= MAX_PORTS_PER_BAN) return false;
    ports.push(port);
    return true;
  }
}
