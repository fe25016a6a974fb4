// Pages, fragments, live streams and redirects carry people's data and tokens: on a shared library computer they
// must not stay in the browser's cache after logout. Everything past the static assets is `no-store`.
import type { RequestHandler } from 'express';

export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};
