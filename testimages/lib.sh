# Shared helpers of the test image build scripts; sourced, not run.
# shellcheck shell=bash

# repo_root prints the repository root (the directory holding go.mod).
repo_root() {
	local dir
	dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	printf '%s\n' "$dir"
}

# lock_build serialises builds of one image across processes (test packages
# may build the same image at the same time). The lock is released when the
# calling script exits.
lock_build() {
	local name=$1 cache
	cache="$(repo_root)/.cache/testimages"
	mkdir -p "$cache"
	exec 9>"$cache/$name.lock"
	flock 9
}

# context_hash prints a hash of every file in a build context: names, modes
# and bytes, in a fixed order.
context_hash() {
	local ctx=$1
	(cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z |
		xargs -0 sh -c 'for f; do printf "%s %s\n" "$f" "$(stat -c %a "$f")"; sha256sum < "$f"; done' sh) |
		sha256sum | cut -c1-64
}

# image_current reports whether the image tag exists with the given content hash.
image_current() {
	local tag=$1 hash=$2 got
	got=$(docker image inspect -f '{{index .Config.Labels "bootstrap.test.content"}}' "$tag" 2>/dev/null) || return 1
	[ "$got" = "$hash" ]
}

# build_image builds a FROM scratch image from a context with the classic
# builder, labelled with the context's hash, unless the tag is already current.
build_image() {
	local tag=$1 ctx=$2 hash
	hash=$(context_hash "$ctx")
	if image_current "$tag" "$hash"; then
		echo "$tag is up to date"
		return 0
	fi
	local out
	out=$(mktemp)
	if ! DOCKER_BUILDKIT=0 docker build --label "bootstrap.test.content=$hash" -t "$tag" "$ctx" >"$out" 2>&1; then
		cat "$out" >&2
		rm -f "$out"
		echo "docker build of $tag failed" >&2
		return 1
	fi
	rm -f "$out"
	echo "built $tag"
}
