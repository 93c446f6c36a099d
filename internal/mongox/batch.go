package mongox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/lock"
)

// DefaultBatchSize is the number of write statements sent in one command
// when the run does not set --batch-size. It is also the backend limit that
// matters: FerretDB (the test stand-in) hangs for good on an update or
// replace command of 100 statements that change stored documents (each
// statement holds one of its 100 SQLite connections until the command ends),
// so the default stays well below it; on MongoDB and Cosmos DB, 50 or 100
// statements per command make no measurable difference.
const DefaultBatchSize = 50

// Retry bounds of Retry.
const (
	retryAttempts     = 6
	retryMaxElapsed   = time.Minute
	retryInitialDelay = 100 * time.Millisecond
	retryMaxDelay     = 5 * time.Second
)

// Progress receives a count after each batch.
type Progress interface{ Add(n int64) }

type nopProgress struct{}

func (nopProgress) Add(int64) {}

// Batcher sends writes and reads of many statements in batches of at most
// Size (DefaultBatchSize when zero), retrying transient errors (see Retry),
// and reports each batch to Progress. The zero value is ready to use.
type Batcher struct {
	Log      *slog.Logger // nil: discard
	Size     int
	Progress Progress // nil: none
	Window   Window   // bounds each attempt of a write (see Window); nil: none
}

func (b Batcher) log() *slog.Logger {
	if b.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Log
}

func (b Batcher) size() int {
	if b.Size <= 0 {
		return DefaultBatchSize
	}
	return b.Size
}

func (b Batcher) progress() Progress {
	if b.Progress == nil {
		return nopProgress{}
	}
	return b.Progress
}

