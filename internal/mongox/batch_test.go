package mongox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/lock"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", fmt.Errorf("op: %w", context.Canceled), false},
		{"plain", errors.New("boom"), false},
		{"no_documents", mongo.ErrNoDocuments, false},
		{"duplicate_key", mongo.CommandError{Code: 11000}, false},
		{"bulk_duplicate_key", mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: mongo.WriteError{Code: 11000}}}}, false},
		{"not_writable_primary", mongo.CommandError{Code: 10107}, true},
		{"primary_stepped_down_wrapped", fmt.Errorf("write: %w", mongo.CommandError{Code: 189}), true},
		{"shutdown_in_progress", mongo.CommandError{Code: 91}, true},
		{"interrupted_repl_state_change", mongo.CommandError{Code: 11602}, true},
		{"not_primary_no_secondary_ok", mongo.CommandError{Code: 13435}, true},
		{"cosmos_throttled_write", mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: mongo.WriteError{Code: 16500}}}}, true},
		{"max_time_ms_expired", mongo.CommandError{Code: 50}, true},
		{"bulk_max_time_ms_expired", mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: mongo.WriteError{Code: 50}}}}, true},
		{"retryable_write_label", mongo.CommandError{Code: 1, Labels: []string{"RetryableWriteError"}}, true},
		{"transient_transaction_label", mongo.BulkWriteException{Labels: []string{"TransientTransactionError"}}, true},
		{"network_label", mongo.CommandError{Labels: []string{"NetworkError"}}, true},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), true},
		{"eof", fmt.Errorf("read: %w", io.EOF), true},
		{"conn_refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"conn_reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"redis_pool_timeout", redis.ErrPoolTimeout, true},
		{"redis_crossslot", redis.ErrCrossSlot, false},
		{"redis_closed", redis.ErrClosed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestIsTransientRedisRule: mongox and lock agree on Redis and network
// errors (lock.IsTransient is the one rule), wrapped replies included.
func TestIsTransientRedisRule(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"loading", replyError("LOADING Redis is loading the dataset in memory"), true},
		{"loading_wrapped", fmt.Errorf("write records: %w", replyError("LOADING Redis is loading the dataset in memory")), true},
		{"readonly_wrapped", fmt.Errorf("write keys: %w", replyError("READONLY You can't write against a read only replica.")), true},
		{"clusterdown_wrapped", fmt.Errorf("x: %w", replyError("CLUSTERDOWN The cluster is down")), true},
		{"tryagain_wrapped", fmt.Errorf("x: %w", replyError("TRYAGAIN Multiple keys request during rehashing of slot")), true},
		{"masterdown_wrapped", fmt.Errorf("x: %w", replyError("MASTERDOWN Link with MASTER is down")), true},
		{"wrong_type", fmt.Errorf("x: %w", replyError("WRONGTYPE Operation against a key holding the wrong kind of value")), false},
		{"pipe", fmt.Errorf("x: %w", syscall.EPIPE), true},
		{"conn_closed", fmt.Errorf("x: %w", net.ErrClosed), true},
		{"client_closed", redis.ErrClosed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("mongox.IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := lock.IsTransient(tt.err); got != tt.want {
				t.Errorf("lock.IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// replyError is an error reply of Redis, as the client returns it.
type replyError string

func (e replyError) Error() string { return string(e) }

func (e replyError) RedisError() {}

func TestRetryTransient(t *testing.T) {
	transient := io.ErrUnexpectedEOF
	permanent := errors.New("permanent")
	tests := []struct {
		name      string
		errs      []error // returned by successive calls; nil after the end
		wantCalls int
		wantErr   error
	}{
		{"success_first", nil, 1, nil},
		{"transient_then_success", []error{transient, transient}, 3, nil},
		{"permanent_not_retried", []error{permanent}, 1, permanent},
		{"transient_then_permanent", []error{transient, permanent}, 2, permanent},
		{"gives_up_after_attempts", []error{transient, transient, transient, transient, transient, transient, transient}, retryAttempts, transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				err := Retry(t.Context(), discardLog(), nil, func(context.Context) error {
					calls++
					if calls <= len(tt.errs) {
						return tt.errs[calls-1]
					}
					return nil
				})
				if got, want := calls, tt.wantCalls; got != want {
					t.Errorf("calls = %d, want %d", got, want)
				}
				if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			})
		})
	}
}

func TestRetryTransientBacksOffWithinBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Time
		_ = Retry(t.Context(), discardLog(), nil, func(context.Context) error {
			at = append(at, time.Now())
			return io.EOF
		})
		if got, want := len(at), retryAttempts; got != want {
			t.Fatalf("attempts = %d, want %d", got, want)
		}
		delay := retryInitialDelay
		for i := 1; i < len(at); i++ {
			gap := at[i].Sub(at[i-1])
			if gap < delay/2 || gap > delay {
				t.Errorf("wait before attempt %d = %v, want within [%v, %v]", i+1, gap, delay/2, delay)
			}
			delay = min(delay*2, retryMaxDelay)
		}
	})
}

func TestRetryTransientStopsAfterMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		start := time.Now()
		err := Retry(t.Context(), discardLog(), nil, func(context.Context) error {
			calls++
			time.Sleep(40 * time.Second) // a slow attempt that then times out
			return context.DeadlineExceeded
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the last attempt's error", err)
		}
		if got, want := calls, 2; got != want {
			t.Errorf("calls = %d, want %d", got, want)
		}
		if elapsed := time.Since(start); elapsed > retryMaxElapsed+time.Minute {
			t.Errorf("gave up after %v", elapsed)
		}
	})
}

func TestRetryTransientHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := errors.New("lock lost")
		ctx, cancel := context.WithCancelCause(t.Context())
		calls := 0
		go func() {
			time.Sleep(150 * time.Millisecond) // during the second wait
			cancel(lost)
		}()
		err := Retry(ctx, discardLog(), nil, func(context.Context) error {
			calls++
			return io.EOF
		})
		if !errors.Is(err, lost) {
			t.Errorf("err = %v, want the context's cause", err)
		}
		if calls > 3 {
			t.Errorf("calls = %d after cancellation, want at most 3", calls)
		}
	})
}

func TestRetryTransientNoRetryOnceContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := Retry(ctx, discardLog(), nil, func(context.Context) error {
		calls++
		cancel()
		return io.EOF
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got, want := calls, 1; got != want {
		t.Errorf("calls = %d, want %d", got, want)
	}
}

func TestChunks(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		size  int
		sizes []int
	}{
		{"empty", 0, 100, nil},
		{"one", 1, 100, []int{1}},
		{"exactly_one_batch", 100, 100, []int{100}},
		{"one_over", 101, 100, []int{100, 1}},
		{"several", 250, 100, []int{100, 100, 50}},
		{"batch_of_one", 3, 1, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := make([]int, tt.n)
			for i := range items {
				items[i] = i
			}
			var sizes []int
			next := 0
			err := Chunks(items, tt.size, func(part []int) error {
				sizes = append(sizes, len(part))
				for _, v := range part {
					if v != next {
						t.Fatalf("item %d out of order, want %d", v, next)
					}
					next++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sizes, tt.sizes) {
				t.Errorf("batch sizes = %v, want %v", sizes, tt.sizes)
			}
		})
	}
}

func TestChunksStopsAtError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	err := Chunks(make([]int, 10), 3, func([]int) error {
		calls++
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("err = %v after %d calls, want boom after 1", err, calls)
	}
}

// An attempt under a bound has the bound's deadline as it is when the
// attempt starts; an attempt cut off by it while the context lives on (the
// bound moved, as a lease renewal moves it) is retried under the new bound.
func TestRetryBoundsEachAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var until atomic.Pointer[time.Time]
		first := time.Now().Add(2 * time.Second)
		until.Store(&first)
		w := windowFunc(func() (time.Time, error) { return *until.Load(), nil })
		var deadlines []time.Time
		err := Retry(t.Context(), discardLog(), w, func(actx context.Context) error {
			d, ok := actx.Deadline()
			if !ok {
				t.Fatal("attempt without a deadline")
			}
			deadlines = append(deadlines, d)
			if len(deadlines) > 1 {
				return nil
			}
			moved := time.Now().Add(10 * time.Second) // renewed during the attempt
			until.Store(&moved)
			<-actx.Done() // a write still running at its bound
			return actx.Err()
		})
		if err != nil {
			t.Fatalf("Retry = %v, want nil (the bound moved)", err)
		}
		if len(deadlines) != 2 || !deadlines[0].Equal(first) || !deadlines[1].After(first.Add(7*time.Second)) {
			t.Errorf("attempt deadlines = %v, want %v then the moved bound", deadlines, first)
		}
	})
}

