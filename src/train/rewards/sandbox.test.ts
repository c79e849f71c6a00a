// The Node reward sandbox: each way out a reward file might try (require, process, child_process, module,
// the Function constructor behind any object, dynamic import, fetch, globalThis, the stack-trace hook,
// buffers outside the heap limit) fails, and the failure is reported as what it is, at the user's line; an
// allocation loop is stopped by the memory limit, process.exit is a ReferenceError rather than a time-out,
// and a syntax error names its line.
import { describe, expect, it } from 'vitest';
import { jsReward } from './js';

const item = [{ prompt: 'p', completion: 'c' }];

/** Runs `body` as the inside of reward(): the promise of its score or its error. */
async function attempt(body: string, opts: { timeoutMs?: number; memoryMb?: number } = {}): Promise<string> {
  const r = jsReward(`function reward() {\n${body}\n}`, { name: 'evil.js', timeoutMs: 4000, ...opts });
  try {
    return String(await r(item));
  } catch (e) {
    return (e as Error).message;
  } finally {
    r.dispose();
  }
}

describe('the Node reward sandbox', () => {
  it('has no require, process, module or fetch, and says so at the line', async () => {
    expect(await attempt("return require('fs').readFileSync('/etc/passwd').length;")).toBe(
      'evil.js:2:1: require is not defined (item 0)',
    );
    expect(await attempt("  require('child_process').execSync('touch /tmp/pwned'); return 1;")).toMatch(
      /^evil\.js:2:3: require is not defined/,
    );
    expect(await attempt('return process.pid;')).toBe('evil.js:2:1: process is not defined (item 0)');
    expect(
      await attempt(
        'return typeof module + typeof fetch + typeof globalThis.process + typeof Buffer === "undefinedundefinedundefinedundefined" ? 7 : 0;',
      ),
    ).toBe('7');
  });

  it('process.exit is an error at its line, not a time-out', async () => {
    expect(await attempt('process.exit(3);', { timeoutMs: 30000 })).toBe(
      'evil.js:2:1: process is not defined (item 0)',
    );
  });

  it('the Function constructor reachable from any object compiles nothing', async () => {
    const tries = [
      "return this.constructor.constructor('return process')().pid;",
      "return ({}).constructor.constructor('return process')().pid;",
      "return (() => 0).constructor('return 1')();",
      "return eval('1 + 1');",
      "return Object.getPrototypeOf(async function () {}).constructor('return 1');",
    ];
    for (const t of tries)
      expect(await attempt(t)).toMatch(
        /Code generation from strings disallowed|Cannot read properties of undefined/,
      );
  });

  it('errors, stack frames and the stack-trace hook give nothing of the host', async () => {
    const probe = (e: string) =>
      `try { ${e} } catch (err) { try { err.constructor.constructor('return process')(); return 666; } catch (x) { return 1; } }`;
    expect(await attempt(probe('null.f();'))).toBe('1');
    expect(await attempt(probe('(function f() { f(); })();'))).toBe('1');
    expect(await attempt(probe("JSON.parse('{');"))).toBe('1');
    // The hook is locked: assigning it changes nothing, and stacks stay strings.
    const hook = 'Error.prepareStackTrace = (e, s) => s; const s = new Error().stack;';
    expect(await attempt(`${hook} return typeof s === "string" ? 1 : 0;`)).toBe('1');
  });

  it('import is refused at its line, even written oddly', async () => {
    expect(await attempt("return import('node:fs').then(() => 1);")).toBe(
      'evil.js:2:8: import is not available to a reward (no module can be loaded)',
    );
    expect(await attempt("return import\n ('node:child_process');")).toMatch(
      /^evil\.js:2:8: import is not available/,
    );
    // A property named import is fine.
    expect(await attempt('const o = { import: 2 }; return o.import;')).toBe('2');
  });

  it('buffers and WebAssembly are gone; an allocation loop meets the memory limit', async () => {
    expect(await attempt('return new Float64Array(1e9).length;')).toMatch(/Float64Array is not defined/);
    expect(
      await attempt(
        'return typeof WebAssembly === "undefined" && typeof ArrayBuffer === "undefined" ? 1 : 0;',
      ),
    ).toBe('1');
    expect(
      await attempt('const a = []; for (;;) a.push(new Array(1e6).fill(1.5));', {
        memoryMb: 64,
        timeoutMs: 60000,
      }),
    ).toBe('evil.js: the reward function ran out of its 64 MB memory limit; it was stopped');
  });

  it('an endless promise chain and an endless loop stop at the time limit', async () => {
    expect(await attempt('for (;;) {}', { timeoutMs: 300 })).toBe(
      'evil.js: the reward function ran past 300 ms; it was stopped',
    );
    expect(
      await attempt('const f = () => Promise.resolve().then(f); f(); return 1;', { timeoutMs: 300 }),
    ).toBe('evil.js: the reward function ran past 300 ms; it was stopped');
  });

  it('a syntax error names its line and column; a throw at the top level names its line', async () => {
    const s = jsReward('// header\nfunction reward() {\n  return 1 +;\n}', { name: 'syn.js' });
    await expect(s(item)).rejects.toThrow(/^syn\.js:3:\d+: Unexpected token ';'$/);
    s.dispose();
    const t = jsReward('const a = 1;\nthrow new Error("top");\nfunction reward() { return 1; }', {
      name: 'top.js',
    });
    await expect(t(item)).rejects.toThrow(/^top\.js:2:7: top$/);
    t.dispose();
  });

  it('still scores: items in, numbers out, several batches', async () => {
    const r = jsReward(
      'const w = (s) => s.split(" ").length;\nfunction reward({ completion, reference }) {\n  return w(completion) + (reference ? 1 : 0);\n}',
    );
    expect(
      await r([
        { prompt: '', completion: 'a b c', reference: 'x' },
        { prompt: '', completion: 'a' },
      ]),
    ).toEqual([4, 1]);
    expect(await r([{ prompt: '', completion: 'a b' }])).toEqual([2]);
    r.dispose();
  });
});
