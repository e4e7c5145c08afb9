/**
 * Announce tokens: the "write permission" a node hands out in get_peers replies (BEP 5, "get_peers"
 * and "announce_peer").
 *
 * Why tokens exist: announce_peer stores "IP:port is in this swarm". Without a token anyone could
 * spoof a UDP source address and sign up other hosts for torrents. Requiring a token that only the
 * real owner of the IP could have received (it came back in our reply to that IP) stops that.
 *
 * BEP 5 leaves the format to us, since only we ever check our own tokens, and describes the
 * reference scheme: "the SHA1 hash of the IP address concatenated onto a secret that changes every
 * five minutes and tokens up to ten minutes old are accepted". We do exactly that, keeping two
 * secrets (current and previous), so no per-token state is stored: a token is checked by
 * recomputing it.
 *
 * The token binds the IP only, not the port (as libtorrent does): a peer behind a NAT may query from
 * one UDP port and announce from another.
 *
 * Pure: no timers. Secrets rotate lazily, when issue() or check() notices the clock has passed the
 * next rotation time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeAddress } from '../wire/compact.js';

/** Bytes in a token: 8 of SHA-1's 20 are plenty to make guessing hopeless, and keep replies small. */
export const TOKEN_LENGTH = 8;
/** BEP 5: the secret "changes every five minutes". */
export const TOKEN_ROTATE_MS = 5 * 60 * 1000;
/** Secret size: 128 random bits, far beyond what an attacker could brute-force in five minutes. */
const SECRET_LENGTH = 16;

export interface TokenIssuerOptions {
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /** Secure random source. Default node:crypto randomBytes. */
  random?: (size: number) => Uint8Array;
  /** How often the secret changes. BEP 5: 5 minutes, so tokens live 5 to 10 minutes. */
  rotateMs?: number;
}

export class TokenIssuer {
  private readonly now: () => number;
  private readonly random: (size: number) => Uint8Array;
  private readonly rotateMs: number;
  /** The secret tokens are issued with now. */
  private current: Uint8Array;
  /** The secret of the period before: its tokens are still accepted (up to ten minutes old). */
  private previous: Uint8Array;
  /** When `current` becomes `previous`. Kept on a fixed grid (start + n * rotateMs), see rotate(). */
  private nextRotation: number;

  constructor(options: TokenIssuerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.rotateMs = options.rotateMs ?? TOKEN_ROTATE_MS;
    if (!(this.rotateMs > 0)) throw new RangeError(`rotateMs must be > 0, got ${this.rotateMs}`);
    this.current = this.freshSecret();
    // No token was ever issued with this one; it only fills the slot until the first rotation.
    this.previous = this.freshSecret();
    this.nextRotation = this.now() + this.rotateMs;
  }

  /** The token to put in a get_peers reply to `address` (an IPv4 or IPv6 address, no port). */
  issue(address: string): Uint8Array {
    this.rotate();
    return tokenFor(this.current, encodeAddress(address));
  }

  /**
   * Whether `token`, received in an announce_peer from `address`, is one we issued to that IP
   * within the last one or two rotation periods. Like issue(), throws TypeError for a non-address.
   */
  check(token: Uint8Array, address: string): boolean {
    // Length is not secret (all our tokens have the same one); timingSafeEqual needs equal lengths.
    if (token.length !== TOKEN_LENGTH) return false;
    this.rotate();
    const ip = encodeAddress(address);
    // Compute both comparisons, so the time taken does not reveal which secret matched.
    const current = timingSafeEqual(token, tokenFor(this.current, ip));
    const previous = timingSafeEqual(token, tokenFor(this.previous, ip));
    return current || previous;
  }

  /**
   * Catch up with the clock. One period passed: current becomes previous and a new current is
   * drawn. Two or more passed (the process slept, or nothing asked for a while): even the secret
   * that would now be "previous" is too old, so both are renewed and every earlier token is dead.
   *
   * Rotation times stay on the grid start + n * rotateMs rather than restarting at the moment we
   * happened to notice, so a token is never accepted for longer than 2 * rotateMs (BEP 5: ten
   * minutes).
   */
  private rotate(): void {
    const now = this.now();
    if (now < this.nextRotation) return;
    const periods = Math.floor((now - this.nextRotation) / this.rotateMs) + 1;
    this.previous = periods === 1 ? this.current : this.freshSecret();
    this.current = this.freshSecret();
    this.nextRotation += periods * this.rotateMs;
  }

  private freshSecret(): Uint8Array {
    return this.random(SECRET_LENGTH).slice(0, SECRET_LENGTH);
  }
}

/** BEP 5's reference token: SHA-1(secret || IP bytes), truncated to TOKEN_LENGTH. */
function tokenFor(secret: Uint8Array, ip: Uint8Array): Uint8Array {
  const digest = createHash('sha1').update(secret).update(ip).digest();
  return new Uint8Array(digest.subarray(0, TOKEN_LENGTH));
}
