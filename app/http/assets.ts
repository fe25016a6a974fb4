// Static files served by the node itself (no CDN: nodes are often offline): our CSS and JS, htmx from node_modules.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

const require = createRequire(import.meta.url);
const publicDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');

const VENDOR: Record<string, string> = {
  'htmx.min.js': require.resolve('htmx.org/dist/htmx.min.js'),
  'htmx-sse.min.js': require.resolve('htmx-ext-sse/dist/sse.min.js'),
};

export function assetRoutes(): Router {
  const r = Router();
  const cache = { maxAge: '1h', immutable: false } as const;
  r.use('/assets', express.static(publicDir, { ...cache, index: false, fallthrough: true }));
  for (const [name, file] of Object.entries(VENDOR)) {
    r.get(`/assets/vendor/${name}`, (_req, res) => res.sendFile(file, cache));
  }
  r.get('/favicon.ico', (_req, res) => res.status(204).end()); // browsers ask for it on every first visit
  return r;
}
