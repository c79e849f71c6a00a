// The built-in model (public/models/tiny-llama-brown, pretrained by scripts/pretrain), loaded like any
// other URL model from where the page's server puts public/: fetched once, then from the cache.

import type { ModelSource } from './open';
import { type UrlSourceOptions, urlModelSource } from './url';

/** Under the app's base path, so a build served from a sub-path (e.g. GitHub Pages) still finds it. */
export const BUILTIN_MODEL_PATH = `${import.meta.env?.BASE_URL ?? '/'}models/tiny-llama-brown/`;

export function builtinModelSource(options: UrlSourceOptions = {}): ModelSource {
  return urlModelSource(BUILTIN_MODEL_PATH, options);
}
