// git's own smart HTTP server, `git http-backend`, run as a CGI program for one request: the request body goes to
// its stdin, its CGI headers become the response's, the rest is streamed back. The caller has already decided who
// may do what; git only speaks the protocol.
import type { Request, Response } from 'express';
import { execa } from 'execa';

export type BackendRequest = {
  /** Directory that holds the served repositories. */
  projectRoot: string;
  /** `/<repo>.git/info/refs`, `/<repo>.git/git-upload-pack` or `/<repo>.git/git-receive-pack`. */
  pathInfo: string;
  remoteUser: string;
  remoteAddr: string;
  /** Extra environment for git and its hooks. */
  env?: Record<string, string>;
  /** Request bodies (packs) larger than this are cut off: the config repository holds small text files. */
  maxBodyBytes?: number;
  /** Runs after git has exited and before the response ends (the client waits for it): e.g. applying a push. */
  beforeEnd?: (exitCode: number) => Promise<void>;
};

/** Runs one request through git http-backend; resolves when the response has been sent and git has exited. */
export async function serveGit(req: Request, res: Response, b: BackendRequest): Promise<{ exitCode: number }> {
  const q = req.originalUrl.indexOf('?');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_PROJECT_ROOT: b.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: req.method,
    PATH_INFO: b.pathInfo,
    QUERY_STRING: q < 0 ? '' : req.originalUrl.slice(q + 1),
    CONTENT_TYPE: req.get('content-type') ?? '',
    REMOTE_USER: b.remoteUser,
    REMOTE_ADDR: b.remoteAddr,
    ...(req.get('content-length') ? { CONTENT_LENGTH: req.get('content-length')! } : {}),
    ...(req.get('content-encoding') ? { HTTP_CONTENT_ENCODING: req.get('content-encoding')! } : {}),
    ...(req.get('git-protocol') ? { GIT_PROTOCOL: req.get('git-protocol')! } : {}),
    ...b.env,
  };
  const child = execa('git', ['http-backend'], { env, extendEnv: false, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false });
  child.stdin!.on('error', () => undefined); // git gone early (refused, killed): its exit code says so
  let received = 0;
  const limit = b.maxBodyBytes ?? 64 * 1024 * 1024;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) {
      child.kill();
      req.unpipe(child.stdin!);
      if (!res.headersSent) res.status(413).type('text').send(`This push is larger than ${Math.round(limit / 2 ** 20)} MB; the config repository holds env files only.\n`);
    }
  });
  req.pipe(child.stdin!);
  req.on('error', () => child.kill());
  res.on('close', () => {
    if (!res.writableFinished) child.kill();
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });

  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    if (res.writableEnded) return;
    if (headersDone) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') : head.indexOf('\n\n');
    if (end < 0) return;
    const sep = head[end] === 0x0d ? 4 : 2;
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') res.status(Number.parseInt(value, 10) || 500);
      else res.setHeader(name, value);
    }
    headersDone = true;
    const rest = head.subarray(end + sep);
    if (rest.length) res.write(rest);
  });
  const result = await child;
  await b.beforeEnd?.(result.exitCode ?? -1).catch(() => undefined);
  if (res.writableEnded) return { exitCode: result.exitCode ?? -1 };
  if (!headersDone) {
    if (!res.headersSent) res.status(500).type('text').send(`git http-backend failed${stderr ? `: ${stderr.trim().slice(0, 300)}` : ''}\n`);
  } else res.end();
  return { exitCode: result.exitCode ?? -1 };
}
