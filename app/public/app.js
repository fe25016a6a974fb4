// Live pages say when their connection to the node is lost (the node restarting, a network cut) and when it
// is back; htmx's SSE extension reconnects by itself. No inline script: the CSP allows only files from 'self'.
document.addEventListener('htmx:sseError', (e) => {
  const live = e.target instanceof Element ? e.target.closest('[sse-connect]') : null;
  if (live) live.dataset.reconnecting = live.dataset.reconnectNote || 'The connection to the node was lost: reconnecting…';
});
document.addEventListener('htmx:sseOpen', (e) => {
  if (e.target instanceof Element) delete e.target.closest('[sse-connect]')?.dataset.reconnecting;
});
