// Which of TRL's dataset types a table is, and which column plays which part. Exact TRL names win
// (text; prompt+completion; messages; prompt+chosen+rejected or chosen+rejected; prompt alone); other
// names are matched through common aliases (Alpaca's instruction/input/output, question/answer, ShareGPT's
// conversations...) and offered as a suggested mapping the user can change. Checking each row against
// the shape is validate.ts's job.
import { DataError, issue } from './errors';
import type { ColumnMapping, ParsedDataset, Row, ShapeKind } from './types';

export interface DetectedShape {
  kind: ShapeKind;
  mapping: ColumnMapping;
  /** Prompt/completion/chosen/rejected hold message lists rather than text (messages always do). */
  conversational: boolean;
  /** Preference data without a prompt column: the prompt is the shared start of chosen and rejected. */
  implicitPrompt: boolean;
  /** Every role's column has TRL's own name (no alias was needed). */
  exact: boolean;
}

/** Aliases per role, most specific first; matching ignores case, spaces, dashes and underscores. */
const ALIASES: Record<Exclude<keyof ColumnMapping, 'prompt'> | 'prompt', string[]> = {
  messages: ['messages', 'conversations', 'conversation', 'chat', 'dialog', 'dialogue', 'turns'],
  chosen: ['chosen', 'preferred', 'accepted', 'positive', 'chosenresponse', 'responsechosen', 'better'],
  rejected: ['rejected', 'dispreferred', 'negative', 'rejectedresponse', 'responserejected', 'worse'],
  prompt: ['prompt', 'instruction', 'question', 'query', 'problem', 'input', 'source', 'context', 'user'],
  completion: ['completion', 'output', 'answer', 'response', 'target', 'solution', 'reply', 'assistant'],
  text: ['text', 'content', 'document', 'sentence', 'body', 'story', 'passage'],
};

const key = (s: string) => s.toLowerCase().replace(/[\s_-]/g, '');

