// Acting on the in-process node (testNode) as one person: their session, form posts with their CSRF token, and the
// job a post started, followed to its end. The integration tests' one set of post/job helpers.
import supertest from 'supertest';
import { expect } from 'vitest';
import type { TestNode } from './app.ts';

export type Auth = { cookie: string; csrf: string };
/** What supertest answers: enough to follow a post's redirect to its job. */
export type Posted = { status: number; headers: Record<string, string>; text: string };

/** A session for `username` started as a login would start it (no login form), with its CSRF token. */
export async function sessionFor(node: TestNode, username: string, password: string): Promise<Auth> {
  const user = await node.services.people.authenticate(username, password);
  if (!user) throw new Error(`${username} cannot log in with that password`);
  const s = node.services.sessions.start(user, { ip: '127.0.0.1', userAgent: 'test' });
  return { cookie: `lores_session=${s.token}`, csrf: s.session.csrfToken };
}

/** The job a post redirected to (`/jobs/<id>`); NaN when it did not redirect to one. */
export const jobIdFrom = (location: string | undefined): number => Number(/^\/jobs\/(\d+)$/.exec(location ?? '')?.[1]);

/** Everything a job printed, one line each. */
export const jobOutput = (node: TestNode, jobId: number): string =>
  node.services.store.jobs
    .output(jobId)
    .map((l) => l.line)
    .join('\n');

/** The post must have redirected to a job (303): resolves with the job's row once it has finished. */
export async function jobFinished(node: TestNode, res: Posted) {
  expect(res.status, res.text.slice(0, 500)).toBe(303);
  return node.services.jobs.finished(jobIdFrom(res.headers.location));
}

/** As `jobFinished`, and the job must have succeeded (its output is the failure message). */
export async function jobSucceeded(node: TestNode, res: Posted) {
  const job = await jobFinished(node, res);
  expect(job.state, jobOutput(node, job.id)).toBe('succeeded');
  return job;
}

export type Person = ReturnType<typeof actingAs>;

export function actingAs(node: TestNode, auth: Auth) {
  return {
    ...auth,
    get: (url: string) => supertest(node.app).get(url).set('Cookie', auth.cookie),
    /** A form post with the person's CSRF token; redirects are not followed. */
    post: (url: string, form: Record<string, string> = {}) => supertest(node.app).post(url).set('Cookie', auth.cookie).type('form').send({ _csrf: auth.csrf, ...form }),
    finished: (res: Posted) => jobFinished(node, res),
    succeeded: (res: Posted) => jobSucceeded(node, res),
    output: (jobId: number) => jobOutput(node, jobId),
  };
}
