// Package runner executes one bootstrap run: under the distributed
// lock, for each profile in order, skip it when its completion marker
// matches its version, otherwise apply its steps and write the marker.
//
// A run:
//
//  1. waits, bounded by Options.LockWait, for the lock (lock.Locker), logging
//     who holds it;
//  2. from the moment it holds the lock, renews the lease every ttl/3 in a
//     goroutine it owns, and cancels the work when a renewal finds the lease
//     lost or cannot confirm it in time (validity counted on the monotonic
//     clock from before each request);
//     before every batch a step checks its context, whose Err also reports a
//     lease that is past its last confirmed validity (a process that was
//     frozen stops before writing);
//  3. re-reads each profile's marker after the lock is held, so a runner that
//     waited finds the work done and skips it;
//  4. before re-applying a profile over an earlier version, stores a snapshot
//     of what its steps will overwrite or remove (<db>.bootstrap_snapshots,
//     the newest Options.KeepVersions kept), which Runner.Rollback restores;
//  5. applies the steps of each profile that is new or changed, in batches
//     (one type per step kind in runner/internal/step, each describing what
//     it writes), reporting progress to the Reporter, the one stall clock
//     that the watchdog and /livez read;
//  6. writes the marker only after every step succeeded, fenced: it is stored
//     only if the stored marker's fence is lower (store.Store.PutMarker);
//  7. writes one audit record per profile outcome, and logs it;
//  8. releases the lock, also when interrupted, within the shutdown grace.
//
// Errors map to the exit codes in the README: conn.ErrUnreachable (6),
// lock.ErrNotAcquired (4), ErrLockLost (5), *StepError (7), ErrStalled and
// ErrTimeout (8), and the cause of the context's cancellation (signals).
//
// Writes to application collections are not fenced (that would need
// transactions, which Azure Cosmos DB and FerretDB lack): every write is an
// idempotent replace-upsert of the profile's content, and a holder that lost
// its lease stops before its next batch.
package runner
