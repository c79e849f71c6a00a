// A method's options form, generated from its OptionSpecs (peft/types.ts) as the worker listed them: an
// input by kind (number with the spec's min/max, checkbox, select of the choices, text for names and
// module lists), the default shown where nothing is given, the help as the title; main options first,
// advanced ones behind a fold. Values go to the store as the user typed them, converted only as far as
// the kind says: the worker's plan reads them through the same specs and reports a bad one by name.
import type { MethodInfo, OptionSpec, OptionValue } from '../peft/types';
import { useAppStore } from '../store';

/** A form value back to the option's value; '' clears it (null: the default). */
function fromField(o: OptionSpec, raw: string): OptionValue {
  if (raw.trim() === '') return null;
  if (o.kind === 'int' || o.kind === 'float') {
    const n = Number(raw);
    // Not a number: sent as typed, so the plan's message names the option instead of a silent default.
    return Number.isFinite(n) ? n : raw;
  }
  if (o.kind === 'list')
    return raw
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return raw;
}

const show = (v: OptionValue | undefined): string =>
  v === null || v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v);

function OptionField({ method, o }: { method: string; o: OptionSpec }) {
  const given = useAppStore((s) => s.methods[method]?.options[o.key]);
  const setMethod = useAppStore((s) => s.setMethod);
  // Cleared (null): empty, with the default as the placeholder.
  const value = given !== undefined ? given : o.default;
  const set = (v: OptionValue) => setMethod(method, { options: { [o.key]: v } });
  const id = `opt-${method}-${o.key}`;
  let input: React.ReactNode;
  if (o.kind === 'bool')
    input = (
      <input
        id={id}
        type="checkbox"
        name={o.key}
        checked={value === true}
        onChange={(e) => set(e.target.checked)}
      />
    );
  else if (o.kind === 'enum')
    input = (
      <select id={id} name={o.key} value={show(value)} onChange={(e) => set(e.target.value)}>
        {(o.choices ?? []).map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  else {
    const numeric = o.kind === 'int' || o.kind === 'float';
    input = (
      <input
        id={id}
        name={o.key}
        type={numeric ? 'number' : 'text'}
        min={o.min}
        max={o.max}
        step={o.kind === 'int' ? 1 : 'any'}
        placeholder={o.default === null ? 'model default' : show(o.default)}
        value={show(value)}
        size={numeric ? 6 : 14}
        onChange={(e) => set(fromField(o, e.target.value))}
      />
    );
  }
  return (
    <span className="opt" title={o.help}>
      <label htmlFor={id}>{o.key}</label> {input}
    </span>
  );
}

export function MethodOptions({ m }: { m: MethodInfo }) {
  const main = m.options.filter((o) => o.group === 'main');
  const advanced = m.options.filter((o) => o.group === 'advanced');
  return (
    <div className="options">
      {main.map((o) => (
        <OptionField key={o.key} method={m.name} o={o} />
      ))}
      {advanced.length > 0 && (
        <details className="advanced">
          <summary>advanced ({advanced.length})</summary>
          {advanced.map((o) => (
            <OptionField key={o.key} method={m.name} o={o} />
          ))}
        </details>
      )}
    </div>
  );
}
