// The browser reward sandbox against escapes, in real Chromium: each probe is a reward file that tries to
// reach the network, storage, other contexts or more code from inside the page's reward worker
// (src/train/rewards/sandbox-web.ts, started by js.ts's webWorkerFactory). Every probe must end in an
// error sentence naming the file and line, and no probe may make a request: each aims at
// /escape-probe/<name>, and the page's requests (workers' included) are watched for that path. A normal
// reward must still score, so the lockdown is not simply breaking everything.
import { expect, test } from '@playwright/test';

interface Probe {
  name: string;
  /** The body of `reward()`; it returns 1 only if the escape got through without throwing. */
  body: string;
  /** What the error sentence must say. */
  message: RegExp;
}

const PROBES: Probe[] = [
  { name: 'fetch', body: "fetch('/escape-probe/fetch'); return 1;", message: /fetch is not a function/ },
  {
    name: 'self-fetch',
    body: "self.fetch('/escape-probe/self-fetch'); return 1;",
    message: /self\.fetch is not a function/,
  },
  {
    name: 'proto-fetch',
    body: "Object.getPrototypeOf(Object.getPrototypeOf(self)).fetch.call(self, '/escape-probe/proto-fetch'); return 1;",
    message: /Cannot read properties of undefined \(reading 'call'\)/,
  },
  {
    name: 'importScripts',
    body: "importScripts('/escape-probe/importScripts'); return 1;",
    message: /importScripts is not a function/,
  },
  {
    name: 'xhr',
    body: "const x = new XMLHttpRequest(); x.open('GET', '/escape-probe/xhr'); x.send(); return 1;",
    message: /XMLHttpRequest is not a constructor/,
  },
  {
    name: 'websocket',
    body: "new WebSocket('ws://127.0.0.1:1/escape-probe/websocket'); return 1;",
    message: /WebSocket is not a constructor/,
  },
  {
    name: 'eventsource',
    body: "new EventSource('/escape-probe/eventsource'); return 1;",
    message: /EventSource is not a constructor/,
  },
  {
    name: 'broadcast',
    body: "new BroadcastChannel('peft').postMessage('x'); return 1;",
    message: /BroadcastChannel is not a constructor/,
  },
  {
    name: 'webtransport',
    body: "new WebTransport('https://127.0.0.1:1/escape-probe/webtransport'); return 1;",
    message: /WebTransport is not a constructor/,
  },
  {
    name: 'worker',
    body: "new Worker('/escape-probe/worker'); return 1;",
    message: /Worker is not a constructor/,
  },
  {
    name: 'indexeddb',
    body: "indexedDB.open('peft-playground'); return 1;",
    message: /Cannot read properties of undefined \(reading 'open'\)/,
  },
  { name: 'caches', body: "caches.open('x'); return 1;", message: /Cannot read properties of undefined/ },
  {
    name: 'navigator',
    body: 'navigator.storage.estimate(); return 1;',
    message: /Cannot read properties of undefined \(reading 'storage'\)/,
  },
  { name: 'postMessage', body: "postMessage('x'); return 1;", message: /postMessage is not a function/ },
  {
    name: 'eval',
    body: "return eval('fetch') ? 1 : 1;",
    message: /eval is not a function/,
  },
  {
    name: 'function-constructor',
    body: "return (function () {}).constructor('return 1')();",
    message: /is not a function/,
  },
  {
    name: 'async-function-constructor',
    body: "(async function () {}).constructor('return 1'); return 1;",
    message: /is not a function/,
  },
  {
    name: 'generator-constructor',
    body: "(function* () {}).constructor('yield 1'); return 1;",
    message: /is not a function/,
  },
  {
    name: 'string-timer',
    body: 'setTimeout("fetch(\'/escape-probe/string-timer\')", 0); return 1;',
    message: /setTimeout takes a function in a reward/,
  },
  {
    name: 'webassembly',
    body: 'WebAssembly.compile(new Uint8Array(8)); return 1;',
    message: /Cannot read properties of undefined \(reading 'compile'\)/,
  },
  {
    name: 'import',
    body: "import('/escape-probe/import'); return 1;",
    message: /import is not available to a reward/,
  },
  {
    // An HTML-like comment between `import` and its parenthesis (allowed in scripts) must not slip past
    // the source check.
    name: 'import-html-comment',
    body: "import<!-- hidden\n('/escape-probe/import-html-comment'); return 1;",
    message: /import is not available to a reward/,
  },
  {
    // A font loaded from a URL is a request like any other.
    name: 'fontface',
    body: "new FontFace('x', 'url(/escape-probe/fontface)').load(); return 1;",
    message: /FontFace is not a constructor/,
  },
  {
    name: 'fonts',
    body: 'fonts.add(1); return 1;',
    message: /Cannot read properties of undefined \(reading 'add'\)|fonts is not defined/,
  },
];

test('a reward in the page cannot reach the network, storage, other contexts or more code', async ({
  page,
}) => {
  const escaped: string[] = [];
  const watch = (url: string) => {
    if (url.includes('/escape-probe/')) escaped.push(url);
  };
  page.on('request', (r) => watch(r.url()));
  page.on('worker', (w) => watch(w.url()));
  await page.goto('/');
  const results = await page.evaluate(async (probes) => {
    // A variable so TypeScript checks the types, not the (server-side) URL.
    const jsUrl = '/src/train/rewards/js.ts';
    const { jsReward } = (await import(jsUrl)) as typeof import('../src/train/rewards/js');
    const item = { prompt: 'p', completion: 'ok', reference: 'ok' };
    const out: { name: string; scores?: number[]; error?: string }[] = [];
    const run = async (name: string, code: string) => {
      const fn = jsReward(code, { name: `${name}.js`, timeoutMs: 5000 });
      try {
        out.push({ name, scores: await fn([item]) });
      } catch (e) {
        out.push({ name, error: e instanceof Error ? e.message : String(e) });
      } finally {
        fn.dispose();
      }
    };
    await run(
      'normal',
      'function reward({ completion, reference }) {\n  return completion === reference ? 1 : 0.25;\n}\n',
    );
    for (const p of probes) await run(p.name, `// probe\nfunction reward() {\n  ${p.body}\n}\n`);
    // Give any request a probe might have started the time to be seen.
    await new Promise((r) => setTimeout(r, 500));
    return out;
  }, PROBES);

  expect(results[0]).toEqual({ name: 'normal', scores: [1] });
  const failures: string[] = [];
  for (const p of PROBES) {
    const r = results.find((x) => x.name === p.name);
    if (!r?.error) failures.push(`${p.name}: escaped, scored ${JSON.stringify(r?.scores)}`);
    else if (!r.error.startsWith(`${p.name}.js:`) || !p.message.test(r.error))
      failures.push(`${p.name}: unexpected message ${JSON.stringify(r.error)}`);
  }
  expect(failures).toEqual([]);
  expect(escaped).toEqual([]);
});
