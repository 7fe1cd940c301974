#!/usr/bin/env bash
# Builds (once) and caches the Consul agent the test suite runs, and prints its path on the last line.
#
# Order of preference: $CONSUL_BIN, a `consul` already on PATH, the cached build, a fresh build
# from the Go module proxy. Only the MPL-2.0 v1.14.x line is used: v1.15+ pull in modules that
# are not open source, and v1.17+ changed licence altogether.
set -euo pipefail

VERSION="${CONSUL_VERSION:-v1.14.11}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/consul/$VERSION"
BIN="$CACHE/consul"

log() { printf '%s\n' "consul:install: $*" >&2; }

if [[ -n "${CONSUL_BIN:-}" ]]; then
  [[ -x "$CONSUL_BIN" ]] || { log "CONSUL_BIN=$CONSUL_BIN is not an executable file"; exit 1; }
  echo "$CONSUL_BIN"; exit 0
fi
if command -v consul >/dev/null 2>&1; then
  command -v consul; exit 0
fi
if [[ -x "$BIN" ]] && "$BIN" version >/dev/null 2>&1; then
  echo "$BIN"; exit 0
fi

command -v go >/dev/null 2>&1 || { log "needs Go to build Consul $VERSION (or set CONSUL_BIN / put consul on PATH)"; exit 1; }

log "building Consul $VERSION from the Go module proxy (first run only; a few minutes on 2 cores)"
MODDIR="$(go mod download -json "github.com/hashicorp/consul@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$MODDIR" ]] || { log "go mod download gave no module folder for consul@$VERSION"; exit 1; }
grep -q "Mozilla Public License" "$MODDIR/LICENSE" || { log "consul@$VERSION is not MPL-2.0; refusing to build it"; exit 1; }

WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -r "$MODDIR/." "$WORK/src"
chmod -R u+w "$WORK/src"
cd "$WORK/src"
# The module's go.mod points its nested modules at ../api etc.; take their published versions instead.
for mod in api sdk proto-public; do
  go mod edit -dropreplace "github.com/hashicorp/consul/$mod" 2>/dev/null || true
done
# Old golang.org/x/net fails to link with Go 1.23+ (go:linkname restrictions); a newer one links.
go get golang.org/x/net@v0.33.0 >/dev/null 2>&1 || log "could not raise golang.org/x/net; trying as is"
go mod tidy >/dev/null 2>&1 || true
mkdir -p "$CACHE"
if ! go build -trimpath -o "$BIN.tmp" . 2>"$WORK/build.log"; then
  log "plain build failed; retrying with -checklinkname=0"
  tail -5 "$WORK/build.log" >&2
  go build -trimpath -ldflags=-checklinkname=0 -o "$BIN.tmp" .
fi
mv "$BIN.tmp" "$BIN"
"$BIN" version >&2
echo "$BIN"
