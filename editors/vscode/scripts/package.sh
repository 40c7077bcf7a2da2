#!/usr/bin/env bash
# Builds the Hearth VS Code extension into editors/vscode/dist/hearth.vsix (offline once the
# npm dependencies are installed). Dependencies are (re)installed with `npm ci` only when
# package-lock.json is newer than node_modules.
#
#   scripts/package.sh          install dependencies if needed, build, package; prints the path
#   scripts/package.sh --deps   only install dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "package.sh: npm ci" >&2
    npm ci --no-audit --no-fund >&2
    touch node_modules/.package-lock.json
fi
[ "${1:-}" = "--deps" ] && exit 0

npm run --silent package >&2
echo "$PWD/dist/hearth.vsix"