// Chunks calls fn with consecutive sub-slices of at most size elements.
func Chunks[T any](items []T, size int, fn func([]T) error) error {
	for start := 0; start < len(items); start += size {
		if err := fn(items[start:min(start+size, len(items))]); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceUpsert writes docs[i] over the document matching filters[i]
// (a replace-one with upsert) in unordered BulkWrite commands of at most
// b.Size statements each, retrying transient errors (replace-upserts are
// idempotent, so a retried batch is safe). It reports each batch to
// progress and returns the number of statements applied; on error, the
// count covers the batches that succeeded before it.
func (b Batcher) ReplaceUpsert(ctx context.Context, coll *mongo.Collection, filters, docs []any) (int64, error) {
	if len(filters) != len(docs) {
		return 0, fmt.Errorf("bulk replace %s: %d filters for %d documents", coll.Name(), len(filters), len(docs))
	}
	models := make([]mongo.WriteModel, len(docs))
	for i := range docs {
		models[i] = mongo.NewReplaceOneModel().SetFilter(filters[i]).SetReplacement(docs[i]).SetUpsert(true)
	}
	return b.BulkWrite(ctx, coll, models)
}

// BulkWrite runs models in unordered BulkWrite commands of at most
// b.Size statements each, retrying transient errors (see Send). The models
// must be idempotent. It returns the number of statements applied by the
// batches that succeeded.
func (b Batcher) BulkWrite(ctx context.Context, coll *mongo.Collection, models []mongo.WriteModel) (int64, error) {
	b.Log = b.log().With("collection", coll.Name())
	written, err := Send(ctx, b, models, func(ctx context.Context, part []mongo.WriteModel) error {
		_, err := coll.BulkWrite(ctx, part, options.BulkWrite().SetOrdered(false))
		return err
	})
	if err != nil {
		err = fmt.Errorf("write %s.%s %w", coll.Database().Name(), coll.Name(), err)
	}
	return written, err
}

// BulkWriteEach is BulkWrite of the models of items, each made by model
// when its batch is sent (and made again if the batch is re-sent in
// halves): only one batch's models are held at a time. An error of model
// stops it, with the statements of the batch named.
func BulkWriteEach[T any](ctx context.Context, b Batcher, coll *mongo.Collection, items []T, model func(T) (mongo.WriteModel, error)) (int64, error) {
	b.Log = b.log().With("collection", coll.Name())
	written, err := Send(ctx, b, items, func(ctx context.Context, part []T) error {
		models := make([]mongo.WriteModel, len(part))
		for i, it := range part {
			m, err := model(it)
			if err != nil {
				return err // not transient: no retry
			}
			models[i] = m
		}
		_, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		return err
	})
	if err != nil {
		err = fmt.Errorf("write %s.%s %w", coll.Database().Name(), coll.Name(), err)
	}
	return written, err
}

// Send sends items in batches of at most b.Size, each with Retry under
// b.Window, and reports each batch's length to b.Progress once it is sent.
// A batch cut off by its deadline while ctx lives on (see Window: the server
// took longer than the lease's window, and a renewal has since moved it) is
// not sent whole again: the batch size halves, down to one, for this batch
// and the rest, so a slow server still progresses under a healthy lease. It
// returns how many items were sent before an error.
func Send[T any](ctx context.Context, b Batcher, items []T, send func(context.Context, []T) error) (int64, error) {
	log, size, done := b.log(), b.size(), b.progress().Add
	var sent int64
	for len(items) > 0 {
		part := items[:min(size, len(items))]
		err := retry(ctx, log, b.Window, len(part) > 1, func(ctx context.Context) error { return send(ctx, part) })
		var cut *boundCutError
		if errors.As(err, &cut) && len(part) > 1 {
			size = len(part) / 2
			log.Warn("batch cut off at the end of the lease window, sending smaller ones", "statements", len(part), "batch_size", size)
			continue
		}
		if err != nil {
			return sent, fmt.Errorf("(statements %d-%d): %w", sent+1, sent+int64(len(part)), err)
		}
		sent += int64(len(part))
		items = items[len(part):]
		done(int64(len(part)))
		log.Debug("batch written", "statements", len(part), "written", sent)
	}
	return sent, nil
}

// A Window bounds the attempts of Retry and Send under a lease (the
// runner's fenced session implements it). Open returns the deadline of an
// attempt that starts now, or an error when no attempt may start (the lease
// is gone); it is asked again before every attempt, so a renewal that moved
// the deadline counts from the next attempt on. The MongoDB driver sends a
// command's deadline as maxTimeMS, so the server aborts a write still
// running then, and sends nothing that could not finish before it; go-redis
// (ContextTimeoutEnabled) bounds its commands the same way. A nil Window
// bounds nothing.
type Window interface {
	Open() (until time.Time, err error)
}

// Retry calls fn until it succeeds, fails with an error that is
// not transient (see IsTransient), ctx ends, w refuses an attempt, or the
// retry budget is spent (6 attempts or one minute). It waits between
// attempts with exponential backoff and jitter, from 100ms up to 5s; after
// Cosmos DB's throttling (16500) it waits the RetryAfterMs the server named
// instead, without counting the attempt, and gives up at once when that
// wait would pass the minute or ctx's deadline (see Throttled). fn must
// be idempotent. Each attempt has w's deadline as it is when the attempt
// starts (see Window); an attempt cut off by it while ctx lives on (a
// renewal moved it) is retried. When ctx ends it returns ctx's cause; when
// w refuses, w's error; otherwise fn's last error.
func Retry(ctx context.Context, log *slog.Logger, w Window, fn func(context.Context) error) error {
	return retry(ctx, log, w, false, fn)
}

// retry is Retry; with splittable, an attempt cut off by its bound is
// returned at once (a *boundCutError) for the caller to send less.
func retry(ctx context.Context, log *slog.Logger, w Window, splittable bool, fn func(context.Context) error) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	delay := retryInitialDelay
	var cut *boundCutError
	var closed *closedError
	for attempt := 1; ; attempt++ {
		err := try(ctx, w, fn)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if errors.As(err, &closed) {
			return closed.err
		}
		if splittable && errors.As(err, &cut) {
			return err
		}
		wait, ok := nextWait(ctx, start, &attempt, delay, err)
		if !ok {
			return err
		}
		log.Warn("transient error, retrying", "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		delay = min(delay*2, retryMaxDelay)
	}
}

// nextWait is how long retry waits after an attempt that failed with err,
// or false when it gives up. A throttled attempt (Throttled: Cosmos DB's
// 16500) waits what the server asked for and does not count towards the
// attempts, only towards the minute (see throttledWait); any other
// transient error waits the backoff delay with jitter, within the attempts
// and the minute.
func nextWait(ctx context.Context, start time.Time, attempt *int, delay time.Duration, err error) (time.Duration, bool) {
	if after, ok := Throttled(err); ok {
		*attempt--
		return throttledWait(ctx, start, after)
	}
	if !IsTransient(err) || *attempt >= retryAttempts || time.Since(start) >= retryMaxElapsed {
		return 0, false
	}
	return delay/2 + rand.N(delay/2+1), true
}

// maxTimeMSExpired is MongoDB's error code for a command that ran past its
// maxTimeMS.
const maxTimeMSExpired = 50

// boundCutError is an attempt cut off by its bound (the client's deadline,
// or MongoDB's maxTimeMS) while its context lived on.
type boundCutError struct{ err error }

func (e *boundCutError) Error() string {
	return e.err.Error() + " (cut off at the end of the lease window)"
}

func (e *boundCutError) Unwrap() error { return e.err }

// closedError is a Window's refusal of an attempt: no retry.
type closedError struct{ err error }

func (e *closedError) Error() string { return e.err.Error() }
func (e *closedError) Unwrap() error { return e.err }

// try makes one attempt of fn under w's deadline.
func try(ctx context.Context, w Window, fn func(context.Context) error) error {
	if w == nil {
		return fn(ctx)
	}
	until, err := w.Open()
	if err != nil {
		return &closedError{err}
	}
	actx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	err = fn(actx)
	var se mongo.ServerError
	if err != nil && ctx.Err() == nil &&
		(actx.Err() != nil || errors.As(err, &se) && se.HasErrorCode(maxTimeMSExpired)) {
		return &boundCutError{err}
	}
	return err
}

// transientMongoCodes are server error codes after which the same write can
// be sent again: the retryable-write codes of the MongoDB drivers
// specification (a primary stepping down, a node shutting down, a network
// problem between nodes) and Azure Cosmos DB's throttling code.
var transientMongoCodes = [...]int{
	6,     // HostUnreachable
	7,     // HostNotFound
	50,    // MaxTimeMSExpired: an attempt's bound passed (a live ctx retries under the moved one)
	89,    // NetworkTimeout
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	262,   // ExceededTimeLimit
	9001,  // SocketException
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
	16500, // Cosmos DB: request rate too large (HTTP 429)
}

// IsTransient reports whether err is worth retrying: a MongoDB network
// error or timeout (a context deadline included: an attempt cut off by its
// bound), a MongoDB error labelled RetryableWriteError or
// TransientTransactionError or with one of transientMongoCodes, or what
// lock.IsTransient, the one rule for Redis and network errors, says is
// transient. Context cancellation is never transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) {
		return true
	}
	var le mongo.LabeledError
	if errors.As(err, &le) && (le.HasErrorLabel("RetryableWriteError") || le.HasErrorLabel("TransientTransactionError")) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, c := range transientMongoCodes {
			if se.HasErrorCode(c) {
				return true
			}
		}
	}
	return lock.IsTransient(err)
}
