/**
 * Churn on the local network: nodes leave and come back, as they do on the internet by the minute.
 * A node that leaves is closed (its old address and port stay in other tables, dead, until they
 * notice); it comes back with the same ID on a new port, knowing the contacts it knew, and pings a
 * few of them so that they learn where it is now. Peers it stored are lost, as a restart loses
 * them, until their announcers come back (the replication of 8 covers a torrent meanwhile).
 */
import type { DhtNode } from '../dht/node.js';
import type { NodeId } from '../wire/id.js';
import type { SeededRandom } from '../net/seeded-random.js';

/** How often churn is applied: each tick replaces the nodes the rate has accumulated. */
const TICK_MS = 1_000;
/** Contacts a returning node pings to say where it is now. */
const HELLOS = 8;

export class Churn {
  /** Nodes replaced so far. */
  count = 0;
  private owed = 0;
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();
  private stopped = false;

  /**
   * Replace `perMinute` of `nodes` each minute (never the first `keep`: the bootstrap nodes), by
   * nodes from `respawn(i, id)`. `nodes` is updated in place.
   */
  constructor(
    private readonly nodes: DhtNode[],
    private readonly perMinute: number,
    private readonly keep: number,
    private readonly random: SeededRandom,
    private readonly respawn: (i: number, id: NodeId) => Promise<DhtNode>,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  private tick(): void {
    this.owed += (this.nodes.length * this.perMinute * TICK_MS) / 60_000;
    while (this.owed >= 1) {
      this.owed -= 1;
      const i = this.keep + this.random.int(this.nodes.length - this.keep);
      this.pending = this.pending.then(() => this.replace(i)).catch(() => {});
    }
  }

  private async replace(i: number): Promise<void> {
    const old = this.nodes[i];
    if (this.stopped || old === undefined || old.isClosed) return;
    const contacts = old.contacts();
    await old.close();
    if (this.stopped) return;
    const fresh = await this.respawn(i, old.id);
    if (this.stopped) { await fresh.close(); return; }
    fresh.addContacts(contacts);
    this.nodes[i] = fresh;
    this.count++;
    for (const c of contacts.slice(0, HELLOS)) void fresh.query(c, 'ping', { id: fresh.id });
  }

  /** Stop replacing nodes; resolves when a replacement under way is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.pending;
  }
}
