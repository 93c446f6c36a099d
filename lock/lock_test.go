package lock

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNewDefaults(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name string
		opts *Options
		want Options // Now and OnWait not compared
	}{
		{
			name: "nil_options",
			want: Options{TTL: 30 * time.Second, Prefix: "bootstrap:lock:", Holder: Holder{Host: host},
				RetryMin: 100 * time.Millisecond, RetryMax: 2 * time.Second, WaitLogEvery: 5 * time.Second},
		},
		{
			name: "zero_options",
			opts: &Options{},
			want: Options{TTL: 30 * time.Second, Prefix: "bootstrap:lock:", Holder: Holder{Host: host},
				RetryMin: 100 * time.Millisecond, RetryMax: 2 * time.Second, WaitLogEvery: 5 * time.Second},
		},
		{
			name: "retry_min_above_default_max",
			opts: &Options{RetryMin: 3 * time.Second},
			want: Options{TTL: 30 * time.Second, Prefix: "bootstrap:lock:", Holder: Holder{Host: host},
				RetryMin: 3 * time.Second, RetryMax: 3 * time.Second, WaitLogEvery: 5 * time.Second},
		},
		{
			name: "all_set",
			opts: &Options{TTL: time.Minute, Prefix: "p:", Holder: Holder{RunID: "r", Host: "h", Image: "i"},
				RetryMin: time.Second, RetryMax: 4 * time.Second, WaitLogEvery: time.Second},
			want: Options{TTL: time.Minute, Prefix: "p:", Holder: Holder{RunID: "r", Host: "h", Image: "i"},
				RetryMin: time.Second, RetryMax: 4 * time.Second, WaitLogEvery: time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(&fakeRedis{}, "bootstrap", tt.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got := l.opts
			if got.Now == nil {
				t.Errorf("Now is nil")
			}
			if optionFields(got) != optionFields(tt.want) {
				t.Errorf("options:\n got %+v\nwant %+v", got, tt.want)
			}
			if got, want := l.TTL(), tt.want.TTL; got != want {
				t.Errorf("TTL() = %s, want %s", got, want)
			}
			if got, want := l.Key(), tt.want.Prefix+"{bootstrap}"; got != want {
				t.Errorf("Key() = %q, want %q", got, want)
			}
			if got, want := l.Name(), "bootstrap"; got != want {
				t.Errorf("Name() = %q, want %q", got, want)
			}
		})
	}
}

