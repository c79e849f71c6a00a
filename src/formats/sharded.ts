// Sharded safetensors checkpoints: `model.safetensors.index.json` ({"metadata": {...},
// "weight_map": {key: shard file}}) parsed and checked, and a TensorReader over the shards that
// resolves each key to its shard. Opening validates every shard's header and that every key the
// index lists is in the shard it names, before any tensor is read. Where the shard bytes come from
// (dropped files, URL cache, a folder in Node) is the caller's `openShard`.
import { FormatError, isRecord, parseJsonText } from './errors';
import { type ByteSource, SafetensorsFile, type TensorInfo, type TensorReader } from './safetensors';

export const SHARD_INDEX_FILE = 'model.safetensors.index.json';

export interface ShardIndex {
  readonly file: string;
  /** The index's "metadata" object as written (HF puts total_size there). */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly weightMap: ReadonlyMap<string, string>;
  /** Distinct shard file names, in first-appearance order. */
  readonly shards: readonly string[];
}

export function parseShardIndex(text: string, file: string = SHARD_INDEX_FILE): ShardIndex {
  const json = parseJsonText(text, file);
  if (!isRecord(json)) throw new FormatError(file, 'must be a JSON object');
  const wm = json.weight_map;
  if (!isRecord(wm))
    throw new FormatError(file, '"weight_map" must be an object of tensor name → shard file', 'weight_map');
  const meta = json.metadata ?? {};
  if (!isRecord(meta)) throw new FormatError(file, '"metadata" must be an object', 'metadata');
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [key, shard] of Object.entries(wm)) {
    if (typeof shard !== 'string' || shard.length === 0) {
      throw new FormatError(
        file,
        `weight_map["${key}"] must be a shard file name, got ${JSON.stringify(shard)}`,
        key,
      );
    }
    // A shard name with a path in it would let an index reach outside the model folder.
    if (shard.includes('/') || shard.includes('\\') || shard === '..' || shard === '.') {
      throw new FormatError(file, `weight_map["${key}"] = "${shard}" must be a plain file name`, key);
    }
    weightMap.set(key, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (weightMap.size === 0) throw new FormatError(file, '"weight_map" lists no tensors', 'weight_map');
  return { file, metadata: meta, weightMap, shards };
}

export class ShardedSafetensors implements TensorReader {
  readonly index: ShardIndex;
  readonly files: ReadonlyMap<string, SafetensorsFile>;

  private constructor(index: ShardIndex, files: Map<string, SafetensorsFile>) {
    this.index = index;
    this.files = files;
  }

  /**
   * Opens every shard's header and checks the index against them: each listed key must exist in
   * its shard. Keys a shard holds but the index does not list are ignored, as transformers does.
   */
  static async open(
    index: ShardIndex,
    openShard: (shardFile: string) => ByteSource | Promise<ByteSource>,
  ): Promise<ShardedSafetensors> {
    const files = new Map<string, SafetensorsFile>();
    for (const shard of index.shards) {
      let src: ByteSource;
      try {
        src = await openShard(shard);
      } catch (e) {
        if (e instanceof FormatError) throw e;
        const why = e instanceof Error ? e.message : String(e);
        throw new FormatError(index.file, `cannot open shard "${shard}": ${why}`);
      }
      files.set(shard, await SafetensorsFile.open(src));
    }
    for (const [key, shard] of index.weightMap) {
      const f = files.get(shard)!;
      if (!f.has(key)) {
        throw new FormatError(
          index.file,
          `lists tensor "${key}" in ${shard}, which does not contain it`,
          key,
        );
      }
    }
    return new ShardedSafetensors(index, files);
  }

  private shardOf(key: string): SafetensorsFile {
    const shard = this.index.weightMap.get(key);
    if (shard === undefined) throw new FormatError(this.index.file, `lists no tensor "${key}"`, key);
    return this.files.get(shard)!;
  }

  keys(): string[] {
    return [...this.index.weightMap.keys()];
  }

  has(key: string): boolean {
    return this.index.weightMap.has(key);
  }

  info(key: string): TensorInfo {
    return this.shardOf(key).info(key);
  }

  fileOf(key: string): string {
    return this.shardOf(key).name;
  }

  readBytes(key: string): Promise<Uint8Array> {
    return this.shardOf(key).readBytes(key);
  }

  readF32(key: string): Promise<Float32Array> {
    return this.shardOf(key).readF32(key);
  }

  readI32(key: string): Promise<Int32Array> {
    return this.shardOf(key).readI32(key);
  }
}
