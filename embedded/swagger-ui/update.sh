#!/usr/bin/env bash
# Refreshes the Swagger UI assets served at /ui/ from the swagger-ui-dist npm package.
# Usage: bash embedded/swagger-ui/update.sh [VERSION]
set -euo pipefail
version=${1:-5.35.0}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
for f in LICENSE NOTICE swagger-ui-bundle.js swagger-ui.css index.css favicon-16x16.png favicon-32x32.png; do
  cp "$tmp/package/$f" "$here/$f"
done
echo "swagger-ui-dist $version (npm); refresh with: bash embedded/swagger-ui/update.sh VERSION" >"$here/VERSION"
