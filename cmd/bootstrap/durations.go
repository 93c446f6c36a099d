package main

import (
	"fmt"
	"time"

	"github.com/alecthomas/kong"
)

// minDuration is the smallest value a duration flag accepts: below it a
// ticker, a renewal or a timeout would fire at once or spin (a
// --stall-timeout of 3ns made the watchdog's ticker panic).
const minDuration = 100 * time.Millisecond

// minDurations are the flags whose minimum is above minDuration.
var minDurations = map[string]time.Duration{
	"lock-ttl": 300 * time.Millisecond, // renewed every third of it
}

// checkDurations refuses (exit 2) a duration flag of the command below its
// minimum, naming the flag, the value and the minimum.
func checkDurations(kctx *kong.Context) error {
	for _, f := range kctx.Flags() {
		d, ok := f.Target.Interface().(time.Duration)
		if !ok {
			continue
		}
		lo, ok := minDurations[f.Name]
		if !ok {
			lo = minDuration
		}
		if d < lo {
			return usageError{fmt.Errorf("--%s %s is below its minimum %s", f.Name, d, lo)}
		}
	}
	return nil
}
