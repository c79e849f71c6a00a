// The column-mapping form: which column plays which role (TRL's shapes), for a file whose columns matched
// no shape (offered with the error) or to correct a detected mapping. Applying it asks the worker to parse
// the file again from the bytes it kept; the choice of skipping or stopping at bad rows lives here too.
import { useState } from 'react';
import { remapDataset } from '../app/engine';
import { mappingForShape, SHAPE_ROLES } from '../data/shape';
import type { ColumnMapping, ShapeKind } from '../data/types';
import { useAppStore } from '../store';

const SHAPE_LABELS: Record<ShapeKind, string> = {
  text: 'text',
  prompt_completion: 'prompt / completion',
  messages: 'messages (chat)',
  preference: 'prompt / chosen / rejected',
  prompt_only: 'prompt only',
};

type Picks = Partial<Record<keyof ColumnMapping, string>>;

function picksOf(m: ColumnMapping | undefined): Picks {
  const out: Picks = {};
  for (const [role, col] of Object.entries(m ?? {}) as [keyof ColumnMapping, string | string[]][]) {
    out[role] = Array.isArray(col) ? col[0] : col;
  }
  return out;
}

export function BadRowsChoice() {
  const badRows = useAppStore((s) => s.badRows);
  const setBadRows = useAppStore((s) => s.setBadRows);
  return (
    <fieldset className="bad-rows" data-testid="bad-rows">
      <legend>Bad rows</legend>
      <label>
        <input
          type="radio"
          name="bad-rows"
          checked={badRows === 'skip'}
          onChange={() => setBadRows('skip')}
        />
        skip them (counted; the first problems listed)
      </label>
      <label>
        <input
          type="radio"
          name="bad-rows"
          checked={badRows === 'stop'}
          onChange={() => setBadRows('stop')}
        />
        stop at the first one
      </label>
    </fieldset>
  );
}

/** `mapping`: the detected one to start from (undefined for a file that matched no shape). */
export function ColumnMappingForm(props: {
  id: string;
  name: string;
  columns: string[];
  shape?: ShapeKind;
  mapping?: ColumnMapping;
}) {
  const [kind, setKind] = useState<ShapeKind>(props.shape ?? 'prompt_completion');
  const [picks, setPicks] = useState<Picks>(() => picksOf(props.mapping));
  const made = mappingForShape(kind, picks);
  return (
    <form
      className="column-mapping"
      data-testid="column-mapping"
      onSubmit={(e) => {
        e.preventDefault();
        if ('mapping' in made) remapDataset(props.id, props.name, made.mapping);
      }}
    >
      <label>
        Shape{' '}
        <select
          data-testid="mapping-shape"
          value={kind}
          onChange={(e) => setKind(e.target.value as ShapeKind)}
        >
          {(Object.keys(SHAPE_LABELS) as ShapeKind[]).map((k) => (
            <option key={k} value={k}>
              {SHAPE_LABELS[k]}
            </option>
          ))}
        </select>
      </label>
      {SHAPE_ROLES[kind].map(({ role, optional }) => (
        <label key={role}>
          {role}
          {optional ? ' (optional)' : ''}{' '}
          <select
            data-testid={`mapping-${role}`}
            value={picks[role] ?? ''}
            onChange={(e) => setPicks({ ...picks, [role]: e.target.value || undefined })}
          >
            <option value="">—</option>
            {props.columns.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
      ))}
      <button type="submit" data-testid="apply-mapping" disabled={!('mapping' in made)}>
        Apply mapping
      </button>
      {'missing' in made && <span className="hint"> pick the {made.missing} column</span>}
    </form>
  );
}
