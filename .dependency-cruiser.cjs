// The import direction of app/ (see app/README.md), checked by `npm run lint:deps` (the first step of `npm test`):
//   http → services → adapters → store, and the shared kernel (config, validation, errors, log, version,
//   platform) below all of them. The composition root (app.ts, server.ts, startup.ts, cli.ts) wires
//   the layers together and may import any of them. No cycles; views and public files are never imported.
const KERNEL = '^app/(config|log|validation|errors|version|platform)[.]ts$';
const ROOT = '^app/(app|server|startup|cli)[.]ts$';
const LAYERS = ['^app/(http|services|adapters|store)/', ROOT];

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'A cycle ties modules into one: break it with a shared type or a callback.', from: { path: '^app/' }, to: { circular: true } },
    { name: 'kernel-below-all', severity: 'error', comment: 'The kernel (config, validation, errors, log) is imported by every layer, so it imports none.', from: { path: KERNEL }, to: { path: LAYERS } },
    { name: 'store-is-lowest', severity: 'error', comment: 'The store (the only SQL) knows nothing above it.', from: { path: '^app/store/' }, to: { path: ['^app/(http|services|adapters)/', ROOT] } },
    { name: 'adapters-below-services', severity: 'error', comment: 'Adapters talk to Docker, abra, git, the disk and the network; the rules that use them are services.', from: { path: '^app/adapters/' }, to: { path: ['^app/(http|services)/', ROOT] } },
    { name: 'services-below-http', severity: 'error', comment: 'Services have no req/res: they never import the HTTP layer.', from: { path: '^app/services/' }, to: { path: ['^app/http/', ROOT] } },
    { name: 'http-gets-services-only', severity: 'error', comment: 'Routes, middleware and views reach Docker, abra and SQLite only through services.', from: { path: '^app/http/' }, to: { path: ['^app/(store|adapters)/', ROOT] } },
    { name: 'views-and-public-not-imported', severity: 'error', comment: 'Templates and browser files are read at run time, never imported.', from: {}, to: { path: '^app/(views|public)/' } },
  ],
  options: {
    // TypeScript 7 has no JS API: swc parses the sources, type-only imports included (test/unit/import-rules.test.ts).
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    // Views and browser files are looked at only as what something imports (which the rule above forbids).
    doNotFollow: { path: ['node_modules', '^app/(views|public)/'] },
  },
};
