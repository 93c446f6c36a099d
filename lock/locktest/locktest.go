// Package locktest is a reusable suite that checks package lock against a
// Redis server: one winner among concurrent contenders, strictly increasing
// fences, lost leases, compare-and-delete, breaking, holder metadata and
// Acquire's deadline. Run it from an integration test with clients of a
// real server; each subtest uses lock names of its own, so runs can share a
// server.
package locktest

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/lock"
)

// Run runs the suite. newClient returns a client of the server under test;
// it is called once per simulated process, so it should return a new
// connection each time, closed on t's cleanup.
func Run(t *testing.T, newClient func(t *testing.T) lock.RedisClient) {
	t.Helper()
	s := &suite{newClient: newClient}
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"one_winner", s.oneWinner},
		{"fences_strictly_increase", s.fencesStrictlyIncrease},
		{"mutual_exclusion_under_contention", s.mutualExclusion},
		{"lost_lease", s.lostLease},
		{"break", s.breakLock},
		{"holder_metadata", s.holderMetadata},
		{"acquire_gives_up_at_deadline", s.acquireGivesUp},
		{"acquire_waits_for_release", s.acquireWaits},
		{"release_is_idempotent", s.releaseIdempotent},
		{"names_are_independent", s.namesIndependent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}

type suite struct {
	newClient func(t *testing.T) lock.RedisClient
}

// longTTL is long enough that no lease expires during a subtest that does
// not expect it.
const longTTL = 30 * time.Second

// lockName returns a lock name unique to t and to this run.
func lockName(t *testing.T) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strings.NewReplacer("{", "_", "}", "_").Replace(t.Name()) + "-" + hex.EncodeToString(b[:])
}

// newLocker returns a Locker of name on a new client, as one process sees
// it, identified by runID.
func (s *suite) newLocker(t *testing.T, name, runID string, o lock.Options) *lock.Locker {
	t.Helper()
	if o.TTL == 0 {
		o.TTL = longTTL
	}
	o.Holder.RunID = runID
	if o.Holder.Host == "" {
		o.Holder.Host = "host-" + runID
	}
	l, err := lock.New(s.newClient(t), name, &o)
	if err != nil {
		t.Fatalf("lock.New(%q): %v", name, err)
	}
	return l
}

func mustAcquire(t *testing.T, l *lock.Locker) *lock.Lease {
	t.Helper()
	lease, err := l.TryAcquire(t.Context())
	if err != nil {
		t.Fatalf("TryAcquire(%s): %v", l.Key(), err)
	}
	return lease
}

// mustHolder returns the lock's holder run id, or "" when it is free.
func mustHolder(t *testing.T, l *lock.Locker) string {
	t.Helper()
	h, err := l.Holder(t.Context())
	if err != nil {
		t.Fatalf("Holder(%s): %v", l.Key(), err)
	}
	if h == nil {
		return ""
	}
	return h.RunID
}

// setPTTL sets the remaining ttl of the lock key and its holder hash, as if
// the holder had not renewed for the rest of its ttl.
func (s *suite) setPTTL(t *testing.T, l *lock.Locker, d time.Duration) {
	t.Helper()
	const src = `redis.call('PEXPIRE', KEYS[1], ARGV[1]) return redis.call('PEXPIRE', KEYS[2], ARGV[1])`
	keys := []string{l.Key(), l.Key() + ":holder"}
	if err := s.newClient(t).Eval(t.Context(), src, keys, d.Milliseconds()).Err(); err != nil {
		t.Fatalf("set pttl of %s: %v", l.Key(), err)
	}
}
