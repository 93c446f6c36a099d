package lock

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// IsTransient reports whether an error of a Redis command is worth another
// attempt (Acquire retries them itself): the connection refused, reset or
// closed by the peer, a timeout or other network error, an exhausted pool,
// or a server that is loading its data, read-only (a replica during a
// failover), or a Cluster that is down or resharding, even when the reply
// is wrapped. Context cancellation, a context deadline, a client closed by
// its owner (redis.ErrClosed) and errors of the scripts themselves (a wrong
// reply, a denied command) are not. It is the one rule for Redis and
// network errors: mongox.IsTransient adds MongoDB's own to it.
func IsTransient(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, redis.ErrClosed):
		return false
	case errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return true
	case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsClusterDownError(err),
		redis.IsTryAgainError(err), redis.IsMasterDownError(err):
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		for _, p := range transientReplies {
			if strings.HasPrefix(re.Error(), p) {
				return true
			}
		}
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// transientReplies are the error replies of a Redis that will soon answer
// (the client's Is*Error functions match them only unwrapped or typed).
var transientReplies = []string{"LOADING ", "READONLY ", "CLUSTERDOWN ", "TRYAGAIN ", "MASTERDOWN "}
