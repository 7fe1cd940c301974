#!/usr/bin/env bash
# Builds (once) and caches a peer the benchmark runs beside Fairway, and prints its path on the
# last line. Usage: scripts/peers-install.sh fabio|traefik|vegeta [--cached-only]
#                   scripts/peers-install.sh all   (all three, one path per line)
#
#   fabio   v1.6.3   (MIT)  the Consul-native load balancer users would pick instead; ~1 min
#   traefik v3.6.12  (MIT)  the most used Consul-aware proxy; ~7 min on 2 cores
#   vegeta  v12.13.0 (MIT)  the constant-rate load generator for the fixed-rate latency table
#
# Everything comes from the Go module proxy and lands in .cache/peers/<name>/<version>/; a
# second run only prints the cached path. Override with FABIO_BIN / TRAEFIK_BIN / VEGETA_BIN.
# Exit 1 with a one-line reason on stderr when the peer cannot be had (no Go, no network);
# with --cached-only, exit 3 instead of building.
set -euo pipefail

NAME="${1:-}"
if [[ "$NAME" == "all" ]]; then
  for peer in fabio vegeta traefik; do bash "${BASH_SOURCE[0]}" "$peer"; done
  exit 0
fi
case "$NAME" in
  fabio) VERSION="v1.6.3"; MODULE="github.com/fabiolb/fabio"; PKG="."; OVERRIDE="${FABIO_BIN:-}"; LDFLAGS="" ;;
  traefik) VERSION="v3.6.12"; MODULE="github.com/traefik/traefik/v3"; PKG="./cmd/traefik"; OVERRIDE="${TRAEFIK_BIN:-}"
    LDFLAGS="-X github.com/traefik/traefik/v3/pkg/version.Version=$VERSION" ;;
  vegeta) VERSION="v12.13.0"; MODULE="github.com/tsenart/vegeta/v12"; PKG="."; OVERRIDE="${VEGETA_BIN:-}"; LDFLAGS="" ;;
  *) echo "usage: $0 fabio|traefik|vegeta|all [--cached-only]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/peers/$NAME/$VERSION"
BIN="$CACHE/$NAME"

log() { printf '%s\n' "peers:install: $NAME: $*" >&2; }

if [[ -n "$OVERRIDE" ]]; then
  [[ -x "$OVERRIDE" ]] || { log "$OVERRIDE is not an executable file"; exit 1; }
  echo "$OVERRIDE"; exit 0
fi
if [[ -x "$BIN" ]]; then
  echo "$BIN"; exit 0
fi
if [[ "${2:-}" == "--cached-only" ]]; then
  log "not built yet (\`bash scripts/peers-install.sh $NAME\` builds it)"; exit 3
fi

GO="$(command -v go || true)"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
[[ -n "$GO" ]] || { log "needs Go to build $MODULE@$VERSION"; exit 1; }

log "building $MODULE@$VERSION from the Go module proxy (first run only)"
# fabio's go.sum is not in the checksum database; its own module is fetched without that check.
MODDIR="$(GONOSUMDB="github.com/fabiolb/fabio" "$GO" mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$MODDIR" ]] || { log "go mod download gave no module folder"; exit 1; }
grep -qs "MIT License" "$MODDIR"/LICENSE* || { log "$MODULE@$VERSION is not MIT-licensed; refusing to build it"; exit 1; }

# The module cache is read-only; build in a writable copy. -mod=mod ignores a stale vendor/
# folder and lets go.sum gain what the build needs.
WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -r "$MODDIR/." "$WORK/src"
chmod -R u+w "$WORK/src"
cd "$WORK/src"
mkdir -p "$CACHE"
GONOSUMDB="github.com/fabiolb/fabio" GOFLAGS="-mod=mod" CGO_ENABLED=0 \
  "$GO" build -trimpath -ldflags="$LDFLAGS" -o "$BIN.tmp" "$PKG" 2>"$WORK/build.log" || { tail -20 "$WORK/build.log" >&2; log "build failed"; exit 1; }
mv "$BIN.tmp" "$BIN"
log "built $BIN"
echo "$BIN"
