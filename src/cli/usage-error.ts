/** A mistake in what the user typed: main() prints its one-line message and exits 2. */
export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = 'UsageError'; }
}
