#!/usr/bin/env bash
# Fetch Neovim 0.12+ from Debian sid into a private folder, without touching the system.
#
# A private apt source list (sid only) and private lists/cache folders; `apt-get download` of
# neovim and the closure of its dependencies (resolved with `apt-cache depends`, since sid renames
# packages such as libtree-sitter0.NN), each unpacked with `dpkg-deb -x` into one root. The result
# runs through sid's own loader (see nvim-sid.sh written next to it). Idempotent: a finished root
# is reused. Prints the path of the launcher on success; exits non-zero with a reason otherwise.
set -euo pipefail

CACHE="${HEARTH_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth-e2e}"
DEST="$CACHE/nvim-sid"
LAUNCHER="$DEST/nvim"
if [ -x "$LAUNCHER" ] && [ -f "$DEST/.complete" ]; then
    echo "$LAUNCHER"
    exit 0
fi
for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "fetch_nvim_sid: $tool is missing (not Debian?)" >&2; exit 3; }
done

MIRROR="${HEARTH_SID_MIRROR:-http://deb.debian.org/debian}"
rm -rf "$DEST"
mkdir -p "$DEST"/apt/sources.list.d "$DEST"/apt/lists/partial "$DEST"/apt/cache/archives/partial \
    "$DEST"/debs "$DEST"/root
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR sid main" \
    >"$DEST/apt/sources.list.d/sid.list"
: >"$DEST/apt/status"
APT=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$DEST/apt/sources.list.d"
     -o "Dir::State::Lists=$DEST/apt/lists" -o "Dir::State::status=$DEST/apt/status"
     -o "Dir::Cache=$DEST/apt/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")

apt-get "${APT[@]}" -qq update >&2
# The closure of hard dependencies (first alternative only), as package names.
mapfile -t PKGS < <(apt-cache "${APT[@]}" depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances neovim neovim-runtime \
    | grep -v '^ ' | grep -v '^<' | sort -u)
# Packages that only matter at install time (maintainer scripts), never to run nvim.
SKIP='^(debconf|perl-base|dpkg|install-info|dash|bash|coreutils|tar|base-files|debianutils|sensible-utils|libselinux1|libpcre2-8-0|libzstd1|liblzma5|libbz2-1.0|libacl1|libattr1|libmd0|zlib1g|libcrypt1|gcc-.*-base|init-system-helpers|usrmerge|libdebconfclient0|cdebconf)$'
WANT=()
for p in "${PKGS[@]}"; do
    [[ "$p" =~ $SKIP ]] || WANT+=("$p")
done
echo "fetch_nvim_sid: downloading ${WANT[*]}" >&2
(cd "$DEST/debs" && apt-get "${APT[@]}" -qq download "${WANT[@]}" >&2)
for deb in "$DEST"/debs/*.deb; do
    dpkg-deb -x "$deb" "$DEST/root"
done

R="$DEST/root"
LIB="$R/usr/lib/x86_64-linux-gnu"
[ -d "$R/lib/x86_64-linux-gnu" ] && LIB="$LIB:$R/lib/x86_64-linux-gnu"
LOADER="$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
[ -e "$LOADER" ] || LOADER="$R/lib64/ld-linux-x86-64.so.2"
[ -e "$LOADER" ] || { echo "fetch_nvim_sid: sid's dynamic loader not found in $R" >&2; exit 4; }
cat >"$LAUNCHER" <<SH
#!/bin/sh
# Neovim from Debian sid, run through sid's own loader and libraries (written by fetch_nvim_sid.sh).
export VIMRUNTIME="$R/usr/share/nvim/runtime"
exec "$LOADER" --library-path "$LIB" "$R/usr/bin/nvim" "\$@"
SH
chmod +x "$LAUNCHER"
"$LAUNCHER" --version | head -1 >&2
touch "$DEST/.complete"
echo "$LAUNCHER"
