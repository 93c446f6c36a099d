// Command bench measures bootstrap against its baselines, each measured in
// the same run on the same machine, and writes the report
// (docs/benchmarks.md) with its charts (docs/benchmarks/*.png).
//
// It is a module of its own, so that its dependencies (gonum/plot) stay out
// of the product's go.mod. `make bench` builds what it needs (make build,
// make image, make test-images) and runs it from this directory:
//
//	cd bench && go run . -out ../docs/benchmarks.md
//
// The figures, each selectable with -sections:
//
//   - size: the runner image's size, its layers, the binary's ELF sections and
//     the bytes of its symbols by module;
//   - cold: `bootstrap version` against an empty Go program, `node -e 0` and
//     `npm run` of a script that does nothing, interleaved, and the costliest
//     package initialisers (GODEBUG=inittrace=1);
//   - noop: the example profiles when every marker is current, end to end, and
//     the round trips it sends to Redis and MongoDB; the peak RSS of their first
//     apply against `node -e 0`;
//   - apply: a generated documents profile at several sizes against `bench
//     raw-apply`, a minimal program with the raw MongoDB driver sending the
//     same writes: wall time, client CPU and peak RSS;
//   - keyed: documents keyed by a field other than _id (-keyed-docs, 20,000
//     by default) against the same keyed by _id and against `bench raw-apply
//     -key code` with and without an index on the key, write phases;
//   - contention: N runner processes started at once on current markers
//     against N `version` processes, and on empty servers against one apply
//     plus N `version` processes;
//   - failover: SIGKILL of a lock holder to the next runner's "lock acquired",
//     against the lock ttl.
//
// The wall time of a warm `make test` is not measured here: pass it with
// -make-test-time (make bench MAKE_TEST_TIME=7m10s), or let make bench
// MEASURE_MAKE_TEST=1 time it before the bench.
//
// Redis and the MongoDB-wire server run in containers on a Docker network of
// the run's own, with their ports published on 127.0.0.1 only; everything the
// run creates carries the label org.srvthreds.bootstrap.bench=<run id> and is
// removed at the end. Nothing here is asserted: a missed target is reported.
package main
