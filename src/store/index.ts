// The one application store, composed of slices (zustand's slices pattern). Each slice lives in its own
// file and owns its state and actions; add a slice by extending `AppState` and spreading its creator here.
// The settings among them (persist.ts SETTINGS_KEYS) start from the last visit's and are saved as they change.
import { create } from 'zustand';
import { createDatasetsSlice, type DatasetsSlice } from './datasets';
import { createGpuSlice, type GpuSlice } from './gpu';
import { createMetricsSlice, type MetricsSlice } from './metrics';
import { createModelSlice, type ModelSlice } from './model';
import { loadSettings, SETTINGS_KEYS, saveSettings } from './persist';
import { createRlSlice, type RlSlice } from './rl';
import { createRunsSlice, type RunsSlice } from './runs';
import { createUiSlice, type UiSlice } from './ui';

export type AppState = GpuSlice & ModelSlice & DatasetsSlice & RunsSlice & MetricsSlice & UiSlice & RlSlice;

export const useAppStore = create<AppState>()((...a) => {
  const fresh: AppState = {
    ...createGpuSlice(...a),
    ...createModelSlice(...a),
    ...createDatasetsSlice(...a),
    ...createRunsSlice(...a),
    ...createMetricsSlice(...a),
    ...createUiSlice(...a),
    ...createRlSlice(...a),
  };
  // The user's settings from the last visit (persist.ts), over the defaults.
  return { ...fresh, ...loadSettings(fresh as unknown as Record<string, unknown>) };
});

// Settings are saved when one of them changes (compared by reference: every setter makes a new object),
// at most once per 300 ms while a field is typed into.
let settingsTimer: ReturnType<typeof setTimeout> | null = null;
useAppStore.subscribe((s, prev) => {
  if (SETTINGS_KEYS.every((k) => s[k] === prev[k])) return;
  if (settingsTimer) clearTimeout(settingsTimer);
  settingsTimer = setTimeout(() => {
    settingsTimer = null;
    saveSettings(useAppStore.getState() as unknown as Record<string, unknown>);
  }, 300);
});

/** Saves the settings now (before a reload the page itself triggers, and in tests). */
export function flushSettings(): void {
  if (settingsTimer) clearTimeout(settingsTimer);
  settingsTimer = null;
  saveSettings(useAppStore.getState() as unknown as Record<string, unknown>);
}
