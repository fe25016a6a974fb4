# LoRes Node: the image that recipe/compose.yml deploys.
#
#   docker build -t lores-node:0.1.0 .
#   npm run release -- --version 0.1.0     # linux/amd64 + linux/arm64 as one OCI index (release/, recipe/README.md)
#
# linux/arm/v7 (32-bit Raspberry Pi OS): Node.js 24 publishes no official armv7l build, so node:24-* images have
# no arm/v7 variant and none is released. Build that platform with BASE_IMAGE and BUILD_IMAGE naming a Node 24
# armv7 base; the rest of this file handles it (abra's armv7 release, better-sqlite3 compiled for lack of a
# prebuilt binary).
#
# Build arguments. The defaults make the release image; the tests override them to build this same file
# where no registry is reachable (a base made from the host's Node, the abra test double).
#   BASE_IMAGE     run-time base: Debian bookworm slim with Node.js 24.
#   BUILD_IMAGE    build base: Node.js 24 with npm. A C++ toolchain is only needed where better-sqlite3 ships
#                  no prebuilt binary (linux/arm/v7); it is installed below if the base lacks it.
#   ABRA_SOURCE    abra's release tarball, "{arch}" becoming amd64, arm64 or armv7, checked against the pinned
#                  sha-256 sums below (the build fails on a mismatch). Or a file or folder in the build context
#                  holding `abra`, `abra.ts` or `abra.js` (tests: ABRA_SOURCE=test/abra-double; .dockerignore
#                  must let it through).
#   NODE_TARGET_ARCH  Node's name (x64, arm64) of the run-time architecture when BUILD_IMAGE is of another one:
#                  npm and TypeScript then run natively on the build machine and only better-sqlite3's prebuilt
#                  binary for NODE_TARGET_ARCH is kept (the build fails if it ships none). Empty: the build stage is
#                  of the run-time architecture (under QEMU when foreign: slower). `npm run release` sets it.
#   EXTRA_CA_CERT  tests only, never needed: the path, inside the build image, of a CA bundle to trust for npm
#                  and downloads during the build (the test machines re-sign outbound TLS).
#   VERSION, REVISION  for the OCI labels.
# Legacy builder and BuildKit both work. No `# syntax=` line: BuildKit would try to pull a frontend.
ARG BASE_IMAGE=node:24-bookworm-slim
ARG BUILD_IMAGE=node:24-bookworm
ARG ABRA_SOURCE=https://git.coopcloud.tech/coop-cloud/abra/releases/download/0.13.0-beta/abra_0.13.0-beta_linux_{arch}.tar.gz

# ---- the build context (small, see .dockerignore), for the bundled recipes and a local ABRA_SOURCE
FROM ${BUILD_IMAGE} AS sources
WORKDIR /ctx
COPY . .
# recipes/ holds the recipes bundled with the node; it may not exist yet.
RUN mkdir -p recipes

# ---- abra from its release, for the target architecture, verified
FROM ${BUILD_IMAGE} AS abra-release
ARG TARGETARCH
ARG TARGETVARIANT
ARG EXTRA_CA_CERT
ARG ABRA_SOURCE
ARG ABRA_SHA256_AMD64=866d5cda85929e99787f0f385d0ab8e83759a051843afcaf6669de70b9999a89
ARG ABRA_SHA256_ARM64=f39971f50ec3a460009aaaa8e630ed4801627b26571ffb8fb06439390c05da8b
ARG ABRA_SHA256_ARMV7=5f0ff68ca2481cfcbc95cdbb00b1ba9df27c14077568b0fb121bcc9c2534a523
# TARGETARCH is set by BuildKit; the legacy builder leaves it empty, so the build machine's own arch is used.
RUN set -eu; mkdir -p /out/usr/local/bin; \
    case "$ABRA_SOURCE" in http://*|https://*) ;; *) echo "abra comes from the build context: $ABRA_SOURCE"; exit 0 ;; esac; \
    platform="${TARGETARCH:-$(uname -m)}${TARGETVARIANT:-}"; \
    case "$platform" in \
      amd64|x86_64) arch=amd64; sum="$ABRA_SHA256_AMD64" ;; \
      arm64*|aarch64) arch=arm64; sum="$ABRA_SHA256_ARM64" ;; \
      arm|armv7|armv7l) arch=armv7; sum="$ABRA_SHA256_ARMV7" ;; \
      *) echo "abra has no release for $platform" >&2; exit 1 ;; \
    esac; \
    url=$(printf '%s' "$ABRA_SOURCE" | sed "s/{arch}/$arch/g"); \
    if [ -n "${EXTRA_CA_CERT:-}" ]; then export NODE_EXTRA_CA_CERTS="$EXTRA_CA_CERT"; fi; \
    node -e 'const [url, out] = process.argv.slice(1); fetch(url).then(async (r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); require("node:fs").writeFileSync(out, Buffer.from(await r.arrayBuffer())); }).catch((e) => { console.error(`cannot download ${url}: ${e.message}`); process.exit(1); });' "$url" /tmp/abra.tar.gz; \
    echo "$sum  /tmp/abra.tar.gz" | sha256sum -c -; \
    mkdir /tmp/abra; tar -xzf /tmp/abra.tar.gz -C /tmp/abra; \
    bin=$(find /tmp/abra -type f \( -name abra -o -name 'abra_*' \) | head -n 1); \
    if [ -z "$bin" ]; then echo "no abra binary in $url" >&2; exit 1; fi; \
    cp "$bin" /out/usr/local/bin/abra; chmod 0755 /out/usr/local/bin/abra; rm -rf /tmp/abra /tmp/abra.tar.gz

