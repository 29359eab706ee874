#!/usr/bin/env bash
# Makes sure a Pulumi CLI of exactly $version exists and prints its path.
#
# The CLI is built from the Go module proxy because its release downloads are
# not reachable everywhere expbot is developed. The build needs its own module
# (this folder) since pkg/v3 carries replace directives that `go install`
# refuses. Lookup order matches internal/pulumicli: $EXPBOT_PULUMI, then the
# cache directory, then PATH. The binary lives at <root>/bin/pulumi, the layout
# the Automation API's NewPulumiCommand expects.
set -euo pipefail

# Everything is in main so that bash has parsed the whole file before running it.
main() {
  local version=v3.274.1
  here=$(cd "$(dirname "$0")" && pwd)
  cache_root=${EXPBOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/expbot}
  dir="$cache_root/pulumi-$version/bin"
  bin="$dir/pulumi"

  is_wanted() { [ -x "$1" ] && [ "$("$1" version 2>/dev/null)" = "$version" ]; }

  if [ -n "${EXPBOT_PULUMI:-}" ]; then
    if is_wanted "$EXPBOT_PULUMI"; then echo "$EXPBOT_PULUMI"; exit 0; fi
    echo "install.sh: EXPBOT_PULUMI=$EXPBOT_PULUMI is not pulumi $version" >&2
    exit 1
  fi
  if is_wanted "$bin"; then echo "$bin"; exit 0; fi
  if on_path=$(command -v pulumi 2>/dev/null) && is_wanted "$on_path"; then echo "$on_path"; exit 0; fi

  cat >&2 <<MSG
install.sh: building pulumi $version into $dir
  The CLI is compiled from source through the Go module proxy. The first build
  downloads about 1.7 GB of modules and takes around 10 minutes on 2 cores;
  later builds reuse the Go caches and take seconds.
MSG
  mkdir -p "$dir"
  tmp=$(mktemp "$dir/.pulumi.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  (
    cd "$here"
    go build -trimpath -o "$tmp" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  )
  chmod +x "$tmp"
  mv -f "$tmp" "$bin"
  trap - EXIT
  is_wanted "$bin" || { echo "install.sh: built $bin but it does not report $version" >&2; exit 1; }
  echo "install.sh: pulumi $version ready" >&2
  echo "$bin"
}

main "$@"
