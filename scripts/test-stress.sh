#!/usr/bin/env bash
# make test-stress: the whole test suite RUNS times in a row (default 5)
# while busy loops keep every core busy, to find tests that pass only on an
# idle machine (a lease renewal starved of CPU, a timeout that assumed a
# fast container start). Every run is kept; the summary lists each run's
# result and wall time, and the script exits non-zero if any run failed.
#
# Environment: RUNS (default 5), LOAD_PROCS (default: the number of cores),
# STRESS_LOG_DIR (default: a new temporary directory), and whatever make test
# reads (BOOTSTRAP_TEST_*_IMAGE).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${RUNS:-5}
procs=${LOAD_PROCS:-$(nproc)}
dir=${STRESS_LOG_DIR:-$(mktemp -d -t bootstrap-stress.XXXXXX)}
mkdir -p "$dir"
make=${MAKE:-make}

# The images are built before the load starts: a run measures the tests,
# not an image build slowed down by the load.
"$make" --no-print-directory test-images image >"$dir/images.log" 2>&1 ||
	{
		tail -20 "$dir/images.log" >&2
		exit 1
	}

load=()
stop_load() {
	((${#load[@]})) && kill "${load[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap stop_load EXIT
for _ in $(seq "$procs"); do
	# A busy loop at the tests' own priority: it competes for every core.
	bash -c 'while :; do :; done' &
	load+=($!)
done
echo "load: $procs busy loops (pids ${load[*]}); logs in $dir"

failed=0
summary=()
for i in $(seq "$runs"); do
	log="$dir/run-$i.log"
	start=$(date +%s)
	if "$make" --no-print-directory test GOTESTFLAGS=-v >"$log" 2>&1; then
		result=pass
	else
		result=FAIL
		failed=$((failed + 1))
	fi
	took=$(($(date +%s) - start))
	line=$(printf 'run %d/%d: %s in %dm%02ds' "$i" "$runs" "$result" $((took / 60)) $((took % 60)))
	summary+=("$line")
	echo "$line"
	if [ "$result" = FAIL ]; then
		grep -E -- '--- FAIL|^FAIL' "$log" | sed 's/^/    /' || true
	fi
done

echo
echo "==> $runs runs under load from $procs busy loops on $(nproc) cores: $((runs - failed)) passed, $failed failed"
printf '%s\n' "${summary[@]}" | tee "$dir/summary.txt"
((failed == 0))