# ---- ... or abra from the build context (a file, or a folder with its entry point)
FROM sources AS abra
ARG ABRA_SOURCE
COPY --from=abra-release /out /out
# Kept under the app's folder so that a TypeScript or JavaScript abra resolves the app's node_modules.
RUN set -eu; \
    case "$ABRA_SOURCE" in http://*|https://*) exit 0 ;; esac; \
    src="/ctx/${ABRA_SOURCE#./}"; \
    if [ ! -e "$src" ]; then echo "ABRA_SOURCE=$ABRA_SOURCE is neither a URL nor a path in the build context (see .dockerignore)" >&2; exit 1; fi; \
    dest=/out/srv/lores-node/tools/abra; mkdir -p "$dest"; entry=""; \
    if [ -d "$src" ]; then \
      cp -R "$src/." "$dest/"; \
      for name in abra abra.ts abra.js; do if [ -f "$dest/$name" ]; then entry=$name; break; fi; done; \
    else cp "$src" "$dest/"; entry=$(basename "$src"); fi; \
    if [ -z "$entry" ]; then echo "ABRA_SOURCE=$ABRA_SOURCE holds no abra, abra.ts or abra.js" >&2; exit 1; fi; \
    chmod 0755 "$dest/$entry"; ln -s "/srv/lores-node/tools/abra/$entry" /out/usr/local/bin/abra

