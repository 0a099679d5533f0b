#!/usr/bin/env bash
# jansson.sh DIR: Debian's jansson source (the JSON library the engine uses)
# in DIR, for the WebAssembly build, which cannot link the system's libjansson.
# Fetches the source package from Debian's archive with a private apt
# configuration (the system's sources and lists stay untouched), unpacks the
# upstream tarball (Debian's only patch touches upstream's tests) and writes
# the two configuration headers its CMake/autoconf would generate for a
# 32-bit wasm target. Does nothing when DIR is already complete.
set -euo pipefail
dir=$1
[ -s "$dir/src/jansson_private_config.h" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/parts" "$work/lists/partial" "$work/cache" "$work/dl"
cat >"$work/parts/debian-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
: >"$work/empty.list"
apt_private() {
  apt-get -qq -o Dir::Etc::SourceList="$work/empty.list" -o Dir::Etc::SourceParts="$work/parts" \
    -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root "$@"
}
echo "wasm: fetching Debian's jansson source package"
apt_private update >/dev/null
# apt checks the files against the signed index; the upstream tarball is all we need
(cd "$work/dl" && apt_private source --download-only jansson >/dev/null)
orig=$(ls "$work"/dl/jansson_*.orig.tar.gz)
rm -rf "$dir"
mkdir -p "$dir"
tar -xzf "$orig" -C "$dir" --strip-components=1

# src/jansson_config.h.in with what configure finds for clang/emscripten
sed -e 's/@json_inline@/inline/' -e 's/@json_have_long_long@/1/' -e 's/@json_have_localeconv@/1/' \
  -e 's/@json_have_atomic_builtins@/1/' -e 's/@json_have_sync_builtins@/1/' \
  "$dir/src/jansson_config.h.in" >"$dir/src/jansson_config.h"
# hash seeds from the time and pid (no /dev/urandom in a page)
cat >"$dir/src/jansson_private_config.h.tmp" <<'EOF'
/* written by wasm/jansson.sh for the WebAssembly build */
#define HAVE_STDINT_H 1
#define HAVE_UNISTD_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SCHED_H 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_GETPID 1
#define HAVE_SCHED_YIELD 1
#define HAVE_ATOMIC_BUILTINS 1
#define HAVE_SYNC_BUILTINS 1
#define HAVE_LOCALE_H 1
#define HAVE_SETLOCALE 1
#define HAVE_INT32_T 1
#define HAVE_UINT32_T 1
#define HAVE_UINT16_T 1
#define HAVE_UINT8_T 1
#define HAVE_SSIZE_T 1
#define INITIAL_HASHTABLE_ORDER 3
EOF
mv "$dir/src/jansson_private_config.h.tmp" "$dir/src/jansson_private_config.h"
