/**
 * Per-source rate limiting with a small ban table: the first thing a datagram meets, before a byte
 * of it is decoded.
 *
 * Every DHT node answers strangers, so anyone can make it work and send. BEP 5 sets no limit;
 * libtorrent, the most widespread implementation, ignores a source that sends it more than 5
 * packets a second averaged over 10 seconds, until that source has been quiet for 5 minutes. We do
 * the same with a token bucket per source (5 a second, 50 saved up: a quiet source may send a
 * burst of 50, a busy one 5 a second for ever) and a ban for whoever runs its bucket dry.
 *
 * Memory is what a flood attacks next, so both tables are capped: a flood from a million addresses
 * costs the same few hundred kilobytes as one from a thousand. Past the caps we forget the source
 * heard from longest ago (its bucket has refilled by then anyway) and lift the ban closest to its end.
 *
 * A source is an IPv4 address, or an IPv6 /64: one IPv6 host usually owns a whole /64, so limiting
 * single IPv6 addresses would limit nobody.
 *
 * Pure: no timers, an injected clock. The node consults it through Rpc.setAdmitFilter.
 */
import { ipv6Prefix64 } from '../wire/address.js';
import { familyOf, normalizeAddress } from '../wire/compact.js';
import { TokenBucket } from './rate-limit.js';

export interface SourceLimiterOptions {
  /** Packets per second one source may send, sustained. Default 5 (libtorrent's DHT rate limit). */
  rate?: number;
  /** Packets a quiet source may send at once. Default 50: 5 a second averaged over 10 seconds. */
  burst?: number;
  /**
   * How long an overrunning source is ignored. A packet sent meanwhile restarts the ban only while
   * the source is still over its budget: a ban ends at most banMs after the flood does, whatever an
   * honest host at the same address (whose address a flood may have forged) keeps sending at its
   * normal pace. Default 5 minutes.
   */
  banMs?: number;
  /** Sources tracked at once; past it, the one heard from longest ago is forgotten. Default 2,048. */
  maxSources?: number;
  /** Sources banned at once; past it, the ban closest to its end is lifted. Default 256. */
  maxBans?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /** Called when a source is banned, with the address whose packet overran the budget. */
  onBan?: (address: string) => void;
}

export interface SourceLimiterCounters {
  admitted: number;
  /** Packets refused: the one that emptied a bucket, and every one from a banned source. */
  refused: number;
  bans: number;
  /** Tracked sources forgotten to stay under maxSources. */
  forgotten: number;
  /** Bans lifted early to stay under maxBans. */
  liftedEarly: number;
}

export const SOURCE_LIMIT_DEFAULTS = {
  rate: 5,
  burst: 50,
  banMs: 5 * 60_000,
  maxSources: 2_048,
  maxBans: 256,
} as const;

export class SourceLimiter {
  readonly counters: SourceLimiterCounters = { admitted: 0, refused: 0, bans: 0, forgotten: 0, liftedEarly: 0 };
  private readonly rate: number;
  private readonly burst: number;
  private readonly banMs: number;
  private readonly maxSources: number;
  private readonly maxBans: number;
  private readonly now: () => number;
  private readonly onBan: (address: string) => void;
  /** Buckets by source key, least recently heard first (a Map iterates in insertion order). */
  private readonly buckets = new Map<string, TokenBucket>();
  /** Ban end times by source key, the soonest to end first (every ban lasts banMs from its last packet). */
  private readonly bans = new Map<string, number>();

  constructor(options: SourceLimiterOptions = {}) {
    this.rate = options.rate ?? SOURCE_LIMIT_DEFAULTS.rate;
    this.burst = options.burst ?? SOURCE_LIMIT_DEFAULTS.burst;
    this.banMs = options.banMs ?? SOURCE_LIMIT_DEFAULTS.banMs;
    this.maxSources = options.maxSources ?? SOURCE_LIMIT_DEFAULTS.maxSources;
    this.maxBans = options.maxBans ?? SOURCE_LIMIT_DEFAULTS.maxBans;
    if (!(this.rate > 0) || !(this.burst >= 1)) throw new RangeError(`rate must be > 0 and burst >= 1 (got ${this.rate}, ${this.burst})`);
    if (!(this.banMs >= 0)) throw new RangeError(`banMs must be >= 0 (got ${this.banMs})`);
    if (!(this.maxSources >= 1) || !(this.maxBans >= 1)) throw new RangeError('maxSources and maxBans must be >= 1');
    this.now = options.now ?? Date.now;
    this.onBan = options.onBan ?? (() => {});
  }

  /** Whether to read one datagram from `address`. Counts it against the source's budget. */
  admit(address: string): boolean {
    const key = sourceKey(address);
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      // A newcomer starts no fuller than the source it pushes out (but with a second's worth at
      // least): otherwise a flood cycling through more addresses than we track would get a fresh
      // burst for each one on every cycle.
      const forgotten = this.buckets.size >= this.maxSources ? this.forgetOldestSource(now) : this.burst;
      bucket = new TokenBucket(this.rate, this.burst, now, Math.max(forgotten, Math.min(this.burst, Math.max(1, this.rate))));
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket); // the most recently heard source goes last
    if (this.isBannedKey(key, now)) {
      // Still flooding (its budget is empty): the ban starts over, and ends last of all now. A
      // packet within the budget is refused too, but does not prolong the ban (see banMs).
      if (!bucket.take(now)) {
        this.bans.delete(key);
        this.bans.set(key, now + this.banMs);
      }
      this.counters.refused++;
      return false;
    }
    if (bucket.take(now)) {
      this.counters.admitted++;
      return true;
    }
    this.ban(key, now);
    this.counters.refused++;
    this.onBan(address);
    return false;
  }

  /** Whether packets from `address` are being ignored right now. */
  isBanned(address: string): boolean {
    return this.isBannedKey(sourceKey(address), this.now());
  }

  /** Sources with a bucket. At most maxSources. */
  get trackedCount(): number {
    return this.buckets.size;
  }

  /** Bans in the table, including any that ended but were not looked at since. At most maxBans. */
  get banCount(): number {
    return this.bans.size;
  }

  private isBannedKey(key: string, now: number): boolean {
    const until = this.bans.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.bans.delete(key);
    return false;
  }

  private ban(key: string, now: number): void {
    this.counters.bans++;
    if (this.bans.size >= this.maxBans) {
      const soonest = this.bans.keys().next();
      if (!soonest.done) {
        this.bans.delete(soonest.value);
        this.counters.liftedEarly++;
      }
    }
    this.bans.set(key, now + this.banMs);
  }

  /** Forget the source heard from longest ago; returns the tokens its bucket held. */
  private forgetOldestSource(now: number): number {
    const oldest = this.buckets.entries().next();
    if (oldest.done === true) return this.burst;
    const [key, bucket] = oldest.value;
    this.buckets.delete(key);
    this.counters.forgotten++;
    return bucket.level(now);
  }
}

/** What one "source" is: an IPv4 address, or the /64 an IPv6 address is in (mapped IPv4 counts as IPv4). */
export function sourceKey(address: string): string {
  if (familyOf(address) === 4) return normalizeAddress(address);
  return ipv6Prefix64(address);
}
