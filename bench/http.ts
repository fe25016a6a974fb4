// HTTP for the bench: timing a request, logging in and following SSE over node:http with explicit keep-alive agents;
// load from lean raw connections.
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { takeSseEvents } from '../test/support/sse.ts';

export type Timed = { status: number; ms: number; body: string };

/**
 * One GET to 127.0.0.1:port. Times from the call to the end of the body.
 * With `keepBody: false` the body is drained, not kept (cheaper in the measuring loops).
 */
export function get(
  port: number,
  path: string,
  opts: { agent: http.Agent | false; cookie?: string; keepBody?: boolean; timeoutMs?: number },
): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'GET', agent: opts.agent, headers: opts.cookie ? { cookie: opts.cookie } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        if (opts.keepBody) res.on('data', (c: Buffer) => chunks.push(c));
        else res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: opts.keepBody ? Buffer.concat(chunks).toString('utf8') : '' }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A raw request returning status, headers and body (for the login dance). */
function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

function cookieFrom(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  for (const line of headers['set-cookie'] ?? []) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(line);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** Logs in as admin the way a browser does; returns the Cookie header value for later requests. */
export async function logIn(port: number, password: string): Promise<string> {
  const page = await request(port, 'GET', '/login', {});
  if (page.status !== 200) throw new Error(`GET /login answered ${page.status}`);
  const csrfCookie = cookieFrom(page.headers, 'lores_csrf');
  const csrfField = /name="_csrf" value="([^"]*)"/.exec(page.body)?.[1];
  if (!csrfCookie || !csrfField) throw new Error('GET /login gave no lores_csrf cookie or _csrf field');
  const form = new URLSearchParams({ username: 'admin', password, _csrf: csrfField, next: '/' }).toString();
  const res = await request(
    port,
    'POST',
    '/login',
    { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(form)), cookie: `lores_csrf=${csrfCookie}` },
    form,
  );
  const session = cookieFrom(res.headers, 'lores_session');
  if (res.status !== 303 || !session) throw new Error(`POST /login answered ${res.status} without a session cookie`);
  return `lores_session=${session}`;
}

export type SseEvent = { event: string; data: string; at: number };

/** One long-lived SSE connection; every event is timestamped (performance.now()) on arrival and handed to listeners. */
export class SseClient {
  #req: http.ClientRequest | null = null;
  #listeners = new Set<(e: SseEvent) => void>();
  events = 0;

  static open(port: number, path: string, cookie: string): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { cookie, accept: 'text/event-stream' } },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`SSE ${path} answered ${res.statusCode}`));
            return;
          }
          res.setEncoding('utf8');
          let buffer = '';
          res.on('data', (chunk: string) => {
            const at = performance.now();
            const taken = takeSseEvents(buffer + chunk);
            buffer = taken.rest;
            for (const { event, data } of taken.events) {
              client.events += 1;
              for (const fn of client.#listeners) fn({ event, data, at });
            }
          });
          res.on('error', () => {});
          resolve(client);
        },
      );
      req.on('error', reject);
      req.end();
      client.#req = req;
    });
  }

  on(fn: (e: SseEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Resolves with the first event that `match` accepts, or rejects after `timeoutMs`. */
  next(match: (e: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching SSE event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on((e) => {
        if (!match(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  /** Resolves once no event has come for `quietMs` (or after `maxMs` regardless); returns whether it went quiet. */
  async quiet(quietMs: number, maxMs: number): Promise<boolean> {
    const until = performance.now() + maxMs;
    let last = performance.now();
    const off = this.on((e) => (last = e.at));
    try {
      while (performance.now() < until) {
        if (performance.now() - last >= quietMs) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    } finally {
      off();
    }
  }

  close(): void {
    this.#req?.destroy();
    this.#req = null;
    this.#listeners.clear();
  }
}

/** running/desired from the `<span class="replicas">` inside the element with data-stack="<stack>", if shown. */
export function replicasOf(html: string, stack: string): { running: number; desired: number } | undefined {
  const at = html.indexOf(`data-stack="${stack}"`);
  if (at < 0) return undefined;
  const m = /<span class="replicas">(\d+) of (\d+)<\/span>/.exec(html.slice(at, at + 4000));
  return m ? { running: Number(m[1]), desired: Number(m[2]) } : undefined;
}

/** data-status of every element with data-stack, by stack. */
export function statusesOf(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/data-stack="([^"]+)" data-status="([^"]+)"/g)) if (m[1] && m[2]) out.set(m[1], m[2]);
  return out;
}

/**
 * One keep-alive HTTP/1.1 connection issuing `GET path` back to back until `deadline` (performance.now() ms),
 * pushing each request's time onto `times`. It is a load generator, not a general client: it reads only the status
 * line and Content-Length (the node answers pages with one; a response without it counts as an error and ends this
 * connection). node:http's client costs about twice the CPU per request, CPU that on a 2-core machine the node under
 * test would otherwise have, so load figures measured with it describe the client as much as the node.
 */
export function loadConnection(
  port: number,
  path: string,
  cookie: string,
  deadline: number,
  times: number[],
  onError: (why: string) => void,
): Promise<void> {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${cookie}\r\n\r\n`, 'latin1');
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    let started = 0;
    let head = ''; // the response head so far, until its blank line is seen
    let bodyLeft = -1; // body bytes still to come, once the head is read
    let status = 0;
    let done = false;
    const finish = (why?: string) => {
      if (done) return;
      done = true;
      if (why) {
        onError(why);
        socket.destroy();
      } else socket.end();
      resolve();
    };
    const next = () => {
      if (performance.now() >= deadline) return finish();
      head = '';
      bodyLeft = -1;
      started = performance.now();
      socket.write(request);
    };
    socket.setTimeout(10_000, () => {
      times.push(performance.now() - started);
      finish(`GET ${path} timed out`);
    });
    socket.on('connect', next);
    socket.on('data', (chunk: Buffer) => {
      let bodyBytes = chunk.length;
      if (bodyLeft < 0) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end))?.[1];
        if (length === undefined) return finish(`GET ${path} answered ${status} without Content-Length`);
        bodyLeft = Number(length);
        bodyBytes = head.length - (end + 4); // latin1: one char per byte
      }
      bodyLeft -= bodyBytes;
      if (bodyLeft > 0) return;
      times.push(performance.now() - started);
      if (status !== 200) onError(`GET ${path} answered ${status}`);
      next();
    });
    socket.on('error', (err) => finish(err.message));
    socket.on('close', () => finish(`the node closed the connection during GET ${path}`));
  });
}
