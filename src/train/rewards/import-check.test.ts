// The source check for `import` that runs before any reward worker starts (js.ts): the spellings a script
// allows between `import` and its parenthesis, HTML-like comments included, are all refused with the
// line and column, in Node's sandbox as in the browser's (e2e/reward-sandbox.spec.ts), and the word
// stays usable as a property name or key.
import { describe, expect, it } from 'vitest';
import { importInSource, jsReward } from './js';

describe('import in a reward source', () => {
  it('finds every spelling that can open a dynamic import', () => {
    expect(importInSource("x;\n  import('node:fs')")).toEqual({ line: 2, column: 3 });
    expect(importInSource("import<!-- hidden\n('node:fs')")).toEqual({ line: 1, column: 1 });
    expect(importInSource("a;\nimport\n--> hidden\n('node:fs')")).toEqual({ line: 2, column: 1 });
    expect(importInSource("import/* */('node:fs')")).toEqual({ line: 1, column: 1 });
    expect(importInSource("import // c\n('node:fs')")).toEqual({ line: 1, column: 1 });
    expect(importInSource('x.import(1); ({ import: 1 }); "import x"; imports(1)')).toBeNull();
  });

  it('refuses an import hidden behind an HTML-like comment in Node, naming the line', async () => {
    const fn = jsReward("// probe\nfunction reward() {\n  import<!-- hidden\n('node:fs'); return 1;\n}\n", {
      name: 'evil.js',
      timeoutMs: 2000,
    });
    try {
      await expect(fn([{ prompt: 'p', completion: 'c' }])).rejects.toThrow(
        'evil.js:3:3: import is not available to a reward (no module can be loaded)',
      );
    } finally {
      fn.dispose();
    }
  });
});
