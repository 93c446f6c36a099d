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
//   - cold: `bootstrap version` against `node -e 0`, `npm run` of a script that
//     does nothing, and an empty Go program, interleaved;
//   - noop: the example profiles when every marker is current, end to end, and
//     the round trips it sends to Redis and MongoDB; the peak RSS of their first
//     apply against `node -e 0`;
//   - apply: a generated documents profile against `bench raw-apply`, a
//     minimal program with the raw MongoDB driver sending the same writes;
//   - contention: N runner containers started at once against one, with
//     Docker's own cost and the same runners as local processes;
//   - failover: SIGKILL of a lock holder to the next runner's "lock acquired",
//     against the lock ttl.
//
// Redis and the MongoDB-wire server run in containers on a Docker network of
// the run's own, with their ports published on 127.0.0.1 only; everything the
// run creates carries the label org.srvthreds.bootstrap.bench=<run id> and is
// removed at the end. Nothing here is asserted: a missed target is reported.
package main
