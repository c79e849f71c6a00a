// `--model ORG/NAME[@REVISION]` end to end, as a user runs the CLI: HF_ENDPOINT pointing at a local Hub
// stand-in (test/helpers/hub-server.ts), HF_HUB_CACHE at a fresh folder. The reference for each Hub run is
// the same command on the fixture folder the repo serves: the text must be identical. A second run with the
// server stopped is served from the cache; a pinned revision loads that commit's model; a local folder of
// the same name wins without a request; a Hub failure ends in one sentence naming the repo.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubServer, startHubServer } from '../../test/helpers/hub-server';
import { readModelConfigText, resolveModelDir } from './model-dir';

const LLAMA = 'test/fixtures/models/llama-tiny';
const GPT2 = 'test/fixtures/models/gpt2-tiny';
const MAIN = 'c'.repeat(40);
const OLD = 'd'.repeat(40);

/** The CLI as a child process, asynchronously: the Hub stand-in lives in this process and must answer. */
function cli(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const GEN = ['--prompt', 'hello there', '--max-new-tokens', '5'];

let hub: HubServer;
let cache: string;
let env: Record<string, string>;
beforeAll(async () => {
  hub = await startHubServer({
    'org/tiny': { commits: { [MAIN]: LLAMA, [OLD]: GPT2 }, refs: { main: MAIN } },
  });
  cache = mkdtempSync(join(tmpdir(), 'hub-cli-cache-'));
  env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '' };
});
afterAll(() => hub.close());

describe('--model ORG/NAME from the Hub', () => {
  it('generates what the same model generates from its folder, then again offline from the cache', async () => {
    const ref = await cli({}, 'generate', '--model', LLAMA, ...GEN);
    expect(ref.code, ref.err).toBe(0);
    const first = await cli(env, 'generate', '--model', 'org/tiny', ...GEN);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toBe(ref.out);
    expect(first.err).toMatch(/downloaded model-00002-of-00002\.safetensors \(/);
    expect(hub.requests.some((r) => r.startsWith('GET /lfs-cdn/'))).toBe(true);

    const pinnedRef = await cli({}, 'generate', '--model', GPT2, ...GEN);
    const pinned = await cli(env, 'generate', '--model', `org/tiny@${OLD}`, ...GEN);
    expect(pinned.code, pinned.err).toBe(0);
    expect(pinned.out).toBe(pinnedRef.out);
    expect(pinned.out).not.toBe(ref.out);

    await hub.close();
    const offline = await cli(env, 'generate', '--model', 'org/tiny', ...GEN);
    expect(offline.code, offline.err).toBe(0);
    expect(offline.out).toBe(ref.out);
    expect(offline.err).toContain(`org/tiny: offline, loaded from the cache (commit ${MAIN})`);
    expect(offline.err).not.toMatch(/downloaded/);

    const missing = await cli(env, 'generate', '--model', 'org/other', ...GEN);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(
      /error: .*org\/other: revision "main" is not in the cache .*cannot be reached/,
    );
  }, 120_000);
});

describe('readModelConfigText (plan before download)', () => {
  it("fetches a Hub model's config.json alone into the cache, and nothing of its weights", async () => {
    const server = await startHubServer({ 'org/tiny': { commits: { [MAIN]: LLAMA }, refs: { main: MAIN } } });
    process.env.HF_ENDPOINT = server.url;
    process.env.HF_HUB_CACHE = mkdtempSync(join(tmpdir(), 'hub-cli-cache-'));
    try {
      const { text, file } = await readModelConfigText('org/tiny');
      expect(text).toBe(readFileSync(join(LLAMA, 'config.json'), 'utf8'));
      expect(file).toBe(
        join(process.env.HF_HUB_CACHE, 'models--org--tiny', 'snapshots', MAIN, 'config.json'),
      );
      expect(server.requests.filter((r) => r.includes('safetensors') || r.includes('lfs-cdn'))).toEqual([]);
    } finally {
      delete process.env.HF_ENDPOINT;
      delete process.env.HF_HUB_CACHE;
      await server.close();
    }
  });
});

describe('resolveModelDir', () => {
  it('takes a local folder of that name before the Hub, and names an unknown repo', async () => {
    const server = await startHubServer({});
    const top = `hubtest-${process.pid}`;
    mkdirSync(join(top, 'tiny'), { recursive: true });
    try {
      cpSync(GPT2, join(top, 'tiny'), { recursive: true });
      const before = server.requests.length;
      process.env.HF_ENDPOINT = server.url;
      expect(await resolveModelDir(`${top}/tiny`)).toBe(`${top}/tiny`);
      expect(JSON.parse((await readModelConfigText(`${top}/tiny`)).text).model_type).toBe('gpt2');
      expect(server.requests.length).toBe(before);
      process.env.HF_HUB_CACHE = mkdtempSync(join(tmpdir(), 'hub-cli-cache-'));
      await expect(resolveModelDir('org/nope')).rejects.toThrow(
        /^org\/nope: no such model on http:\/\/127\.0\.0\.1/,
      );
      await expect(resolveModelDir('./nothing/here/x')).rejects.toThrow(
        /no such folder .*ORG\/NAME\[@REVISION\]/,
      );
    } finally {
      delete process.env.HF_ENDPOINT;
      delete process.env.HF_HUB_CACHE;
      rmSync(top, { recursive: true, force: true });
      await server.close();
    }
  });
});
