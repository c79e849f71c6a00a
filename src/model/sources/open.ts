// Where a model's files come from is a source's business (dropped files, a URL with a cache, a folder in
// Node); what a model folder must hold and in which order it is checked is this file's, shared by all of
// them. The order puts cheap refusals first: config.json (parsed, unsupported features refused), the
// tokenizer files (small), the fit check against the device budget (from the config alone, before a
// weight byte is fetched), then the checkpoint headers (every shard's, offsets and dtypes) and their keys
// and shapes against the config. Nothing is allocated on the GPU here: the caller goes on to
// loadCheckpointSpecs with the reader this returns.
import { FormatError } from '../../formats/errors';
import {
  type CheckpointMatch,
  expectedTensorShapes,
  type ModelConfig,
  parseModelConfig,
  readerShapes,
  validateCheckpointShapes,
} from '../../formats/model-config';
import { type ByteSource, SafetensorsFile, type TensorReader } from '../../formats/safetensors';
import { parseShardIndex, SHARD_INDEX_FILE, ShardedSafetensors } from '../../formats/sharded';
import { loadTokenizer, type TextTokenizer, type TokenizerFiles } from '../../formats/tokenizer';
import { checkModelFits, type DeviceBudget } from '../load';

export const CONFIG_FILE = 'config.json';
export const SINGLE_FILE = 'model.safetensors';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** Bytes of one file arriving (a download) or found (a cache hit, a local file). */
export interface FileProgress {
  file: string;
  loadedBytes: number;
  /** null while the size is unknown (no Content-Length). */
  totalBytes: number | null;
  /** Served from the persistent cache, no network. */
  cached: boolean;
  done: boolean;
}

export interface OpenOptions {
  /** When given, a model that cannot fit is refused with the figures before its weights are fetched. */
  budget?: DeviceBudget;
  onProgress?: (p: FileProgress) => void;
}

/** How a source hands out the files of one model folder, by plain file name. */
export interface ModelFileProvider {
  /** Where the files are, for messages: a folder path, a URL base, "dropped files". */
  readonly label: string;
  /** Display path of a file in messages (`<label>/<file>` or the URL). */
  where(file: string): string;
  /** The text of a small file, or null when the folder has no such file. */
  text(file: string, opts: OpenOptions): Promise<string | null>;
  /** Ranged access to a large file, or null when the folder has no such file. */
  bytes(file: string, opts: OpenOptions): Promise<ByteSource | null>;
}

export interface OpenedModel {
  label: string;
  config: ModelConfig;
  /** Every header validated; keys and shapes match the config; no tensor data read yet. */
  reader: TensorReader;
  /** Canonical key → the key in the checkpoint, and the keys skipped. */
  match: CheckpointMatch;
  tokenizerFiles: TokenizerFiles;
  tokenizer: TextTokenizer;
  /** "single" or the number of shards. */
  layout: 'single' | { shards: number };
}

export interface ModelSource {
  readonly label: string;
  open(opts?: OpenOptions): Promise<OpenedModel>;
}

const WANT = `a Hugging Face model folder: ${CONFIG_FILE}, ${SINGLE_FILE} (or shards with ${SHARD_INDEX_FILE}), ${TOKENIZER_FILE}`;

/** Weights are floats; an integer or 8-bit tensor where a weight belongs is a broken export, not a model. */
const WEIGHT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

function missing(p: ModelFileProvider, file: string): FormatError {
  return new FormatError(p.label, `has no ${file} (expected ${WANT})`, file);
}

/** Opens and validates a model folder through a provider; see the file header for the order. */
export async function openModelFiles(p: ModelFileProvider, opts: OpenOptions = {}): Promise<OpenedModel> {
  const cfgText = await p.text(CONFIG_FILE, opts);
  if (cfgText === null) throw missing(p, CONFIG_FILE);
  const config = parseModelConfig(cfgText, p.where(CONFIG_FILE));

  const tokText = await p.text(TOKENIZER_FILE, opts);
  if (tokText === null) throw missing(p, TOKENIZER_FILE);
  const tcText = await p.text(TOKENIZER_CONFIG_FILE, opts);
  const tokenizerFiles: TokenizerFiles = {
    tokenizerJson: tokText,
    tokenizerConfig: tcText ?? undefined,
    tokenizerFile: p.where(TOKENIZER_FILE),
    configFile: p.where(TOKENIZER_CONFIG_FILE),
  };
  const tokenizer = loadTokenizer(tokenizerFiles, {
    bosTokenId: config.bosTokenId ?? undefined,
    eosTokenIds: config.eosTokenIds,
    padTokenId: config.padTokenId ?? undefined,
  });
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new FormatError(
      p.where(TOKENIZER_FILE),
      `has ${tokenizer.vocabSize} token ids but ${p.where(CONFIG_FILE)} says vocab_size = ${config.vocabSize}`,
      'vocab_size',
    );
  }

  if (opts.budget) checkModelFits(config, opts.budget, p.label);

  let reader: TensorReader;
  let layout: OpenedModel['layout'];
  const indexText = await p.text(SHARD_INDEX_FILE, opts);
  if (indexText !== null) {
    const index = parseShardIndex(indexText, p.where(SHARD_INDEX_FILE));
    reader = await ShardedSafetensors.open(index, async (shard) => {
      const src = await p.bytes(shard, opts);
      if (!src) {
        throw new FormatError(p.where(SHARD_INDEX_FILE), `names shard "${shard}", which is not there`, shard);
      }
      return src;
    });
    layout = { shards: index.shards.length };
  } else {
    const src = await p.bytes(SINGLE_FILE, opts);
    if (!src) throw missing(p, `${SINGLE_FILE} or ${SHARD_INDEX_FILE}`);
    reader = await SafetensorsFile.open(src);
    layout = 'single';
  }
  const first = reader.keys()[0];
  const match = validateCheckpointShapes(
    config,
    readerShapes(reader),
    first !== undefined ? p.where(reader.fileOf(first)) : p.where(SINGLE_FILE),
    p.where(CONFIG_FILE),
  );
  for (const canon of expectedTensorShapes(config).keys()) {
    const key = match.keyMap.get(canon)!;
    const dtype = reader.info(key).dtype;
    if (!WEIGHT_DTYPES.has(dtype)) {
      throw new FormatError(
        p.where(reader.fileOf(key)),
        `tensor "${key}" is ${dtype}; weights must be F32, F16 or BF16`,
        key,
      );
    }
  }
  return { label: p.label, config, reader, match, tokenizerFiles, tokenizer, layout };
}
