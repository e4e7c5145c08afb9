/**
 * Bootstrap names and address families (BEP 32: the IPv4 and IPv6 DHTs are apart). A name that
 * resolves only in the other family than the socket's is named as such, not as "no internet"
 * (issue 13, item 12). The name lookup is a table here, as /etc/hosts would be.
 */
import { describe, expect, it } from 'vitest';
import { namesOnlyInOtherFamily, otherFamilyNamesMessage, resolveAsTheyCome, resolveEndpoints, type NameLookup } from '../../src/cli/bootstrap-nodes.js';

const HOSTS: Record<string, { 4: string[]; 6: string[] }> = {
  'only6.test': { 4: [], 6: ['::1'] },
  'only4.test': { 4: ['127.0.0.1'], 6: [] },
  'both.test': { 4: ['127.0.0.2'], 6: ['::1'] },
};
const table: NameLookup = async (host, family) => {
  const entry = HOSTS[host];
  if (entry === undefined || entry[family].length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return entry[family];
};
const never: NameLookup = () => new Promise<string[]>(() => {});

describe('bootstrap names and address families', () => {
  it('resolves names to the addresses of our family only', async () => {
    const list = [{ host: 'only6.test', port: 1 }, { host: 'both.test', port: 2 }, { host: '127.0.0.9', port: 3 }, { host: '::9', port: 4 }];
    expect(await resolveEndpoints(list, 4, 1_000, table)).toEqual([{ address: '127.0.0.2', port: 2 }, { address: '127.0.0.9', port: 3 }]);
    expect(await resolveEndpoints(list, 6, 1_000, table)).toEqual([{ address: '::1', port: 1 }, { address: '::1', port: 2 }, { address: '::9', port: 4 }]);
  });

  it('names the names that resolve only in the other family, and no other', async () => {
    const list = [{ host: 'only6.test', port: 1 }, { host: 'both.test', port: 2 }, { host: 'nowhere.test', port: 3 }, { host: '::9', port: 4 }];
    expect(await namesOnlyInOtherFamily(list, 4, 1_000, table)).toEqual([{ hostPort: { host: 'only6.test', port: 1 }, family: 6, addresses: ['::1'] }]);
    expect(await namesOnlyInOtherFamily([{ host: 'only4.test', port: 5 }], 6, 1_000, table)).toEqual([{ hostPort: { host: 'only4.test', port: 5 }, family: 4, addresses: ['127.0.0.1'] }]);
    expect(await namesOnlyInOtherFamily([{ host: 'nowhere.test', port: 3 }], 4, 1_000, table)).toEqual([]);
  });

  it('a name that does not answer in time is no address of any family', async () => {
    expect(await namesOnlyInOtherFamily([{ host: 'slow.test', port: 1 }], 4, 20, never)).toEqual([]);
    expect(await resolveEndpoints([{ host: 'slow.test', port: 1 }], 4, 20, never)).toEqual([]);
  });

  it('as they come: IP literals at once, without waiting for a name that is slow to resolve', async () => {
    const held = new Map<string, (addresses: string[]) => void>();
    const slow: NameLookup = (host) => new Promise<string[]>((resolve) => { held.set(host, resolve); });
    const list = [{ host: 'router.test', port: 1 }, { host: '127.0.0.9', port: 3 }, { host: '::9', port: 4 }];
    const { now, later } = await resolveAsTheyCome(list, 4, false, 1_000, slow);
    // router.test has not resolved: its address is one of `later`, still to come.
    expect(now).toEqual([{ address: '127.0.0.9', port: 3 }]);
    expect(later).toHaveLength(1);
    held.get('router.test')!(['127.0.0.5']);
    expect(await later[0]).toEqual([{ address: '127.0.0.5', port: 1 }]);
  });

  it('as they come, with saved contacts to start from: no name is waited for', async () => {
    const slow: NameLookup = () => new Promise<string[]>(() => {});
    const { now, later } = await resolveAsTheyCome([{ host: 'router.test', port: 1 }], 4, true, 1_000, slow);
    expect(now).toEqual([]);
    expect(later).toHaveLength(1);
  });

  it('as they come, with nothing known at once: waits for the first name with an address, and leaves the rest to come', async () => {
    const held = new Map<string, (addresses: string[]) => void>();
    const slow: NameLookup = (host) => (host === 'gone.test'
      ? Promise.reject(new Error('getaddrinfo ENOTFOUND gone.test'))
      : new Promise<string[]>((resolve) => { held.set(host, resolve); }));
    const list = [{ host: 'gone.test', port: 1 }, { host: 'slow.test', port: 2 }, { host: 'quick.test', port: 3 }];
    let opened = false;
    const streaming = resolveAsTheyCome(list, 4, false, 1_000, slow).then((r) => { opened = true; return r; });
    await new Promise((resolve) => setImmediate(resolve));
    // A name that fails is no reason to start: nothing is known yet.
    expect(opened).toBe(false);
    held.get('quick.test')!(['127.0.0.3']);
    const { now, later } = await streaming;
    expect(now).toEqual([{ address: '127.0.0.3', port: 3 }]);
    expect(later).toHaveLength(1);
    held.get('slow.test')!(['127.0.0.2']);
    expect(await later[0]).toEqual([{ address: '127.0.0.2', port: 2 }]);
    // When no name resolves, `now` is empty, and only then.
    expect(await resolveAsTheyCome([{ host: 'gone.test', port: 1 }, { host: 'slow.test', port: 2 }], 4, false, 20, (host) => (host === 'gone.test' ? slow(host, 4) : never(host, 4))))
      .toEqual({ now: [], later: [] });
  });

  it('says the families differ, names the addresses, and what to bind instead', async () => {
    const names = await namesOnlyInOtherFamily([{ host: 'only6.test', port: 6881 }], 4, 1_000, table);
    expect(otherFamilyNamesMessage('--bootstrap', names, 4, '--bind 127.0.0.1')).toBe(
      '--bootstrap only6.test:6881 has only IPv6 addresses (::1) but the socket is IPv4 (--bind 127.0.0.1): ' +
      'the families differ; use --bind :: (or an IPv6 address of ours) for IPv6 nodes');
    const four = await namesOnlyInOtherFamily([{ host: 'only4.test', port: 1 }], 6, 1_000, table);
    expect(otherFamilyNamesMessage('--bootstrap', four, 6, '-6')).toMatch(/only IPv4 addresses \(127\.0\.0\.1\) but the socket is IPv6 \(-6\): the families differ; use --bind 0\.0\.0\.0/);
  });
});
