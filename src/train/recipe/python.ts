// Python source from plain values: literals (True/False/None, str, int, float, list, dict) and keyword
// argument lists, so every setting a recipe writes is a literal that `ast.literal_eval` reads back.

export type PyValue =
  | string
  | number
  | boolean
  | null
  | readonly PyValue[]
  | { readonly [k: string]: PyValue };

/** A Python literal of `v`. Floats keep a decimal point or exponent so they read back as floats. */
export function py(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`a recipe value must be finite, got ${v}`);
    return String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  const o = v as { readonly [k: string]: PyValue };
  return `{${Object.entries(o)
    .map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`)
    .join(', ')}}`;
}

/** A float literal (1 → 1.0), for settings Python types as float. */
export function pyFloat(v: number): string {
  const s = py(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** `Name(\n    k=v,\n    ...\n)` with one keyword per line, indented by `indent`. */
export function call(name: string, kwargs: Record<string, string>, indent = ''): string {
  const lines = Object.entries(kwargs).map(([k, v]) => `${indent}    ${k}=${v},`);
  return `${name}(\n${lines.join('\n')}\n${indent})`;
}

/** Keyword literals from plain values. */
export function kw(o: Record<string, PyValue>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, py(v)]));
}
