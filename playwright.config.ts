// End-to-end tests in real Chromium with WebGPU. The system Chromium is used (Debian's `chromium`
// package, which ships SwiftShader) because `npx playwright install` needs network access; set
// CHROMIUM_PATH to use another build. Vite serves the TypeScript sources, so specs can import engine
// modules inside the page.
import { defineConfig } from '@playwright/test';

/** Fixed, away from Vite's default 5173, so a running `npm run dev` does not collide with the tests. */
const PORT = 5188;

/** Flags for WebGPU in headless Chromium. `--enable-unsafe-webgpu` is the one that matters on Linux
 * (WebGPU is off by default there); with no GPU driver Chromium then picks SwiftShader on its own.
 * The rest keep a headless run quiet and offline. */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  // SwiftShader compiles every pipeline on the CPU; the first one in a fresh browser can take seconds.
  timeout: 120_000,
  expect: { timeout: 60_000 },
  retries: 0,
  workers: 1,
  fullyParallel: false,
  reporter: 'list',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    screenshot: 'only-on-failure',
    trace: 'off',
  },
  webServer: {
    command: `npx vite --port ${PORT} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
