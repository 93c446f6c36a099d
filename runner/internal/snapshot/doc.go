// Package snapshot captures, before a profile is re-applied over an earlier
// version, the state of everything its steps will overwrite or remove
// (listed from step.Writes), and restores chains of such snapshots for a
// rollback. Storage is the store package's.
package snapshot
