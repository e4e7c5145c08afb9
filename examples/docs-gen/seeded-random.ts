/**
 * Reproducible randomness for the docs. The library draws node IDs, transaction IDs and token
 * secrets from node:crypto's randomBytes, and not all of those can be injected through options.
 * For the length of one generation run, randomBytes is swapped for a seeded generator; Node's
 * `syncBuiltinESMExports` makes every `import { randomBytes } from 'node:crypto'` see the swap.
 * Same seed, same bytes, same docs.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

type RandomBytes = (size: number) => Buffer;
const crypto = createRequire(import.meta.url)('node:crypto') as { randomBytes: RandomBytes };

/** mulberry32: a tiny, well-mixed 32-bit generator; plenty for example data, never for secrets. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Run `body` with node:crypto's randomBytes replaced by a generator seeded with `seed`. */
export async function withSeededRandom<T>(seed: number, body: () => Promise<T>): Promise<T> {
  const next = generator(seed);
  const original = crypto.randomBytes;
  const seeded: RandomBytes = (size) => {
    const out = Buffer.alloc(size);
    for (let i = 0; i < size; i++) out[i] = next() & 0xff;
    return out;
  };
  crypto.randomBytes = seeded;
  syncBuiltinESMExports();
  try {
    return await body();
  } finally {
    crypto.randomBytes = original;
    syncBuiltinESMExports();
  }
}
