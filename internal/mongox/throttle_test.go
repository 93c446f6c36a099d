package mongox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
)

// cosmosMessage is the shape of Cosmos DB's throttling message.
const cosmosMessage = "Error=16500, RetryAfterMs=%d, Details='Response status code does not indicate success: TooManyRequests (429)'"

func throttledErr(ms int) error {
	return mongo.CommandError{Code: 16500, Name: "RequestRateTooLarge", Message: msgMs(ms)}
}

func msgMs(ms int) string { return fmt.Sprintf(cosmosMessage, ms) }

func TestThrottled(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantWait time.Duration
		wantOK   bool
	}{
		{"command_error", throttledErr(1234), 1234 * time.Millisecond, true},
		{"wrapped", fmt.Errorf("write x.y: %w", throttledErr(7)), 7 * time.Millisecond, true},
		{"write_error_of_a_bulk_write", mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{
			{WriteError: mongo.WriteError{Code: 16500, Message: msgMs(40)}}}}, 40 * time.Millisecond, true},
		{"no_retry_after_in_message", mongo.CommandError{Code: 16500, Message: "request rate is large"}, throttledFallback, true},
		{"other_code", mongo.CommandError{Code: 11600, Message: msgMs(10)}, 0, false},
		{"not_a_server_error", errors.New("RetryAfterMs=10"), 0, false},
		{"nil", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, ok := Throttled(tt.err)
			if ok != tt.wantOK || wait != tt.wantWait {
				t.Errorf("Throttled = %v, %v; want %v, %v", wait, ok, tt.wantWait, tt.wantOK)
			}
		})
	}
}

// A throttled attempt is retried after exactly the RetryAfterMs the server
// named, and throttling does not use up the attempts of other errors.
func TestRetryWaitsWhatTheThrottleAsks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Time
		const throttles = retryAttempts + 2 // more than the attempts of other errors
		err := Retry(t.Context(), discardLog(), nil, func(context.Context) error {
			at = append(at, time.Now())
			if len(at) <= throttles {
				return throttledErr(250 * len(at))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Retry = %v, want nil", err)
		}
		if got, want := len(at), throttles+1; got != want {
			t.Fatalf("calls = %d, want %d", got, want)
		}
		for i := 1; i < len(at); i++ {
			if got, want := at[i].Sub(at[i-1]), time.Duration(250*i)*time.Millisecond; got != want {
				t.Errorf("wait before attempt %d = %v, want %v (RetryAfterMs)", i+1, got, want)
			}
		}
	})
}

// A throttle whose wait would pass the retry budget (a minute) or the
// context's deadline ends Retry at once with the throttling error.
func TestRetryGivesUpWhenTheThrottleWaitsTooLong(t *testing.T) {
	tests := []struct {
		name      string
		ms        int
		deadline  time.Duration // 0: none
		wantCalls int
	}{
		{"past_the_minute", 61_000, 0, 1},
		{"past_the_deadline", 2_000, time.Second, 1},
		{"within_both", 500, time.Second, 2},
		{"the_minute_runs_out", 20_000, 0, 3}, // 0s, 20s, 40s; the next would end at 60s+
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				calls := 0
				err := Retry(ctx, discardLog(), nil, func(context.Context) error {
					calls++
					if calls == 1 || tt.wantCalls > 2 {
						time.Sleep(time.Millisecond) // the attempt itself takes time
						return throttledErr(tt.ms)
					}
					return nil
				})
				if got := calls; got != tt.wantCalls {
					t.Errorf("calls = %d, want %d", got, tt.wantCalls)
				}
				if tt.wantCalls != 2 {
					if _, ok := Throttled(err); !ok {
						t.Errorf("err = %v, want the throttling error", err)
					}
				} else if err != nil {
					t.Errorf("err = %v, want nil", err)
				}
			})
		})
	}
}

// The monitor counts throttled commands, whether the command failed or a
// bulk write's statements were refused, and nothing else.
func TestThrottleMonitor(t *testing.T) {
	n := 0
	m := ThrottleMonitor(func() { n++ })
	ctx := t.Context()
	m.Failed(ctx, &event.CommandFailedEvent{Failure: driver.Error{Code: 16500, Message: msgMs(5)}})
	m.Failed(ctx, &event.CommandFailedEvent{Failure: driver.Error{Code: 11600}})
	m.Failed(ctx, &event.CommandFailedEvent{Failure: errors.New("connection reset")})
	reply := func(doc bson.D) bson.Raw {
		raw, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	m.Succeeded(ctx, &event.CommandSucceededEvent{Reply: reply(bson.D{{Key: "ok", Value: 1}, {Key: "n", Value: 3},
		{Key: "writeErrors", Value: bson.A{bson.D{{Key: "index", Value: 1}, {Key: "code", Value: int32(16500)}, {Key: "errmsg", Value: msgMs(3)}}}}})})
	m.Succeeded(ctx, &event.CommandSucceededEvent{Reply: reply(bson.D{{Key: "ok", Value: 1}, {Key: "n", Value: 3},
		{Key: "writeErrors", Value: bson.A{bson.D{{Key: "index", Value: 1}, {Key: "code", Value: int32(11000)}}}}})})
	m.Succeeded(ctx, &event.CommandSucceededEvent{Reply: reply(bson.D{{Key: "ok", Value: 1}})})
	if got, want := n, 2; got != want {
		t.Errorf("throttled commands counted = %d, want %d", got, want)
	}
}
