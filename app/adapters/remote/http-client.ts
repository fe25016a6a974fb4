// The HTTP client the ZIM downloader streams files with: one small interface (an answer whose body is fed to a
// handler that may ask the read to wait) that the built-in HTTP/1.1 GET (`http1-get.ts`) and an injected fetch
// both fill, and the redirect following around it. Knows nothing of ZIM files: what a status or size means for a
// download is the caller's to judge (services/zim/transfer.ts).
//
// Why our own HTTP/1.1 client and not undici (measured session 7, `node bench/zim-download.ts`: a 200 MiB file from
// 127.0.0.1, downloadZim over each client in its own process with the node's flags, nine rotating runs, medians,
// 2 cores shared with other work): the rule was to keep it only if undici is more than 5 % slower.
//   node's flags:  http1 455 MB/s, RSS 110 MB (peak 111) | undici request 252 MB/s (0.55×), RSS 135 (peak 138)
//                  | undici stream 211 MB/s (0.46×), RSS 145 (peak 158) | curl 446 MB/s
//   V8 defaults:   http1 262 MB/s, RSS 133 (peak 155) | undici request 145 MB/s (0.55×), RSS 195 (peak 198)
//                  | undici stream 107 MB/s (0.41×), RSS 169 (peak 180) | curl 331 MB/s (a busier machine)
// (RSS of the bench's client processes, which run TypeScript and so carry Node's type stripper, the same for each.)
// undici is 45–59 % slower and holds 25–60 MB more, so the hand-written client stays. The undici side of the
// comparison is bench/undici-transport.ts (request's highWaterMark 64 KiB or 256 KiB: the same).
import { HttpClientError, type Transport } from './http-answer.ts';
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
