#!/bin/sh
# kiwix-serve in library mode, for the LoRes Kiwix recipe (shipped as a swarm config, see compose.yml).
#
# The contract (README.md "Adding and removing ZIM files"):
#   - every regular file in $ZIM_DIR whose name ends in .zim is served; anything else (x.zim.part) is ignored;
#   - the library (an XML list of books) lives outside the read-only ZIM folder, in $LIBRARY;
#   - it is rebuilt from scratch at start and whenever the set of *.zim files (name, size, mtime) changes,
#     checked every $LIBRARY_POLL_SECONDS; it is built in a temp file and renamed over the old one, and
#     kiwix-serve (--monitorLibrary) reloads it on its own: no restart, no outage;
#   - with no ZIM file at all the library is empty and kiwix-serve still serves its (empty) catalogue.
# Written for busybox sh (the image has no bash).
set -u

ZIM_DIR=${ZIM_DIR:-/data}
LIBRARY=${LIBRARY:-/tmp/library.xml}
PORT=${PORT:-8080}
POLL=${LIBRARY_POLL_SECONDS:-3}
# kiwix-serve compares the library's mtime in whole seconds: two rebuilds must be at least a second apart.
case "$POLL" in '' | *[!0-9]*) POLL=3 ;; esac
[ "$POLL" -ge 2 ] || POLL=2

log() { echo "lores-kiwix: $*"; }

# One line per *.zim file: name, size, mtime. Any change means a rebuild.
signature() {
  for f in "$ZIM_DIR"/*.zim; do
    [ -f "$f" ] || continue
    stat -c '%n %s %Y' "$f" 2>/dev/null || ls -ln "$f" 2>/dev/null
  done
  return 0
}

build_library() {
  tmp="$LIBRARY.new"
  printf '<library version="20110515"></library>\n' > "$tmp" || return 1
  books=0
  for f in "$ZIM_DIR"/*.zim; do
    [ -f "$f" ] || continue
    if kiwix-manage "$tmp" add "$f" > /dev/null 2>&1; then
      books=$((books + 1))
    else
      log "skipped $f: kiwix-manage cannot read it (not a ZIM file, or not complete yet)"
    fi
  done
  mv -f "$tmp" "$LIBRARY" || return 1
  log "library $LIBRARY: $books ZIM file(s) from $ZIM_DIR"
}

server=
stop() {
  log "stopping"
  [ -n "$server" ] && kill -TERM "$server" 2> /dev/null && wait "$server"
  exit 0
}
trap stop TERM INT

[ -d "$ZIM_DIR" ] || log "warning: $ZIM_DIR does not exist; serving an empty library until it has *.zim files"
[ -r "$ZIM_DIR" ] && [ -x "$ZIM_DIR" ] || log "warning: $ZIM_DIR is not readable by uid $(id -u 2> /dev/null || echo '?'): chmod -R a+rX it on the host"

seen=$(signature)
build_library || { log "cannot write $LIBRARY"; exit 1; }
kiwix-serve --library --monitorLibrary --nodatealiases --port="$PORT" "$LIBRARY" &
server=$!

while :; do
  sleep "$POLL" &
  wait $!
  if ! kill -0 "$server" 2> /dev/null; then
    wait "$server"
    code=$?
    log "kiwix-serve exited with $code"
    [ "$code" -eq 0 ] && code=1
    exit "$code"
  fi
  now=$(signature)
  if [ "$now" != "$seen" ]; then
    seen=$now
    build_library || log "could not rebuild $LIBRARY; keeping the previous one"
  fi
done
