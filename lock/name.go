package lock

import "strings"

// Name returns the lock's name, as given to New.
func (l *Locker) Name() string {
	_, rest, _ := strings.Cut(l.key, "{")
	name, _, _ := strings.Cut(rest, "}")
	return name
}
