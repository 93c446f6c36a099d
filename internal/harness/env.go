package harness

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/moby/moby/client"
)

// loopbackAddr is loopback as the Docker API wants it in port bindings.
var loopbackAddr = netip.MustParseAddr(loopback)

// Env is what most integration tests need: a network, and Redis and MongoDB
// on it.
type Env struct {
	Net   *Network
	Redis *Redis
	Mongo *Mongo
}

// Start creates a network and starts Redis and MongoDB on it concurrently;
// it returns once both answer from the test process. Everything is removed
// when t ends. It fails t when anything can't be started.
func Start(t testing.TB) *Env {
	t.Helper()
	needDocker(t)
	n, err := newNetwork(t)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	e := &Env{Net: n}
	var wg sync.WaitGroup
	var redisErr, mongoErr error
	wg.Go(func() { e.Redis, redisErr = startRedis(t, n) })
	wg.Go(func() { e.Mongo, mongoErr = startMongo(t, n) })
	wg.Wait()
	if err := errors.Join(redisErr, mongoErr); err != nil {
		t.Fatalf("harness: %v", err)
	}
	return e
}

// pause freezes the processes of container id (docker pause).
func pause(ctx context.Context, id string) error {
	dc, err := dockerClient()
	if err != nil {
		return err
	}
	_, err = dc.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	return err
}

// unpause resumes a paused container.
func unpause(ctx context.Context, id string) error {
	dc, err := dockerClient()
	if err != nil {
		return err
	}
	_, err = dc.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	return err
}

// kill sends signal (such as "SIGKILL" or "SIGTERM") to container id.
func kill(ctx context.Context, id, signal string) error {
	dc, err := dockerClient()
	if err != nil {
		return err
	}
	if _, err := dc.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal}); err != nil {
		return fmt.Errorf("send %s: %w", signal, err)
	}
	return nil
}
