/**
 * Our external address, as the nodes we talk to see it (BEP 42, "Node ID restriction").
 *
 * A node behind a NAT does not know the address others see, yet BEP 42 ties its ID to that
 * address. Every reply carries it (the top-level `ip` field), so each responder casts a vote.
 * One responder could lie, so votes are counted per voter IP (a voter that changes its mind moves
 * its one vote), and an address wins only with several voters behind it and a clear majority, as
 * libtorrent's `ip_voter` does. The table of voters is bounded: the oldest vote is dropped first.
 *
 * Pure: no clock, no I/O.
 */
import { normalizeAddress } from '../wire/compact.js';

export interface AddressVotesOptions {
  /** Distinct voters an address needs before it is believed. Default 5. */
  minVoters?: number;
  /** Voters remembered; the oldest vote is forgotten first. Default 64. */
  maxVoters?: number;
}

export class AddressVotes {
  private readonly minVoters: number;
  private readonly maxVoters: number;
  /** Voter IP -> the address it says we have. A Map keeps insertion order: oldest first. */
  private readonly votes = new Map<string, string>();
  private leader: string | undefined;

  constructor(options: AddressVotesOptions = {}) {
    this.minVoters = options.minVoters ?? 5;
    this.maxVoters = options.maxVoters ?? 64;
  }

  /** The address a majority of at least minVoters voters agrees on, if any. */
  get address(): string | undefined {
    return this.leader;
  }

  /**
   * Count `voter`'s report that we are at `address`. Returns true when this vote changed the
   * winning address (the caller may then want an ID that is secure for it).
   */
  vote(voter: string, address: string): boolean {
    let key: string;
    let said: string;
    try {
      key = normalizeAddress(voter);
      said = normalizeAddress(address);
    } catch {
      return false; // not an address: no vote
    }
    this.votes.delete(key);
    if (this.votes.size >= this.maxVoters) this.votes.delete(this.votes.keys().next().value!);
    this.votes.set(key, said);
    const before = this.leader;
    this.leader = this.count();
    return this.leader !== before;
  }

  private count(): string | undefined {
    const tally = new Map<string, number>();
    for (const address of this.votes.values()) tally.set(address, (tally.get(address) ?? 0) + 1);
    let best: string | undefined;
    let most = 0;
    for (const [address, count] of tally) if (count > most) { best = address; most = count; }
    // A new winner needs enough voters and more than half of all votes; a split vote keeps the old one.
    return most >= this.minVoters && most * 2 > this.votes.size ? best : this.leader;
  }
}
