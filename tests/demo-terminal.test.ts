/**
 * `npm run demo -- --step` at a real terminal: a pseudo-terminal (util-linux `script`) whose
 * keyboard is our pipe. Ctrl+C is the byte 0x03 typed at it, as a user types it: at the prompt
 * (raw mode) readline reads it as a key; during a step (cooked mode) the terminal turns it into
 * SIGINT for the whole foreground process group. Either way the tour stops with one line, no
 * stack trace (issue 13, item 15: an AbortError stack was printed), and exit code 130.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileExamples, type CompiledExamples } from './helpers/compile-examples.js';

const CTRL_C = '\x03';

interface Terminal {
  /** Resolves once the terminal has shown `text` (after what was already awaited). */
  shows(text: string, timeoutMs?: number): Promise<void>;
  type(keys: string): void;
  exit: Promise<number | null>;
  screen(): string;
}

/** Run `argv` under a pseudo-terminal of 80 columns, typing into it through `script`'s stdin. */
function atTerminal(argv: readonly string[]): Terminal & { child: ChildProcessWithoutNullStreams } {
  const command = `stty cols 80 rows 24; exec ${argv.map((a) => `'${a}'`).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' } });
  let screen = '';
  let seen = 0;
  const wakers = new Set<() => void>();
  const onData = (d: Buffer): void => {
    screen += d.toString();
    for (const wake of wakers) wake();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killer = setTimeout(() => child.kill('SIGKILL'), 150_000);
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => {
    clearTimeout(killer);
    for (const wake of wakers) wake();
    resolve(code);
  }));
  let exited = false;
  void exit.then(() => { exited = true; });
  return {
    child,
    exit,
    screen: () => screen,
    type: (keys) => { child.stdin.write(keys); },
    shows: (text, timeoutMs = 120_000) => new Promise((resolve, reject) => {
      const check = (): void => {
        const at = screen.indexOf(text, seen);
        if (at >= 0) { seen = at + text.length; finish(); resolve(); } else if (exited) { finish(); reject(new Error(`exited before showing ${JSON.stringify(text)}:\n${screen}`)); }
      };
      const timer = setTimeout(() => { finish(); reject(new Error(`no ${JSON.stringify(text)} within ${timeoutMs} ms:\n${screen}`)); }, timeoutMs);
      const finish = (): void => { clearTimeout(timer); wakers.delete(check); };
      wakers.add(check);
      check();
    }),
  };
}

/** What a clean stop must not show: a stack trace, an AbortError, npm's own error lines. */
function expectNoTrace(screen: string): void {
  expect(screen).not.toContain('AbortError');
  expect(screen).not.toMatch(/^\s+at .+:\d+:\d+\)?\s*$/m);
  expect(screen).not.toMatch(/npm (ERR|error)/);
}

describe('npm run demo -- --step at a terminal, stopped with Ctrl+C', () => {
  let examples: CompiledExamples;
  let demo: string[];
  beforeAll(async () => {
    examples = await compileExamples();
    // A small network: the tour is the same, its start quicker.
    demo = [process.execPath, examples.script('demo/main'), '--step', '--nodes', '200'];
  }, 120_000);
  afterAll(async () => { await examples?.remove(); });

  it('at the step prompt (Enter goes on; Ctrl+C stops): one line, no stack, exit 130', async () => {
    const terminal = atTerminal(demo);
    try {
      await terminal.shows('[Enter] next step');
      terminal.type('\r');
      await terminal.shows('Step 2/6');
      await terminal.shows('[Enter] next step');
      terminal.type(CTRL_C);
      expect(await terminal.exit).toBe(130);
      await terminal.shows('Stopped.');
      expect(terminal.screen()).not.toContain('Step 3/6');
      expectNoTrace(terminal.screen());
    } finally {
      terminal.child.kill('SIGKILL');
    }
  }, 150_000);

  it('during a step (the terminal sends SIGINT): "demo: stopped", no stack, exit 130', async () => {
    const terminal = atTerminal(demo);
    try {
      await terminal.shows('Starting 200 ');
      terminal.type(CTRL_C);
      expect(await terminal.exit).toBe(130);
      await terminal.shows('demo: stopped');
      expect(terminal.screen()).not.toContain('Step 2/6');
      expectNoTrace(terminal.screen());
    } finally {
      terminal.child.kill('SIGKILL');
    }
  }, 150_000);
});
