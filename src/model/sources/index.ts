// The model sources the page uses (dropped files, URLs with a cache, Hub repos, the built-in model) and the
// validation they share. The Node folder and Hub-cache sources are ./node-dir and ./hub-node, imported directly so that the browser
// bundle never sees node:fs.
export { BUILTIN_MODEL_PATH, builtinModelSource } from './builtin';
export { type FileLike, filesModelSource, filesProvider } from './files';
export {
  DEFAULT_HF_ENDPOINT,
  formatHubModelId,
  HubError,
  type HubErrorKind,
  HubModel,
  type HubModelId,
  type HubSourceOptions,
  normalizeEndpoint,
  parseHubModelId,
} from './hub';
export {
  CONFIG_FILE,
  type FileProgress,
  type ModelFileProvider,
  type ModelSource,
  type OpenedModel,
  type OpenOptions,
  openModelFiles,
  SINGLE_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
} from './open';
export {
  type CacheLike,
  clearCachedModel,
  defaultModelCache,
  MemoryCache,
  MODEL_CACHE_NAME,
  type UrlSourceOptions,
  urlModelSource,
  urlProvider,
} from './url';
