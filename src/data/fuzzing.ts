// A seeded fuzzer for the parsers of user files (the tests' tool, kept beside the data layer it mostly
// serves): mutations of a valid seed file (byte flips, inserted delimiters and bad UTF-8, cuts, repeats)
// from a fixed seed, and the contract every parser keeps: a result, or an Error whose message starts with
// the file's name (never a TypeError or RangeError from inside the parser).

/** Cases per target: fixed, so a run is bounded and a failure reproduces. */
export const CASES = 150;

/** mulberry32: small, seeded, good enough to spread mutations. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [
  0x22, 0x2c, 0x7b, 0x7d, 0x5b, 0x5d, 0x0a, 0x0d, 0x3a, 0x5c, 0x00, 0xff, 0xc3, 0xe2, 0x09, 0x30, 0x2d,
];

export function mutate(seed: Uint8Array, r: () => number): Uint8Array {
  let b = Array.from(seed);
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * (b.length + 1));
    const op = Math.floor(r() * 5);
    if (op === 0 && b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(r() * 256);
    else if (op === 1) b.splice(at, 0, SPECIAL[Math.floor(r() * SPECIAL.length)]);
    else if (op === 2) b.splice(at, Math.floor(r() * 16));
    else if (op === 3) b = b.slice(0, at);
    else b.splice(at, 0, ...b.slice(at, at + Math.floor(r() * 32)));
  }
  return Uint8Array.from(b);
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs `f` on CASES mutations of `seed`; every failure must be an Error naming `file` first. */
export async function fuzz(
  file: string,
  seed: Uint8Array,
  f: (b: Uint8Array) => unknown,
  salt: number,
): Promise<number> {
  const r = rng(0x5eed + salt);
  let failed = 0;
  for (let i = 0; i < CASES; i++) {
    const b = mutate(seed, r);
    try {
      await f(b);
    } catch (e) {
      failed++;
      const m = e instanceof Error ? e.message : `not an Error: ${String(e)}`;
      if (!(e instanceof Error) || !m.startsWith(file) || e instanceof TypeError || e instanceof RangeError)
        throw new Error(
          `case ${i} (${JSON.stringify(dec(b).slice(0, 120))}): ${e instanceof Error ? e.name : ''} ${m}`,
        );
    }
  }
  return failed;
}