function find(
  columns: readonly string[],
  role: keyof typeof ALIASES,
  taken: Set<string>,
): string | undefined {
  for (const alias of ALIASES[role]) {
    const hit = columns.find((c) => key(c) === alias && !taken.has(c));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/**
 * A mapping from column names alone: TRL's names when present, else aliases. Alpaca-style tables
 * (instruction + input + output) get `prompt: [instruction, input]`.
 */
export function suggestMapping(columns: readonly string[]): ColumnMapping {
  const taken = new Set<string>();
  const take = (role: keyof typeof ALIASES) => {
    const c = find(columns, role, taken);
    if (c !== undefined) taken.add(c);
    return c;
  };
  const chosen = take('chosen');
  const rejected = take('rejected');
  if (chosen !== undefined && rejected !== undefined) {
    const prompt = take('prompt');
    return prompt === undefined ? { chosen, rejected } : { prompt, chosen, rejected };
  }
  taken.clear();
  const messages = take('messages');
  if (messages !== undefined) return { messages };
  const instruction = columns.find((c) => key(c) === 'instruction');
  const input = columns.find((c) => key(c) === 'input');
  if (instruction !== undefined && input !== undefined) {
    taken.add(instruction).add(input);
    const completion = take('completion');
    if (completion !== undefined) return { prompt: [instruction, input], completion };
    taken.clear();
  }
  const prompt = take('prompt');
  const completion = take('completion');
  if (prompt !== undefined && completion !== undefined) return { prompt, completion };
  // No completion: TRL's own names first, then aliases; text beats a lone prompt (language modelling
  // is the commoner use of a one-text table).
  if (columns.includes('text')) return { text: 'text' };
  if (columns.includes('prompt')) return { prompt: 'prompt' };
  taken.clear();
  const text = take('text');
  if (text !== undefined) return { text };
  if (prompt !== undefined) return { prompt };
  if (columns.length === 1) return { text: columns[0] };
  return {};
}

/** The shape a mapping describes, or null when its roles make no TRL shape. */
export function shapeOfMapping(m: ColumnMapping): ShapeKind | null {
  if (m.chosen !== undefined && m.rejected !== undefined) return 'preference';
  if (m.messages !== undefined) return 'messages';
  if (m.prompt !== undefined && m.completion !== undefined) return 'prompt_completion';
  if (m.text !== undefined) return 'text';
  if (m.prompt !== undefined) return 'prompt_only';
  return null;
}

/** The roles each shape reads, in the order a form shows them; `optional` ones may be left unmapped. */
export const SHAPE_ROLES: Record<ShapeKind, readonly { role: keyof ColumnMapping; optional?: true }[]> = {
  text: [{ role: 'text' }],
  prompt_completion: [{ role: 'prompt' }, { role: 'completion' }],
  messages: [{ role: 'messages' }],
  preference: [{ role: 'prompt', optional: true }, { role: 'chosen' }, { role: 'rejected' }],
  prompt_only: [{ role: 'prompt' }],
};

/**
 * A hand-made mapping for `kind` from the columns picked per role (empty picks dropped), or the name of
 * the first required role left unpicked.
 */
export function mappingForShape(
  kind: ShapeKind,
  picks: Partial<Record<keyof ColumnMapping, string>>,
): { mapping: ColumnMapping } | { missing: keyof ColumnMapping } {
  const mapping: ColumnMapping = {};
  for (const { role, optional } of SHAPE_ROLES[kind]) {
    const col = picks[role];
    if (col) mapping[role] = col;
    else if (!optional) return { missing: role };
  }
  return { mapping };
}

/** The mapping with only the roles its shape uses (a user may leave stray ones set). */
function trimMapping(kind: ShapeKind, m: ColumnMapping): ColumnMapping {
  switch (kind) {
    case 'preference':
      return m.prompt === undefined
        ? { chosen: m.chosen, rejected: m.rejected }
        : { prompt: m.prompt, chosen: m.chosen, rejected: m.rejected };
    case 'messages':
      return { messages: m.messages };
    case 'prompt_completion':
      return { prompt: m.prompt, completion: m.completion };
    case 'text':
      return { text: m.text };
    case 'prompt_only':
      return { prompt: m.prompt };
  }
}

/** The first role column that holds a list in the sample decides whether the data is conversational. */
function looksConversational(rows: readonly Row[], column: string | undefined): boolean {
  if (column === undefined) return false;
  for (let i = 0; i < rows.length && i < 50; i++) {
    const v = rows[i][column];
    if (v === null || v === undefined) continue;
    return Array.isArray(v);
  }
  return false;
}

/**
 * Detects the TRL shape of a parsed dataset, from `mapping` when the user gave one, else from the
 * column names. Throws DataError naming the columns when no shape fits.
 */
export function detectShape(
  data: Pick<ParsedDataset, 'name' | 'columns' | 'rows'>,
  mapping?: ColumnMapping,
): DetectedShape {
  const m = mapping ?? suggestMapping(data.columns);
  const kind = shapeOfMapping(m);
  if (kind === null) {
    const cols = data.columns.map((c) => `"${c}"`).join(', ');
    throw new DataError(
      issue(
        { file: data.name },
        `no known dataset shape in the columns ${cols}; expected text, prompt and completion, messages, ` +
          'prompt with chosen and rejected, or prompt alone: map the columns by hand',
      ),
    );
  }
  const used = trimMapping(kind, m);
  for (const [role, col] of Object.entries(used)) {
    for (const c of Array.isArray(col) ? col : [col]) {
      if (!data.columns.includes(c)) {
        throw new DataError(issue({ file: data.name }, `the ${role} column "${c}" is not in the file`));
      }
    }
  }
  const first = (c: string | string[] | undefined) => (Array.isArray(c) ? c[0] : c);
  const conversational =
    kind === 'messages' ||
    looksConversational(
      data.rows,
      kind === 'preference'
        ? used.chosen
        : kind === 'prompt_completion'
          ? used.completion
          : first(used.prompt),
    );
  const exact = Object.entries(used).every(([role, col]) => col === role);
  return {
    kind,
    mapping: used,
    conversational,
    implicitPrompt: kind === 'preference' && used.prompt === undefined,
    exact,
  };
}