// Without a bound, an attempt has the deadline of its context, if any.
func TestRetryWithoutBound(t *testing.T) {
	err := Retry(t.Context(), discardLog(), nil, func(actx context.Context) error {
		if d, ok := actx.Deadline(); ok {
			t.Errorf("attempt deadline %v, want none", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A server too slow for a whole batch within the lease's window: a batch
// cut off by its bound halves the batch size, for it and the rest, until
// batches get through; every item is sent once, in order.
func TestSendHalvesBatchesCutOffByTheirBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Renewals keep the bound a second ahead of every attempt.
		w := windowFunc(func() (time.Time, error) { return time.Now().Add(time.Second), nil })
		items := make([]int, 50)
		for i := range items {
			items[i] = i
		}
		var tried []int
		var got []int
		slow := func(actx context.Context, part []int) error {
			tried = append(tried, len(part))
			if len(part) > 8 { // more than the server can write within the window
				<-actx.Done()
				return actx.Err()
			}
			got = append(got, part...)
			return nil
		}
		var done countProgress
		sent, err := Send(t.Context(), Batcher{Log: discardLog(), Size: 20, Progress: &done, Window: w}, items, slow)
		if err != nil || sent != 50 || done != 50 {
			t.Fatalf("Send = %d, %v (done %d), want 50, nil", sent, err, done)
		}
		if !reflect.DeepEqual(got, items) {
			t.Errorf("items sent = %v, want each once, in order", got)
		}
		if want := []int{20, 10, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}; !reflect.DeepEqual(tried, want) {
			t.Errorf("batch sizes tried = %v, want %v", tried, want)
		}
	})
}

// A single item cut off by its bound every time is retried within the
// retry budget, then reported, naming the statements.
func TestSendGivesUpOnAnItemThatNeverFits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := windowFunc(func() (time.Time, error) { return time.Now().Add(time.Second), nil })
		calls := 0
		_, err := Send(t.Context(), Batcher{Log: discardLog(), Size: 1, Window: w}, []int{1, 2}, func(actx context.Context, part []int) error {
			calls++
			if part[0] == 1 {
				return nil
			}
			<-actx.Done()
			return actx.Err()
		})
		var cut *boundCutError
		if !errors.As(err, &cut) || !strings.Contains(err.Error(), "statements 2-2") {
			t.Errorf("Send = %v, want the cut-off error of statements 2-2", err)
		}
		if calls != 1+retryAttempts {
			t.Errorf("calls = %d, want 1 + %d attempts", calls, retryAttempts)
		}
	})
}

// windowFunc is a Window from a function.
type windowFunc func() (time.Time, error)

func (f windowFunc) Open() (time.Time, error) { return f() }

type countProgress int64

func (c *countProgress) Add(n int64) { *c += countProgress(n) }

// A Window that refuses an attempt ends Retry at once with its error: no
// attempt is sent once the lease is gone, and none is retried.
func TestRetryStopsWhenTheWindowCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gone := errors.New("lease gone")
		opens := 0
		w := windowFunc(func() (time.Time, error) {
			opens++
			if opens > 1 {
				return time.Time{}, gone
			}
			return time.Now().Add(time.Second), nil
		})
		calls := 0
		err := Retry(t.Context(), discardLog(), w, func(context.Context) error {
			calls++
			return mongo.CommandError{Code: 91} // transient: would be retried
		})
		if !errors.Is(err, gone) || calls != 1 {
			t.Errorf("Retry = %v after %d calls, want the window's error after 1", err, calls)
		}
	})
}

// TestBulkWriteEachMakesModelsPerBatch: the models of a batch are made when
// it is sent, not before the first one; an error making one stops the write
// before its batch is sent, without a retry.
func TestBulkWriteEachMakesModelsPerBatch(t *testing.T) {
	mc, err := mongo.Connect() // never dialled: the first batch fails before it is sent
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.WithoutCancel(t.Context())) })
	coll := mc.Database("db").Collection("c")
	var made []int
	bad := errors.New("bad document")
	n, err := BulkWriteEach(t.Context(), Batcher{Size: 3, Log: discardLog()}, coll, []int{0, 1, 2, 3, 4, 5, 6},
		func(i int) (mongo.WriteModel, error) {
			made = append(made, i)
			if i == 1 {
				return nil, bad
			}
			return mongo.NewInsertOneModel().SetDocument(map[string]int{"i": i}), nil
		})
	if !errors.Is(err, bad) || n != 0 {
		t.Fatalf("BulkWriteEach = %d, %v; want 0, the model's error", n, err)
	}
	if got, want := fmt.Sprint(made), "[0 1]"; got != want {
		t.Errorf("models made = %s, want %s (the first batch's, up to the error; once: no retry)", got, want)
	}
}
