// Live pages say when their connection to the node is lost (the node restarting, a network cut) and when it
// is back; they reconnect by themselves (see SteadyEventSource). No inline script: the CSP allows only 'self'.
document.addEventListener('htmx:sseError', (e) => {
  const live = e.target instanceof Element ? e.target.closest('[sse-connect]') : null;
  if (live) live.dataset.reconnecting = live.dataset.reconnectNote || 'The connection to the node was lost: reconnecting…';
});
document.addEventListener('htmx:sseOpen', (e) => {
  if (e.target instanceof Element) delete e.target.closest('[sse-connect]')?.dataset.reconnecting;
});

// Behind Traefik a restarting node answers 502, and a 502 closes an EventSource for good. htmx's SSE extension then
// makes a new one after a back-off that doubles up to 64 s, so a page could show the node's return a minute late
// (after a self-upgrade, say). Here every live page's source makes a new connection 2 s after a close instead (10 s
// once a minute has passed that way: a tab whose session ended keeps asking, but slowly), and tells the extension it
// is only reconnecting, so the extension's back-off never starts. Network cuts are left to the browser, which
// reconnects by itself after the node's `retry: 2000`.
const RECONNECT_MS = 2000;
const RECONNECT_SLOW_MS = 10_000;
const RECONNECTS_BEFORE_SLOW = 30;
class SteadyEventSource {
  constructor(url) {
    this.url = url;
    this.closed = false;
    this.closes = 0; // in a row, without an open between
    this.listeners = [];
    this.onopen = null;
    this.onerror = null;
    this.onmessage = null;
    this.connect();
  }
  connect() {
    const source = new EventSource(this.url, { withCredentials: true });
    this.source = source;
    source.onopen = (e) => {
      this.closes = 0;
      this.onopen?.(e);
    };
    source.onmessage = (e) => this.onmessage?.(e);
    source.onerror = (e) => {
      if (source.readyState === EventSource.CLOSED && !this.closed) {
        const wait = this.closes++ < RECONNECTS_BEFORE_SLOW ? RECONNECT_MS : RECONNECT_SLOW_MS;
        setTimeout(() => this.closed || this.connect(), wait);
      }
      this.onerror?.(e);
    };
    for (const [type, listener] of this.listeners) source.addEventListener(type, listener);
  }
  get readyState() {
    if (this.closed) return EventSource.CLOSED;
    return this.source.readyState === EventSource.CLOSED ? EventSource.CONNECTING : this.source.readyState;
  }
  addEventListener(type, listener) {
    this.listeners.push([type, listener]);
    this.source.addEventListener(type, listener);
  }
  removeEventListener(type, listener) {
    this.listeners = this.listeners.filter(([t, l]) => t !== type || l !== listener);
    this.source.removeEventListener(type, listener);
  }
  close() {
    this.closed = true;
    this.source.close();
  }
}
if (window.htmx) window.htmx.createEventSource = (url) => new SteadyEventSource(url);

// Times: the server writes <time datetime="ISO" data-style="datetime|date|time"> with a UTC text (for pages read
// without JavaScript); here they are shown in the browser's own time zone, the UTC moment kept in the tooltip.
const TIME_FORMATS = {
  datetime: { dateStyle: 'medium', timeStyle: 'short' },
  date: { dateStyle: 'medium' },
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit' },
};
function localTimes(root) {
  for (const el of root.querySelectorAll('time[datetime][data-style]:not([data-local])')) {
    const d = new Date(el.getAttribute('datetime'));
    const format = TIME_FORMATS[el.dataset.style];
    if (Number.isNaN(d.getTime()) || !format) continue;
    el.title = `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
    el.textContent = new Intl.DateTimeFormat(undefined, format).format(d);
    el.dataset.local = '1';
  }
}
document.addEventListener('DOMContentLoaded', () => localTimes(document));
document.addEventListener('htmx:afterSettle', (e) => localTimes(e.target instanceof Element ? e.target : document));
document.addEventListener('htmx:sseMessage', (e) => localTimes(e.target instanceof Element ? e.target : document));
