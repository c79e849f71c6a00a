// Vite config for the playground page: React, and workers bundled as ES modules.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  // Pre-bundled up front: discovered on first use, Vite would re-optimise and reload the page mid-run
  // (the ONNX deploy preview and e2e/onnx.spec.ts import it lazily).
  optimizeDeps: { include: ['onnxruntime-web/wasm'] },
  build: { target: 'es2022' },
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
});
