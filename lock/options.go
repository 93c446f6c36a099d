package lock

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultTTL          = 30 * time.Second
	DefaultPrefix       = "bootstrap:lock:"
	DefaultRetryMin     = 100 * time.Millisecond
	DefaultRetryMax     = 2 * time.Second
	DefaultWaitLogEvery = 5 * time.Second
)

// Options configure a Locker. The zero value, like a nil *Options, means
// every default.
type Options struct {
	// TTL is the lease's time to live; the holder should Refresh every
	// TTL/3. A holder that dies blocks others for at most TTL. It is used to
	// the millisecond, and must be at least 3ms. Default DefaultTTL (30s).
	TTL time.Duration
	// Prefix is prepended to the lock name. Default DefaultPrefix
	// ("bootstrap:lock:"). It must not contain '{' or '}' (see New).
	Prefix string
	// Holder describes this process: RunID, Host and Image are recorded
	// with each acquisition (Fence, Since, Renewed and the TTLs are filled
	// by the lock). Host defaults to os.Hostname().
	Holder Holder
	// RetryMin and RetryMax bound Acquire's pause between attempts: it
	// starts at RetryMin, doubles up to RetryMax, and is jittered within its
	// upper half (never below RetryMin). Defaults 100ms and 2s.
	RetryMin, RetryMax time.Duration
	// OnWait, if set, is called by Acquire while another process holds the
	// lock: at its first refused attempt, then about every WaitLogEvery,
	// with the holder seen and the time waited so far. It runs on Acquire's
	// goroutine and should return quickly.
	OnWait func(h *Holder, waited time.Duration)
	// OnRetry, if set, is called by Acquire when an attempt failed with a
	// transient Redis error that it will retry (see Acquire): at the first
	// such error after a holder was seen (or at the first attempt), then at
	// the pace of OnWait (the two share the interval), with the error and
	// the time waited so far. It runs on Acquire's goroutine.
	OnRetry func(err error, waited time.Duration)
	// WaitLogEvery is the interval between OnWait (or OnRetry) calls. Default
	// DefaultWaitLogEvery (5s).
	WaitLogEvery time.Duration
	// Now is the clock of the holder metadata and of OnWait's waited.
	// Default time.Now.
	Now func() time.Time
}

// withDefaults returns a copy of o (nil allowed) with defaults filled in,
// or an error naming the first invalid option.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.WaitLogEvery == 0 {
		c.WaitLogEvery = DefaultWaitLogEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Holder.Host == "" {
		c.Holder.Host, _ = os.Hostname()
	}
	var errs []error
	if c.TTL < 3*time.Millisecond {
		errs = append(errs, fmt.Errorf("ttl %s is below 3ms", c.TTL))
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		errs = append(errs, fmt.Errorf("prefix %q contains '{' or '}'", c.Prefix))
	}
	if c.RetryMin < 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry bounds %s..%s are not 0 < min <= max", c.RetryMin, c.RetryMax))
	}
	if c.WaitLogEvery < 0 {
		errs = append(errs, fmt.Errorf("wait log interval %s is negative", c.WaitLogEvery))
	}
	return c, errors.Join(errs...)
}

// retryDelay is Acquire's pause after its n-th refused attempt (n from 0):
// lo·2ⁿ capped at hi, then a point of its upper half chosen by rnd (which
// returns a number in [0, k) for k > 0), never below lo.
func retryDelay(n int, lo, hi time.Duration, rnd func(k int64) int64) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	if half > 0 {
		d = half + time.Duration(rnd(int64(d-half)+1))
	}
	return max(d, lo)
}
