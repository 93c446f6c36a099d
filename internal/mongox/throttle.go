package mongox

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
)

// throttledCode is Azure Cosmos DB's answer to a request over the account's
// provisioned request units ("request rate is large", HTTP 429). Its
// message names the wait it asks for, as RetryAfterMs=<n>.
const throttledCode = 16500

// throttledFallback is the wait after a 16500 whose message names none.
const throttledFallback = 500 * time.Millisecond

var retryAfterMs = regexp.MustCompile(`RetryAfterMs=(\d+)`)

// Throttled reports whether err is Cosmos DB's throttling (16500, in the
// command's reply or one of its write errors) and the wait it asks for: its
// RetryAfterMs, or 500ms when the message names none.
func Throttled(err error) (time.Duration, bool) {
	var se mongo.ServerError
	if err == nil || !errors.As(err, &se) || !se.HasErrorCode(throttledCode) {
		return 0, false
	}
	return retryAfter(err.Error()), true
}

// retryAfter is the RetryAfterMs that msg names, or throttledFallback.
func retryAfter(msg string) time.Duration {
	m := retryAfterMs.FindStringSubmatch(msg)
	if m == nil {
		return throttledFallback
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return throttledFallback
	}
	return time.Duration(ms) * time.Millisecond
}

// throttledWait is how long retry waits before the next attempt after a
// throttled one that took place start..now: the wait the server asked for,
// or false when that wait would end past the retry budget (one minute from
// start) or past ctx's deadline, so that it gives up at once instead.
func throttledWait(ctx context.Context, start time.Time, wait time.Duration) (time.Duration, bool) {
	end := time.Now().Add(wait)
	if end.After(start.Add(retryMaxElapsed)) {
		return 0, false
	}
	if d, ok := ctx.Deadline(); ok && end.After(d) {
		return 0, false
	}
	return wait, true
}

// ThrottleMonitor is a command monitor for the MongoDB client that calls
// onThrottled once for every command the server throttled (16500, as the
// command's error or in its write errors): the count that /metrics shows.
func ThrottleMonitor(onThrottled func()) *event.CommandMonitor {
	return &event.CommandMonitor{
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			// The event carries the driver's own error, not yet a
			// mongo.ServerError.
			var de driver.Error
			if errors.As(e.Failure, &de) && de.Code == throttledCode {
				onThrottled()
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			if replyThrottled(e.Reply) {
				onThrottled()
			}
		},
	}
}

// replyThrottled reports whether a command's reply (ok: 1) carries a write
// error of code 16500: a bulk write of which some statements were
// throttled.
func replyThrottled(reply bson.Raw) bool {
	v, err := reply.LookupErr("writeErrors")
	if err != nil {
		return false
	}
	arr, ok := v.ArrayOK()
	if !ok {
		return false
	}
	vals, err := arr.Values()
	if err != nil {
		return false
	}
	for _, we := range vals {
		doc, ok := we.DocumentOK()
		if !ok {
			continue
		}
		if c, err := doc.LookupErr("code"); err == nil {
			if n, ok := c.AsInt64OK(); ok && n == throttledCode {
				return true
			}
		}
	}
	return false
}
