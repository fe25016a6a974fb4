// The ZIM downloader's transport interface (app/adapters/remote/http-answer.ts) over the npm package undici (a
// devDependency), in its two streaming forms: `request` (the body as a Readable) and `stream` (the body written into
// a Writable made when the head arrives). The ZIM bench measures both against the node's own Http1Get side by side
// (bench/zim-download.ts); the figures and the verdict are at the top of app/adapters/remote/http-client.ts.
import { Writable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, interceptors, request, stream, type Dispatcher } from 'undici';
import type { Answer, BodyHandler, Transport } from '../app/adapters/remote/http-answer.ts';

const MAX_REDIRECTS = 5;

function dispatcherFor(ca: string | Buffer | undefined): Dispatcher {
  // The downloader watches for silence and crawling itself; undici's own 300 s timeouts would only race it.
  const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, ...(ca ? { connect: { ca: [...rootCertificates, String(ca)] } } : {}) });
  return agent.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
}

function headerGetter(headers: Record<string, string | string[] | undefined>): Answer['headers'] {
  return {
    get: (name) => {
      const v = headers[name.toLowerCase()];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

/** undici's `request`: the body is a Readable, read chunk by chunk; a handler's promise holds the next read. */
export function undiciRequestTransport(ca?: string | Buffer): Transport {
  const dispatcher = dispatcherFor(ca);
  return async (url, headers, signal) => {
    // 256 KiB as Http1Get reads; undici's default 64 KiB measured the same.
    const res = await request(url, { dispatcher, headers, signal, highWaterMark: 256 * 1024 });
    return {
      status: res.statusCode,
      statusText: res.statusText ?? '',
      headers: headerGetter(res.headers),
      consume: async (handler) => {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          const wait = handler.chunk(chunk);
          if (wait) await wait;
        }
      },
      cancel: () => void res.body.destroy(),
    };
  };
}

/** undici's `stream`: the body is written into a Writable whose callback waits for the handler's promise. */
export function undiciStreamTransport(ca?: string | Buffer): Transport {
  const dispatcher = dispatcherFor(ca);
  return (url, headers, signal) =>
    new Promise<Answer>((resolve, reject) => {
      const cancel = new AbortController();
      let handler: BodyHandler | undefined;
      let pending: (() => void) | undefined;
      const done = stream(url, { dispatcher, method: 'GET', headers, signal: AbortSignal.any([signal, cancel.signal]) }, ({ statusCode, headers: head }) => {
        const sink = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            const go = () => {
              try {
                const wait = handler!.chunk(chunk);
                if (wait) wait.then(() => callback(), callback);
                else callback();
              } catch (err) {
                callback(err as Error);
              }
            };
            if (handler) go();
            else pending = go;
          },
        });
        resolve({
          status: statusCode,
          statusText: '',
          headers: headerGetter(head),
          consume: (body) => {
            handler = body;
            pending?.();
            pending = undefined;
            return done.then(() => undefined);
          },
          cancel: () => cancel.abort(Object.assign(new Error('cancelled'), { code: 'ECANCELLED' })),
        });
        return sink;
      });
      done.catch(reject); // before the head: the request failed; after it, consume() reports
    });
}
