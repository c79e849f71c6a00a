// A model from the Hugging Face Hub in the page: its id resolved to a commit and config.json fetched alone
// (so the plan shows before a weight byte moves), then on the user's word its files through the Cache API
// keyed by that commit, handed to the worker as the files a dropped folder would be (engine.sendModelFiles).
// Failures are shown beside the model that stays loaded.
import { parseModelConfig } from '../formats/model-config';
import type { HubModel } from '../model/sources/hub';
import type { FileProgress } from '../model/sources/open';
import { useAppStore } from '../store';
import { messageOf, sendModelFiles } from './engine';

const store = () => useAppStore.getState();

/** The Hub the page asks: `?hf_endpoint=URL` (huggingface_hub's HF_ENDPOINT), else huggingface.co. */
export function hubEndpointParam(): string | null {
  return new URLSearchParams(globalThis.location?.search ?? '').get('hf_endpoint');
}

const HUB_TOKEN_HINT =
  'the page sends no token: download it with the CLI (HF_TOKEN=hf_... npm run cli -- ... --model ORG/NAME) and pick its folder here';

/** The repo whose config.json is shown, waiting for the user to download the rest; and the newest request. */
let hubPending: HubModel | null = null;
let hubSeq = 0;

/**
 * Step one of a Hub model: resolve `repo` (ORG/NAME, optionally @REVISION; `revision` overrides) to a commit
 * and fetch its config.json alone, so the page can show the plan before a weight byte is fetched. A failure
 * is shown beside the model that stays loaded.
 */
export async function checkHubModel(repo: string, revision = ''): Promise<void> {
  const text = repo.trim() + (revision.trim() ? `@${revision.trim()}` : '');
  const seq = ++hubSeq;
  hubPending = null;
  store().clearModelNotice();
  // Loaded on first use: @huggingface/hub stays out of the first page load.
  const { formatHubModelId, HubError, HubModel, parseHubModelId } = await import('../model/sources/hub');
  if (seq !== hubSeq) return;
  const id = parseHubModelId(text);
  if (!id) {
    store().setHub({ state: 'idle' });
    store().modelFailed(`"${text}" is not a Hub model id (ORG/NAME, or ORG/NAME@REVISION)`);
    return;
  }
  store().setHub({ state: 'checking', name: formatHubModelId(id) });
  try {
    const h = await HubModel.open(id, {
      endpoint: hubEndpointParam(),
      tokenHint: HUB_TOKEN_HINT,
      onProgress: hubProgressThrottled(),
    });
    const configJson = await h.text('config.json');
    if (configJson === null) throw new HubError('missing-file', `${h.name} has no config.json`);
    // An unsupported architecture is refused now, not after the download.
    parseModelConfig(configJson, `${h.name}/config.json`);
    if (seq !== hubSeq) return;
    hubPending = h;
    store().setHub({ state: 'planned', name: h.name, commit: h.commit, offline: h.offline, configJson });
  } catch (e) {
    if (seq !== hubSeq) return;
    store().setHub({ state: 'idle' });
    store().modelFailed(messageOf(e));
  }
}

/**
 * Progress into the store at most once per percent of a file (and at its end): a 1 GB shard arrives in
 * some 16,000 chunks, one re-render each would be wasted work on the page's thread.
 */
function hubProgressThrottled(): (p: FileProgress) => void {
  const shown = new Map<string, number>();
  return (p) => {
    const step = p.totalBytes ? p.totalBytes / 100 : 1 << 20;
    const last = shown.get(p.file);
    if (!p.done && last !== undefined && p.loadedBytes - last < step) return;
    shown.set(p.file, p.loadedBytes);
    store().hubProgress(p.file, p);
  };
}

/** Drops a checked Hub model without downloading it. */
export function cancelHubModel(): void {
  hubSeq++;
  hubPending = null;
  store().setHub({ state: 'idle' });
}

/**
 * Step two: the model's files (from the cache when there, keyed by the commit), then handed to the worker
 * as the same 'files' source a dropped folder uses, so it is validated and loaded the same way.
 */
export async function downloadHubModel(): Promise<void> {
  const h = hubPending;
  const hub = store().hub;
  if (!h || hub.state !== 'planned') return;
  const seq = hubSeq;
  store().setHub({ ...hub, state: 'downloading', files: {} });
  try {
    const files = await h.files();
    if (seq !== hubSeq) return;
    sendModelFiles(h.name, files);
    hubPending = null;
    store().setHub({ state: 'idle' });
  } catch (e) {
    if (seq !== hubSeq) return;
    // Back to the plan: the files already in the cache stay there, a retry fetches only the rest.
    store().setHub({ ...hub, state: 'planned' });
    store().modelFailed(messageOf(e));
  }
}
