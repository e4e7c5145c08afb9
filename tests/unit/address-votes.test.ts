/** BEP 42: how the `ip` each responder reports becomes the address we believe is ours. */
import { describe, expect, it } from 'vitest';
import { AddressVotes } from '../../src/table/address-votes.js';

describe('AddressVotes', () => {
  it('believes an address once enough distinct voters name it', () => {
    const votes = new AddressVotes({ minVoters: 3 });
    expect(votes.vote('198.51.100.1', '203.0.113.5')).toBe(false);
    expect(votes.vote('198.51.100.2', '203.0.113.5')).toBe(false);
    expect(votes.address).toBeUndefined();
    expect(votes.vote('198.51.100.3', '203.0.113.5')).toBe(true);
    expect(votes.address).toBe('203.0.113.5');
  });

  it('one voter is one vote, however often it answers', () => {
    const votes = new AddressVotes({ minVoters: 3 });
    for (let i = 0; i < 10; i++) votes.vote('198.51.100.1', '203.0.113.5');
    expect(votes.address).toBeUndefined();
  });

  it('a minority of liars changes nothing; a clear new majority does', () => {
    const votes = new AddressVotes({ minVoters: 3 });
    for (let i = 1; i <= 4; i++) votes.vote(`198.51.100.${i}`, '203.0.113.5');
    for (let i = 1; i <= 3; i++) votes.vote(`192.0.2.${i}`, '203.0.113.66');
    expect(votes.address).toBe('203.0.113.5');
    // Our NAT moved: the honest voters now all see us elsewhere.
    for (let i = 1; i <= 4; i++) votes.vote(`198.51.100.${i}`, '203.0.113.66');
    expect(votes.address).toBe('203.0.113.66');
  });

  it('forgets the oldest voters beyond its bound, and ignores what is not an address', () => {
    const votes = new AddressVotes({ minVoters: 2, maxVoters: 2 });
    votes.vote('198.51.100.1', '203.0.113.5');
    votes.vote('198.51.100.2', 'not-an-address');
    votes.vote('198.51.100.3', '203.0.113.5');
    votes.vote('198.51.100.4', '203.0.113.5');
    expect(votes.address).toBe('203.0.113.5');
  });

  it('reads addresses in any spelling as one', () => {
    const votes = new AddressVotes({ minVoters: 2 });
    votes.vote('198.51.100.1', '2001:DB8::5');
    votes.vote('::ffff:198.51.100.2', '2001:db8:0::5');
    expect(votes.address).toBe('2001:db8::5');
  });
});
