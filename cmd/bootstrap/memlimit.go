package main

import "runtime/debug"

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// is not set: 40 MiB. What bounds a run's memory is that it holds its
// profiles' files and one batch of converted documents at a time; the
// limit only makes the collector run before the heap doubles, so that a
// run of a profile at the validation limits (16 MiB of files) peaks well
// under the 128 Mi of the Job's container. It is soft: a run that needs
// more (a profile allowed larger limits) gets it, with more collections.
const defaultMemoryLimit = 40 << 20

// setMemoryLimit sets the default soft memory limit unless GOMEMLIMIT is
// set (the runtime has read it; "off" turns the limit off), and returns
// the limit in force.
func setMemoryLimit(getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	return defaultMemoryLimit
}
