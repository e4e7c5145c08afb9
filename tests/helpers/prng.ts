/**
 * A small seeded PRNG so property, round-trip and fuzz tests are reproducible: a failure message
 * prints the seed, and the same seed replays the same cases. The generator is the library's own
 * (SeededRandom, mulberry32), with two conveniences for tests.
 */
import { SeededRandom } from '../../src/net/seeded-random.js';

export class Prng extends SeededRandom {
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** A random-bytes function with the shape the library's injectable `random` options take. */
  randomSource(): (size: number) => Uint8Array {
    return (size) => this.bytes(size);
  }
}
