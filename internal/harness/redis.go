package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// redisPort is the port Redis listens on inside its container.
const redisPort = "6379"

// Redis is a Redis server in a container, removed when the test that started
// it ends. Its methods fail the test they are given on error.
type Redis struct {
	// Addr is "127.0.0.1:<port>", reachable from the test process. It stays
	// valid across Stop and Start.
	Addr string
	// NetAddr is "<alias>:6379", reachable from containers on the Network
	// Redis was started on; empty without a Network.
	NetAddr string

	c *testcontainers.DockerContainer
}

// StartRedis starts Redis (RedisImage) without persistence (--save "",
// --appendonly no) and returns once it answers PING from the test process.
// With a non-nil n the container joins n under a unique alias.
func StartRedis(t testing.TB, n *Network) *Redis {
	t.Helper()
	needDocker(t)
	r, err := startRedis(t, n)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return r
}

func startRedis(t testing.TB, n *Network) (*Redis, error) {
	img, err := redisImage()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()

	name := uniqueName("redis")
	port := network.MustParsePort(redisPort + "/tcp")
	// The host port is chosen here rather than by Docker so that a restart
	// keeps it; another process may take it in between, hence the retries.
	var c *testcontainers.DockerContainer
	var hostPort string
	for attempt := 0; ; attempt++ {
		if hostPort, err = freePort(); err != nil {
			return nil, err
		}
		opts := []testcontainers.ContainerCustomizer{
			testcontainers.WithName(name),
			withLogger(t),
			// The local image's entrypoint is redis-server; redis:7's
			// entrypoint script prepends redis-server to arguments that start
			// with "-". Protected mode would refuse clients from other hosts.
			testcontainers.WithCmd("--save", "", "--appendonly", "no", "--protected-mode", "no"),
			testcontainers.WithExposedPorts(port.String()),
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
				hc.PortBindings = network.PortMap{port: {{HostIP: loopbackAddr, HostPort: hostPort}}}
			}),
			testcontainers.WithWaitStrategyAndDeadline(setupTimeout,
				wait.ForLog("Ready to accept connections")),
		}
		if o := n.withNetwork(name); o != nil {
			opts = append(opts, o)
		}
		c, err = testcontainers.Run(ctx, img, opts...)
		testcontainers.CleanupContainer(t, c)
		if err == nil || attempt == 2 || !portTaken(err) {
			break
		}
		name = uniqueName("redis")
	}
	if err != nil {
		return nil, fmt.Errorf("start redis (%s): %w", img, err)
	}
	r := &Redis{Addr: net.JoinHostPort(loopback, hostPort), c: c}
	if n != nil {
		r.NetAddr = net.JoinHostPort(name, redisPort)
	}
	if err := r.ping(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// portTaken reports whether a container failed to start because its host
// port was taken.
func portTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// ping waits until Redis answers PING from the test process.
func (r *Redis) ping(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	return retry(ctx, "ping redis at "+r.Addr, func(ctx context.Context) error {
		return c.Ping(ctx).Err()
	})
}

// Client returns a client of this Redis for the test process, closed when t
// ends. It is safe for concurrent use, as every go-redis client is.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Pause freezes the Redis process (docker pause): connections stay open and
// commands time out, as with a hung server, until Unpause.
func (r *Redis) Pause(t testing.TB) {
	t.Helper()
	if err := pause(t.Context(), r.c.GetContainerID()); err != nil {
		t.Fatalf("harness: pause redis: %v", err)
	}
}

// Unpause resumes a paused Redis.
func (r *Redis) Unpause(t testing.TB) {
	t.Helper()
	if err := unpause(t.Context(), r.c.GetContainerID()); err != nil {
		t.Fatalf("harness: unpause redis: %v", err)
	}
}

// Stop stops Redis (SIGTERM, then SIGKILL after 10s). Without persistence,
// its data is gone when it starts again.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	timeout := 10 * time.Second
	if err := r.c.Stop(t.Context(), &timeout); err != nil {
		t.Fatalf("harness: stop redis: %v", err)
	}
}

// Start starts a stopped Redis again and returns once it answers PING. Addr
// and NetAddr stay the same; Start fails t if the host port was taken by
// another process in between.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	if err := r.c.Start(ctx); err != nil {
		t.Fatalf("harness: start redis again: %v", err)
	}
	if err := r.ping(ctx); err != nil {
		t.Fatalf("harness: %v", err)
	}
}

// retry calls f every 100ms until it succeeds or ctx is done, and then
// returns f's last error.
func retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
