// Browser entry: mounts the React app. Everything else (device, store, panels) starts from App.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { useAppStore } from './store';
import { App } from './ui/App';
import './ui/app.css';

// The store, reachable from devtools and from tests that drive the page's state directly (e.g. the chart
// redraw profile in bench/), also in a production build where modules cannot be imported by URL.
Object.assign(window, { __peftStore: useAppStore });

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
