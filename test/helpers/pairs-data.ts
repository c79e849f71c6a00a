// A small prompt/completion JSONL written to a folder: the CLI tests' shared training data (12 short
// pairs, each completion a different word and the row's number, so the model has something to learn).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writePairsData(dir: string, name = 'pairs.jsonl'): string {
  const words = ['cat', 'dog', 'sun', 'sky', 'sea', 'map', 'cup', 'pen', 'hat', 'box', 'bee', 'owl'];
  const path = join(dir, name);
  writeFileSync(
    path,
    words
      .map((w, i) => JSON.stringify({ prompt: `The ${w} is`, completion: ` ${words[(i * 5) % 12]} ${i}.` }))
      .join('\n'),
  );
  return path;
}