# ---- TypeScript compiled with the dev dependencies; then only production dependencies are kept
FROM ${BUILD_IMAGE} AS build
ARG EXTRA_CA_CERT
ENV npm_config_update_notifier=false
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed at run time (ssh2's optional native crypto and cpu-features
# serve SSH, which the node never uses). better-sqlite3 ships prebuilt binaries for linux x64 and arm64 inside
# its package; elsewhere (armv7) it is compiled here with node-gyp, which needs python3, make and g++.
RUN set -eu; \
    if [ -n "${EXTRA_CA_CERT:-}" ]; then export NODE_EXTRA_CA_CERTS="$EXTRA_CA_CERT"; fi; \
    npm ci --ignore-scripts --no-audit --no-fund; \
    if ! node -e 'process.exit(require("./node_modules/better-sqlite3/lib/binding.js").getPrebuildPath() ? 0 : 1)'; then \
      echo "better-sqlite3 has no prebuilt binary for $(node -p 'process.platform + "-" + process.arch'): compiling it"; \
      if ! { command -v python3 && command -v make && command -v g++; } >/dev/null 2>&1; then \
        apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++; rm -rf /var/lib/apt/lists/*; \
      fi; \
      if [ -d /usr/local/include/node ]; then export npm_config_nodedir=/usr/local; fi; \
      gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"; \
      (cd node_modules/better-sqlite3 && node "$gyp" rebuild --release); \
    fi
COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
# Declared after `npm ci`, whose layer a cross build then shares with the build machine's own variant.
ARG NODE_TARGET_ARCH
# Then trim: only the binary better-sqlite3 loads here (not its SQLite sources or other platforms' binaries),
# no type declarations or source maps of dependencies.
RUN set -eu; \
    if [ -n "${EXTRA_CA_CERT:-}" ]; then export NODE_EXTRA_CA_CERTS="$EXTRA_CA_CERT"; fi; \
    if [ -n "${NODE_TARGET_ARCH:-}" ] && [ "$NODE_TARGET_ARCH" != "$(node -p process.arch)" ] && [ ! -f "node_modules/better-sqlite3/prebuilds/linux-$NODE_TARGET_ARCH.node" ]; then \
      echo "better-sqlite3 ships no prebuilt binary for linux-$NODE_TARGET_ARCH: build with a BUILD_IMAGE of that architecture (NODE_TARGET_ARCH empty)" >&2; exit 1; \
    fi; \
    npm run build; \
    npm prune --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund; \
    cd node_modules/better-sqlite3; \
    if [ -f build/Release/better_sqlite3.node ]; then \
      mv build/Release/better_sqlite3.node /tmp/; rm -rf build prebuilds; mkdir -p build/Release; mv /tmp/better_sqlite3.node build/Release/; \
    elif [ -n "${NODE_TARGET_ARCH:-}" ] && [ "$NODE_TARGET_ARCH" != "$(node -p process.arch)" ]; then \
      find prebuilds -type f ! -name "linux-$NODE_TARGET_ARCH.node" -exec rm -f {} +; \
    else \
      keep=$(node -p 'require("path").basename(require("./lib/binding.js").getPrebuildPath())'); \
      find prebuilds -type f ! -name "$keep" -exec rm -f {} +; \
    fi; \
    rm -rf deps src; cd /src; \
    find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -exec rm -f {} +; \
    # Loaded here when it is of this architecture; a cross build's is loaded by the release's check, under QEMU.
    if [ -z "${NODE_TARGET_ARCH:-}" ] || [ "$NODE_TARGET_ARCH" = "$(node -p process.arch)" ]; then \
      node -e 'const Db = require("better-sqlite3"); new Db(":memory:").prepare("select 1").get()'; \
    fi

# ---- run time
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="LoRes Node" \
      org.opencontainers.image.description="A web page for the stewards of a community server to run Co-op Cloud apps" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# What abra and the node run: git, `script` (util-linux's pseudo-terminal helper: abra wants a terminal even
# with -n), bash (`abra app cmd` runs recipe functions with it), CA certificates (abra fetches recipes over
# HTTPS), tini, restic (backups) and setpriv (util-linux: restic dies with the node). Only what the base lacks is
# installed: bookworm-slim has bash, `script` and setpriv.
# tini rather than compose's `init: true`: the image then reaps abra's and git's orphaned children and passes
# SIGTERM on however it is started (docker run, abra, any stack file), at ~1 MB.
RUN set -eu; need=""; \
    command -v git >/dev/null 2>&1 || need="$need git"; \
    command -v script >/dev/null 2>&1 || need="$need bsdutils"; \
    command -v bash >/dev/null 2>&1 || need="$need bash"; \
    command -v tini >/dev/null 2>&1 || need="$need tini"; \
    command -v restic >/dev/null 2>&1 || need="$need restic"; \
    command -v setpriv >/dev/null 2>&1 || need="$need util-linux"; \
    [ -s /etc/ssl/certs/ca-certificates.crt ] || need="$need ca-certificates"; \
    if [ -n "$need" ]; then \
      apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need; rm -rf /var/lib/apt/lists/*; \
    fi; \
    git --version; script --version; tini --version; restic version; bash --version | head -n 1
WORKDIR /srv/lores-node
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    ABRA_DIR=/abra \
    BUNDLED_RECIPES_DIR=/srv/lores-node/recipes \
    LANG=C.UTF-8
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=sources /ctx/recipes ./recipes
# The node's own recipe: the version this image is (its label), and a tag abra can roll back to offline.
COPY --from=sources /ctx/recipe ./recipes/lores-node
COPY --from=abra /out/ /
RUN set -eu; mkdir -p /data /abra; \
    ABRA_DIR=/tmp/abra-check script -qec 'abra --version' /dev/null; rm -rf /tmp/abra-check
# Root, on purpose: the node drives Docker through /var/run/docker.sock, which is root:docker 0660 with a
# docker group id that differs between hosts, and stack files cannot add groups (`group_add` is refused by
# `docker stack deploy`). Access to the socket is root on the host anyway; every page needs a login.
USER root
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=10s --start-period=45s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(8000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["tini", "--"]
# A Pi is short of memory, not of speed for a few stewards: a small young generation, and no optimising compilers
# (Maglev, TurboFan), which keep some 15 MB of code and data; pages stay well within their 5 ms (npm run bench).
CMD ["node", "--max-semi-space-size=1", "--no-maglev", "--no-turbofan", "dist/app/server.js"]