// optionFields is o without its funcs.
func optionFields(o Options) any {
	return struct {
		TTL, RetryMin, RetryMax, WaitLogEvery time.Duration
		Prefix                                string
		Holder                                Holder
	}{o.TTL, o.RetryMin, o.RetryMax, o.WaitLogEvery, o.Prefix, o.Holder}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name    string
		client  RedisClient
		lock    string
		opts    *Options
		wantErr string
	}{
		{"nil_client", nil, "x", nil, "nil redis client"},
		{"empty_name", &fakeRedis{}, "", nil, "invalid name"},
		{"name_with_brace", &fakeRedis{}, "a{b", nil, "invalid name"},
		{"prefix_with_brace", &fakeRedis{}, "x", &Options{Prefix: "{p}:"}, "prefix"},
		{"ttl_too_short", &fakeRedis{}, "x", &Options{TTL: time.Millisecond}, "ttl"},
		{"negative_ttl", &fakeRedis{}, "x", &Options{TTL: -time.Second}, "ttl"},
		{"retry_max_below_min", &fakeRedis{}, "x", &Options{RetryMin: time.Second, RetryMax: time.Millisecond}, "retry bounds"},
		{"negative_retry_min", &fakeRedis{}, "x", &Options{RetryMin: -time.Second}, "retry bounds"},
		{"negative_wait_log", &fakeRedis{}, "x", &Options{WaitLogEvery: -time.Second}, "wait log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.client, tt.lock, tt.opts)
			if err == nil {
				t.Fatalf("New returned %v, want an error", l)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "lock: ") {
				t.Errorf("error %q, want one starting with %q and naming %q", err, "lock: ", tt.wantErr)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(k int64) int64 { return k - 1 }
	tests := []struct {
		name   string
		lo, hi time.Duration
	}{
		{"defaults", DefaultRetryMin, DefaultRetryMax},
		{"equal_bounds", time.Second, time.Second},
		{"odd_bounds", 3 * time.Millisecond, 1001 * time.Millisecond},
		{"nanoseconds", 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for n := range 70 {
				ceiling := tt.lo // lo·2ⁿ capped at hi
				for i := 0; i < n && ceiling < tt.hi; i++ {
					ceiling *= 2
				}
				ceiling = min(ceiling, tt.hi)
				for _, rnd := range []func(int64) int64{lowest, highest, rand.Int64N} {
					d := retryDelay(n, tt.lo, tt.hi, rnd)
					if d < tt.lo || d > tt.hi {
						t.Fatalf("retryDelay(%d) = %s, want in [%s, %s]", n, d, tt.lo, tt.hi)
					}
					if d > ceiling || d < max(ceiling/2, tt.lo) {
						t.Fatalf("retryDelay(%d) = %s, want in the upper half of %s", n, d, ceiling)
					}
				}
				if got, want := retryDelay(n, tt.lo, tt.hi, highest), ceiling; got != want {
					t.Errorf("highest retryDelay(%d) = %s, want %s", n, got, want)
				}
			}
		})
	}
	t.Run("equal_bounds_have_no_jitter", func(t *testing.T) {
		for n := range 5 {
			if got, want := retryDelay(n, time.Second, time.Second, rand.Int64N), time.Second; got != want {
				t.Errorf("retryDelay(%d) = %s, want %s", n, got, want)
			}
		}
	})
}

func TestParseHolder(t *testing.T) {
	tests := []struct {
		name string
		pttl int64
		kv   []any
		want Holder
	}{
		{
			name: "all_fields",
			pttl: 25000,
			kv:   heldReply()[2:],
			want: Holder{RunID: "run-other", Host: "pod-other", Image: "img:2", Fence: 41,
				Since:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
				Renewed:  time.Date(2000, 1, 1, 0, 0, 5, 0, time.UTC),
				TTL:      25 * time.Second,
				LeaseTTL: 30 * time.Second},
		},
		{
			name: "no_metadata",
			pttl: 1500,
			want: Holder{TTL: 1500 * time.Millisecond},
		},
		{
			name: "no_expiry",
			pttl: -1,
			kv:   []any{"runId", "r"},
			want: Holder{RunID: "r"},
		},
		{
			name: "malformed_and_unknown_fields",
			pttl: 10,
			kv:   []any{"fence", "x", "since", "", "color", "blue", "runId", "r", "dangling"},
			want: Holder{RunID: "r", TTL: 10 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := *parseHolder(tt.pttl, tt.kv); got != tt.want {
				t.Errorf("parseHolder:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHolderJSON(t *testing.T) {
	h := Holder{RunID: "r1", Host: "pod-a", Image: "img:1", Fence: 7,
		Since:    time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC),
		Renewed:  time.Date(2030, 1, 2, 3, 4, 15, 6e6, time.UTC),
		TTL:      20500 * time.Millisecond,
		LeaseTTL: 30 * time.Second}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if got, want := string(b), `{"runId":"r1","host":"pod-a","image":"img:1","fence":7,`+
		`"since":"2030-01-02T03:04:05.006Z","renewed":"2030-01-02T03:04:15.006Z","ttlMs":20500,"leaseTtlMs":30000}`; got != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
	var back Holder
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if back != h {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, h)
	}
	if got, want := mustJSON(t, Holder{RunID: "r"}), `{"runId":"r","host":"","image":"","fence":0,"ttlMs":0}`; got != want {
		t.Errorf("zero times: got %s, want %s", got, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return string(b)
}

func TestNotAcquiredError(t *testing.T) {
	h := parseHolder(25000, heldReply()[2:])
	tests := []struct {
		name      string
		err       *NotAcquiredError
		wantIs    []error
		wantNotIs []error
		wantText  []string
	}{
		{
			name:      "try",
			err:       &NotAcquiredError{Holder: h},
			wantIs:    []error{ErrNotAcquired},
			wantNotIs: []error{context.DeadlineExceeded, ErrLost},
			wantText:  []string{"lock: not acquired: held by", `"run-other"`, `"pod-other"`, "fence 41", "2000-01-01T00:00:05Z"},
		},
		{
			name:     "deadline",
			err:      &NotAcquiredError{Holder: h, Err: context.DeadlineExceeded},
			wantIs:   []error{ErrNotAcquired, context.DeadlineExceeded},
			wantText: []string{`"run-other"`, `"pod-other"`, "context deadline exceeded"},
		},
		{
			name:      "no_attempt",
			err:       &NotAcquiredError{Err: context.Canceled},
			wantIs:    []error{ErrNotAcquired, context.Canceled},
			wantNotIs: []error{context.DeadlineExceeded},
			wantText:  []string{"lock: not acquired: context canceled"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range tt.wantIs {
				if !errors.Is(tt.err, target) {
					t.Errorf("errors.Is(%v, %v) = false, want true", tt.err, target)
				}
			}
			for _, target := range tt.wantNotIs {
				if errors.Is(tt.err, target) {
					t.Errorf("errors.Is(%v, %v) = true, want false", tt.err, target)
				}
			}
			for _, s := range tt.wantText {
				if !strings.Contains(tt.err.Error(), s) {
					t.Errorf("error %q does not contain %q", tt.err, s)
				}
			}
		})
	}
}
