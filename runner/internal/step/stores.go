package step

import (
	"fmt"

	"github.com/srvthreds/bootstrap/profiles"
)

// WritesRedis reports whether p has a step of a kind that writes to Redis
// (its Kind's WritesRedis): only such a profile leaves a completion record
// in Redis, and only for such a profile does `wait` read Redis. A step of a
// kind Lookup does not know writes nothing. It is cheap (no step's Writes
// is built), so it may be called on every poll.
func WritesRedis(p *profiles.Profile) bool {
	for _, s := range p.Steps {
		if k, err := Lookup(s.Kind); err == nil && k.WritesRedis() {
			return true
		}
	}
	return false
}

// checkStores returns an error when w, what a step of kind k writes,
// describes Redis keys although k says it writes none: its profile would
// leave no completion record in Redis.
func checkStores(k Kind, s profiles.Step, w *Writes) error {
	if w != nil && len(w.Redis) > 0 && !k.WritesRedis() {
		return fmt.Errorf("%s: writes Redis keys, but its kind says it writes none", s.Kind)
	}
	return nil
}
