import { describe, expect, test } from 'vitest';
import { TOKEN_LENGTH, TOKEN_ROTATE_MS, TokenIssuer } from '../../src/table/token.js';
import { Prng } from '../helpers/prng.js';

const MINUTE = 60_000;

/** A TokenIssuer on a fake clock that the test moves by hand. */
function setup(seed = 1): { issuer: TokenIssuer; advance: (ms: number) => void } {
  let time = 1_000_000;
  const issuer = new TokenIssuer({ now: () => time, random: new Prng(seed).randomSource() });
  return { issuer, advance: (ms) => { time += ms; } };
}

describe('TokenIssuer', () => {
  test('a fresh token is accepted from the IP it was issued to', () => {
    const { issuer } = setup();
    const token = issuer.issue('203.0.113.7');
    expect(token).toBeInstanceOf(Uint8Array);
    expect(token.length).toBe(TOKEN_LENGTH);
    expect(issuer.check(token, '203.0.113.7')).toBe(true);
  });

  test('the same IP gets the same token within one period, so no state per token is needed', () => {
    const { issuer, advance } = setup();
    const first = issuer.issue('203.0.113.7');
    advance(TOKEN_ROTATE_MS - 1);
    expect(issuer.issue('203.0.113.7')).toEqual(first);
  });

  test('still accepted after one rotation (up to ten minutes old, BEP 5)', () => {
    const { issuer, advance } = setup();
    const token = issuer.issue('203.0.113.7');
    advance(TOKEN_ROTATE_MS);
    expect(issuer.issue('203.0.113.7')).not.toEqual(token); // a new secret is in use
    expect(issuer.check(token, '203.0.113.7')).toBe(true);
    advance(TOKEN_ROTATE_MS - 1);
    expect(issuer.check(token, '203.0.113.7')).toBe(true);
  });

  test('rejected after two rotations: expired', () => {
    const { issuer, advance } = setup();
    const token = issuer.issue('203.0.113.7');
    advance(TOKEN_ROTATE_MS);
    expect(issuer.check(token, '203.0.113.7')).toBe(true); // rotation noticed here
    advance(TOKEN_ROTATE_MS);
    expect(issuer.check(token, '203.0.113.7')).toBe(false);
  });

  test('a long jump of the clock renews both secrets at once', () => {
    const { issuer, advance } = setup();
    const token = issuer.issue('203.0.113.7');
    advance(2 * TOKEN_ROTATE_MS + 1); // nobody asked in between: two rotations are due together
    expect(issuer.check(token, '203.0.113.7')).toBe(false);
    const fresh = issuer.issue('203.0.113.7');
    expect(issuer.check(fresh, '203.0.113.7')).toBe(true);
  });

  test('rotation times stay on the grid, so a token never lives past two periods', () => {
    const { issuer, advance } = setup();
    advance(1 * MINUTE);
    const token = issuer.issue('203.0.113.7'); // issued 1 min into the first period
    advance(7 * MINUTE); // rotation noticed late, 3 min into the second period
    expect(issuer.check(token, '203.0.113.7')).toBe(true);
    advance(2 * MINUTE); // 10 min since the first period began: its secret is gone
    expect(issuer.check(token, '203.0.113.7')).toBe(false);
  });

  test('a token is bound to the IP: another IP cannot use it', () => {
    const { issuer } = setup();
    const token = issuer.issue('203.0.113.7');
    expect(issuer.check(token, '203.0.113.8')).toBe(false);
    expect(issuer.check(token, '2001:db8::7')).toBe(false);
  });

  test('forged tokens are rejected, including wrong lengths', () => {
    const { issuer } = setup();
    issuer.issue('203.0.113.7');
    const prng = new Prng(42);
    for (let i = 0; i < 200; i++) {
      expect(issuer.check(prng.bytes(TOKEN_LENGTH), '203.0.113.7')).toBe(false);
    }
    expect(issuer.check(new Uint8Array(0), '203.0.113.7')).toBe(false);
    expect(issuer.check(prng.bytes(20), '203.0.113.7')).toBe(false);
  });

  test('IPv6 addresses work, and spellings of one address share a token', () => {
    const { issuer, advance } = setup();
    const token = issuer.issue('2001:db8::1');
    expect(issuer.check(token, '2001:db8::1')).toBe(true);
    expect(issuer.check(token, '2001:DB8:0:0:0:0:0:1')).toBe(true); // same 16 bytes
    expect(issuer.check(token, '2001:db8::2')).toBe(false);
    advance(TOKEN_ROTATE_MS);
    expect(issuer.check(token, '2001:db8::1')).toBe(true);
  });

  test('two issuers (different secrets) do not accept each other\'s tokens', () => {
    const a = setup(1).issuer;
    const b = setup(2).issuer;
    expect(b.check(a.issue('203.0.113.7'), '203.0.113.7')).toBe(false);
  });

  test('rotateMs is configurable and must be positive', () => {
    let time = 0;
    const issuer = new TokenIssuer({ now: () => time, rotateMs: 1000 });
    const token = issuer.issue('192.0.2.1');
    time = 1999;
    expect(issuer.check(token, '192.0.2.1')).toBe(true);
    time = 2000;
    expect(issuer.check(token, '192.0.2.1')).toBe(false);
    expect(() => new TokenIssuer({ rotateMs: 0 })).toThrow(RangeError);
  });
});
