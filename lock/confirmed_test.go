package lock

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A lease is confirmed as of when the request was sent, not when the reply
// came: a reply delayed by the network or a pause adds nothing to the
// lease. Acquisition and renewal alike.
func TestConfirmed_is_when_the_request_was_sent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 4 * time.Second
		f := &fakeRedis{answer: func(c fakeCall) (any, error) {
			time.Sleep(delay) // every reply comes 4s after its request
			if strings.Contains(c.Src, "INCR") {
				return []any{int64(1), int64(3)}, nil // acquired, fence 3
			}
			return int64(1), nil // renewed
		}}
		l, err := New(f, "t", &Options{TTL: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		lease, err := l.TryAcquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := lease.Confirmed(); !got.Equal(sent) {
			t.Errorf("acquisition confirmed at %v after the request, want at the request", got.Sub(sent))
		}
		time.Sleep(10 * time.Second)
		sent = time.Now()
		if err := lease.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := lease.Confirmed(); !got.Equal(sent) {
			t.Errorf("renewal confirmed at %v after the request, want at the request", got.Sub(sent))
		}
	})
}
