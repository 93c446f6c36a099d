#!/usr/bin/env bash
# Builds the MongoDB-wire test image: FerretDB (SQLite backend) as a static
# binary in a FROM scratch image. Needs no registry: the source comes from the
# Go module cache/proxy. The binary is cached under .cache/ so that a warm run
# skips the Go build; the docker build is skipped when the tag holds the same
# content.
#
# Usage: testimages/ferretdb/build.sh [tag]   (default bootstrap-test/ferretdb:v1.24.2)
set -euo pipefail

version=v1.24.2
tag=${1:-bootstrap-test/ferretdb:$version}
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
lock_build ferretdb

cache="$(repo_root)/.cache/testimages/ferretdb-$version"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

if [ ! -x "$cache/ferretdb" ]; then
	echo "building ferretdb $version (takes a few minutes the first time)"
	# Outside any module, so the project's go.mod and go.sum stay untouched.
	dir=$(cd "$work" && GOFLAGS= go mod download -json "github.com/FerretDB/FerretDB@$version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		echo "go mod download gave no source directory for FerretDB $version" >&2
		exit 1
	fi
	cp -R "$dir" "$work/src"
	chmod -R u+w "$work/src"
	# The module lacks the file its version package embeds; without it the
	# binary panics at start.
	mkdir -p "$work/src/build/version"
	printf '%s' "$version" >"$work/src/build/version/version.txt"
	(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -o "$work/ferretdb" ./cmd/ferretdb)
	mkdir -p "$cache"
	mv "$work/ferretdb" "$cache/ferretdb.tmp"
	mv "$cache/ferretdb.tmp" "$cache/ferretdb"
fi

ctx="$work/ctx"
mkdir -p "$ctx"
cp "$cache/ferretdb" "$ctx/ferretdb"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY ferretdb /ferretdb
WORKDIR /data
EXPOSE 27017
ENTRYPOINT ["/ferretdb"]
CMD ["--handler=sqlite", "--sqlite-url=file:/data/", "--listen-addr=:27017", "--telemetry=disable", "--state-dir=-", "--debug-addr=-"]
DOCKERFILE

build_image "$tag" "$ctx"
