// The config repository over git's smart HTTP protocol: one request through `git http-backend`, once the route
// has decided who may do what (routes/git.ts).
import type { Request, Response } from 'express';
import { serveGit, type BackendRequest } from '../../adapters/git/http-backend.ts';
import type { ConfigRepository } from './repo.ts';

export function serveRepository(repo: Pick<ConfigRepository, 'repoRoot'>, req: Request, res: Response, b: Omit<BackendRequest, 'projectRoot'>): Promise<{ exitCode: number }> {
  return serveGit(req, res, { projectRoot: repo.repoRoot, ...b });
}
