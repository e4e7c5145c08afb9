/**
 * Private networks for clients that refuse loopback (transmission's DHT, jech/dht, drops every
 * datagram from 127.0.0.0/8): two network namespaces the test creates, joined by one veth pair,
 * with 10.x addresses and no default route, so nothing in them can reach any other network.
 *
 *   lab namespace: veth 10.78.0.1/24, and RANGE (e.g. 10.77.0.0/16) routed to its own `lo` as
 *                  local addresses, so our local network binds any address of RANGE there
 *   client namespace: veth 10.78.0.2/24, a route to RANGE through 10.78.0.1, nothing else
 *
 * Everything is removed by destroy(), which also copes with a half-built lab (it removes what
 * exists), and kills whatever is still running inside the namespaces (only what this test started
 * there can be in them). Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';

export const LAB_VETH_ADDRESS = '10.78.0.1';
export const CLIENT_ADDRESS = '10.78.0.2';
const PREFIX = 'dhtscrape-it';

function ip(args: readonly string[]): { ok: boolean; out: string } {
  const run = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: run.status === 0, out: `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? run.error.message : ''}`.trim() };
}

function mustIp(args: readonly string[]): void {
  const run = ip(args);
  if (!run.ok) throw new Error(`ip ${args.join(' ')}: ${run.out}`);
}

/** Why network namespaces cannot be made here, or undefined when they can (tried for real). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: creating network namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)';
  const version = ip(['-V']);
  if (!version.ok) return `iproute2's ip does not run: ${version.out}`;
  const probe = `${PREFIX}-probe-${process.pid}`;
  const added = ip(['netns', 'add', probe]);
  ip(['netns', 'del', probe]);
  return added.ok ? undefined : `ip netns add failed: ${added.out}`;
}

/** Namespaces left by an earlier run of this test that was killed before its cleanup (its pid is gone). */
function reapStale(): void {
  for (const line of ip(['netns', 'list']).out.split('\n')) {
    const match = new RegExp(`^(${PREFIX}-(\\d+)-\\S+)`).exec(line);
    if (match === null) continue;
    const pid = Number(match[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    removeNamespace(match[1]!);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kill what still runs in the namespace (only our own test's processes can be there), then delete it. */
function removeNamespace(name: string): void {
  for (const pid of ip(['netns', 'pids', name]).out.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  ip(['netns', 'del', name]);
}

export class NamespaceLab {
  private constructor(readonly lab: string, readonly client: string, readonly range: string) {}

  /**
   * Build the two namespaces and the veth between them. On failure, removes what it built and
   * throws. `range` is the CIDR our local network lives in (inside the lab namespace).
   */
  static create(range: string): NamespaceLab {
    reapStale();
    const tag = `${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    const lab = new NamespaceLab(`${PREFIX}-${tag}-lab`, `${PREFIX}-${tag}-cli`, range);
    try {
      lab.build(tag);
      return lab;
    } catch (error) {
      lab.destroy();
      throw error;
    }
  }

  private build(tag: string): void {
    const vethLab = `dl${tag.replace('-', '')}`.slice(0, 15);
    const vethClient = `dc${tag.replace('-', '')}`.slice(0, 15);
    mustIp(['netns', 'add', this.lab]);
    mustIp(['netns', 'add', this.client]);
    // Both ends are created directly inside their namespaces: the host's own links never change.
    mustIp(['link', 'add', vethLab, 'netns', this.lab, 'type', 'veth', 'peer', 'name', vethClient, 'netns', this.client]);
    for (const [ns, dev, address] of [[this.lab, vethLab, LAB_VETH_ADDRESS], [this.client, vethClient, CLIENT_ADDRESS]] as const) {
      mustIp(['-n', ns, 'link', 'set', 'lo', 'up']);
      mustIp(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', dev]);
      mustIp(['-n', ns, 'link', 'set', dev, 'up']);
    }
    // The whole range is local to the lab namespace: any of its addresses can be bound there.
    mustIp(['-n', this.lab, 'route', 'add', 'local', this.range, 'dev', 'lo', 'table', 'local']);
    // The client reaches the range through the veth, and nothing else (no default route).
    mustIp(['-n', this.client, 'route', 'add', this.range, 'via', LAB_VETH_ADDRESS]);
  }

  /** `command args` run inside namespace `ns` (ip netns exec execs it: the child's pid is the command's). */
  spawn(ns: string, command: string, args: readonly string[], options: { cwd?: string } = {}): ChildProcessWithoutNullStreams {
    return spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  }

  /** The prefix that runs a command inside `ns` (for helpers that spawn processes themselves). */
  exec(ns: string): string[] {
    return ['ip', 'netns', 'exec', ns];
  }

  /** Which routes the client namespace has: the test asserts it has no way out. */
  clientRoutes(): string {
    return ip(['-n', this.client, 'route', 'show', 'table', 'all']).out;
  }

  /** Remove both namespaces (with the veth and anything left running in them). Safe to call twice. */
  destroy(): void {
    removeNamespace(this.client);
    removeNamespace(this.lab);
  }

  /** Whether any of this lab's namespaces still exists. */
  exists(): boolean {
    const list = ip(['netns', 'list']).out;
    return list.includes(this.lab) || list.includes(this.client);
  }
}
