// Settings survive a reload: the store saves the user's choices (methods with options, hyperparameters, the
// fair comparison's settings, the algorithm) and a fresh store (a reloaded page: the module evaluated
// again) starts from them. An old or hand-edited save cannot break the form: wrong types are dropped and
// fields added since keep their defaults.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadSettings, pickSettings, type SettingsStorage, saveSettings } from './persist';

class MemoryStorage implements SettingsStorage {
  readonly items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
}

describe('settings round trip through a reload', () => {
  beforeEach(() => {
    vi.resetModules();
    (globalThis as { localStorage?: SettingsStorage }).localStorage = new MemoryStorage();
  });

  it('a fresh store starts from the settings the last one saved', async () => {
    const first = await import('./index');
    const fresh = first.useAppStore.getState();
    expect(fresh.fair.enabled).toBe(false);
    fresh.setMethod('lora', { enabled: false });
    fresh.setMethod('ia3', { enabled: true, options: { target_modules: 'k_proj,v_proj' } });
    fresh.setHyper({ steps: 12, lr: 0.02, seqLen: 32 });
    fresh.setFair({ enabled: true, seeds: 5, grid: '-1,0,1' });
    fresh.setAlgorithm('dpo');
    first.flushSettings();

    vi.resetModules();
    const second = await import('./index');
    const s = second.useAppStore.getState();
    expect(s.methods.lora.enabled).toBe(false);
    expect(s.methods.ia3).toEqual({ enabled: true, options: { target_modules: 'k_proj,v_proj' } });
    expect(s.methods.prompt.enabled).toBe(true);
    expect(s.hyper).toEqual({ ...fresh.hyper, steps: 12, lr: 0.02, seqLen: 32 });
    expect(s.fair).toEqual({ enabled: true, sweep: true, grid: '-1,0,1', seeds: 5 });
    expect(s.algorithm).toBe('dpo');
    // Runs are not settings: they come back from IndexedDB, never from here.
    expect(s.runs).toEqual([]);
  });
});

describe('loadSettings', () => {
  const defaults = {
    hyper: { lr: null as number | null, steps: 40, pack: false },
    fair: { enabled: false, seeds: 3 },
    methods: { lora: { enabled: true, options: {} } },
    budgetBytes: 2,
    runs: [],
  };
  it('keeps fields added since the save at their defaults and drops values of the wrong type', () => {
    const st = new MemoryStorage();
    saveSettings(
      { hyper: { lr: 0.5, steps: 'many', extra: 1 }, fair: { enabled: true }, budgetBytes: 'x', runs: [1] },
      st,
    );
    expect(loadSettings(defaults, st)).toEqual({
      hyper: { lr: 0.5, steps: 40, pack: false, extra: 1 },
      fair: { enabled: true, seeds: 3 },
    });
  });
  it('ignores a save that is not JSON, and saves only the settings', () => {
    const st = new MemoryStorage();
    st.setItem('peft-playground.settings.v1', '{nope');
    expect(loadSettings(defaults, st)).toEqual({});
    expect(Object.keys(pickSettings({ ...defaults, metrics: {} }))).toEqual([
      'methods',
      'hyper',
      'fair',
      'budgetBytes',
    ]);
  });
});
