// The HTTP client the ZIM downloader streams files with: one small interface (an answer whose body is fed to a
// handler that may ask the read to wait) that the built-in HTTP/1.1 GET (`http1-get.ts`) and an injected fetch
// both fill, and the redirect following around it. Knows nothing of ZIM files: what a status or size means for a
// download is the caller's to judge (services/zim/transfer.ts).
import { HttpClientError, type Answer, type Transport } from './http-answer.ts';
import { Http1Get, READ_BUFFER_BYTES } from './http1-get.ts';

export { HttpClientError, READ_BUFFER_BYTES };
export type { Answer, BodyHandler, ResponseHead, Transport } from './http-answer.ts';

const MAX_REDIRECTS = 5;

/** Follows redirects (download.kiwix.org sends every request on to a mirror) around one GET per connection. */
export function directTransport(ca: string | Buffer | undefined): Transport {
  return async (url, headers, signal) => {
    let current = new URL(url);
    for (let hop = 0; ; hop++) {
      const answer = await Http1Get.start(current, headers, signal, ca);
      const location = answer.headers.get('location');
      if (answer.status < 300 || answer.status >= 400 || !location) return answer;
      answer.cancel();
      const next = new URL(location, current);
      if (hop >= MAX_REDIRECTS) throw new HttpClientError('protocol', `${current.host} redirected more than ${MAX_REDIRECTS} times`);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new HttpClientError('protocol', `${current.host} redirected to a non-http address`);
      current = next;
    }
  };
}

/** An injected fetch (tests, proxies) behind the same interface; slower, see Http1Get. */
export function fetchTransport(fetchImpl: typeof fetch): Transport {
  return async (url, headers, signal) => {
    const res = await fetchImpl(url, { headers, signal, redirect: 'follow' });
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
      consume: async (handler) => {
        if (!res.body) return;
        reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          const wait = handler.chunk(value);
          if (wait) await wait;
        }
      },
      cancel: () => void (reader ?? res.body)?.cancel().catch(() => undefined),
    };
  };
}
