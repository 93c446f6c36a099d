// Package harness runs the containers of the integration tests: Redis, a
// MongoDB-wire server (FerretDB unless told otherwise) and the bootstrap runner
// image, with testcontainers-go, on a Docker engine that can pull nothing.
//
// Every package with integration tests calls [Main] from its TestMain:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//
// A test then starts what it needs, and everything is removed when it ends:
//
//	env := harness.Start(t)            // a network, Redis and MongoDB
//	rdb := env.Redis.Client(t)         // clients for the test process
//	run := env.StartRunner(t, harness.RunOptions{Args: []string{"version"}})
//	code, logs := run.Wait(t, time.Minute)
//
// # Multi-node Redis and TLS
//
// [StartRedisCluster] (three masters, three replicas), [StartRedisSentinel]
// (a master, a replica, three Sentinels), [StartRedisTLS] and
// [StartMongoTLS] (certificates of a [CA] made by the test) start their
// nodes on a [Network]. Cluster nodes and Sentinels name the nodes by their
// addresses on that network, so the runner image, on the same network, is
// what talks to them; the test process's clients (Cluster.Client,
// Sentinel.Client) reach the same nodes through their published loopback
// ports.
//
// # Images
//
// BOOTSTRAP_TEST_REDIS_IMAGE, BOOTSTRAP_TEST_MONGO_IMAGE and
// BOOTSTRAP_TEST_RUNNER_IMAGE name the images to run; make test builds them
// once and sets all three. Unset, the harness uses the local tags
// bootstrap-test/redis:local and bootstrap-test/ferretdb:v1.24.2, building a
// missing one with testimages/*/build.sh, and builds the runner image from
// Dockerfile.cmdRunner, each once per test process. Real redis:7 and mongo:7
// images work too, on a machine that can pull them.
//
// # Docker
//
// Integration tests fail, never skip, when Docker is unreachable: Main exits 1
// with the reason. Under go test -short (make test-unit) the functions that
// need Docker skip the test instead, and Main does not check Docker.
// BOOTSTRAP_REQUIRE_DOCKER, which .ci/run sets, changes nothing: a missing
// Docker is always a failure.
//
// # Logs
//
// testcontainers' own log lines are dropped, unless BOOTSTRAP_TEST_DOCKER_LOG
// is set: then each container's lines go to its test's log (t.Logf).
//
// # Concurrency
//
// Every function and method is safe for concurrent use by parallel tests;
// each call starts containers of its own. What is built once per process
// (images, the binary) is guarded by sync.Once.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Environment variables the harness reads.
const (
	EnvRedisImage  = "BOOTSTRAP_TEST_REDIS_IMAGE"
	EnvMongoImage  = "BOOTSTRAP_TEST_MONGO_IMAGE"
	EnvRunnerImage = "BOOTSTRAP_TEST_RUNNER_IMAGE"
	EnvDockerLog   = "BOOTSTRAP_TEST_DOCKER_LOG"
)

// loopback is where the test process reaches published ports. Published
// ports are bound to it only, and testcontainers is told to use it: these
// machines look like containers, and the default gateway is not ours.
const loopback = "127.0.0.1"

// setupTimeout bounds starting one container and waiting until it serves.
const setupTimeout = 2 * time.Minute

// Main runs the tests of a package with integration tests. It configures
// testcontainers (TESTCONTAINERS_RYUK_DISABLED=true, since the reaper image
// can't be pulled, and TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 unless it is
// already set), exits 1 with a
// clear message when Docker is unreachable (unless -short), runs the tests,
// and removes what the process built in temporary directories.
func Main(m *testing.M) {
	setEnv()
	flag.Parse()
	if !testing.Short() {
		if _, err := dockerClient(); err != nil {
			fmt.Fprintf(os.Stderr, "harness: Docker is unreachable, and integration tests need it (they never skip): %v\n"+
				"harness: start the Docker engine (docker info must work), or run the unit tests alone with go test -short\n", err)
			os.Exit(1)
		}
	}
	defer removeTempDirs()
	m.Run() // TestMain returning makes the test binary exit with m.Run's code.
}

// envOnce sets the testcontainers environment before its first use: its
// configuration is read once per process.
var envOnce sync.Once

func setEnv() {
	envOnce.Do(func() {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" {
			os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", loopback)
		}
		if os.Getenv(EnvDockerLog) == "" {
			tclog.SetDefault(tclog.NewNoopLogger())
		}
	})
}

// withLogger routes a container's testcontainers log lines to t's log when
// BOOTSTRAP_TEST_DOCKER_LOG is set, and drops them otherwise.
func withLogger(t testing.TB) testcontainers.ContainerCustomizer {
	if os.Getenv(EnvDockerLog) != "" {
		return testcontainers.WithLogger(tclog.TestLogger(t))
	}
	return testcontainers.WithLogger(tclog.NewNoopLogger())
}

// needDocker skips t under -short and otherwise makes sure the environment
// is set; Docker errors surface from the call that needs it.
func needDocker(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("harness: container test skipped under -short")
	}
	setEnv()
}

// dockerClient returns the process's Docker client, connecting once; the
// engine must answer within 30s.
var dockerClient = sync.OnceValues(func() (c *testcontainers.DockerClient, err error) {
	setEnv()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// testcontainers panics instead of returning an error in some setups.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("connect to docker: %v", r)
		}
	}()
	c, err = testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to docker: %w", err)
	}
	return c, nil
})

// tempDirs are removed by Main when the tests are done.
var tempDirs struct {
	sync.Mutex
	dirs []string
}

// processTempDir returns a directory that lives as long as the test process
// (removed by Main), unlike t.TempDir.
func processTempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	tempDirs.Lock()
	tempDirs.dirs = append(tempDirs.dirs, dir)
	tempDirs.Unlock()
	return dir, nil
}

func removeTempDirs() {
	tempDirs.Lock()
	defer tempDirs.Unlock()
	for _, d := range tempDirs.dirs {
		os.RemoveAll(d)
	}
	tempDirs.dirs = nil
}

// moduleRoot returns the directory holding go.mod, walking up from the
// working directory (a test's package directory).
var moduleRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
})

// uniqueName returns prefix-<8 hex digits>, usable as a container name and a
// network alias.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return sanitizeName(prefix) + "-" + hex.EncodeToString(b)
}

// sanitizeName keeps the characters Docker allows in names, at most 40.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if len(out) > 40 {
		out = out[:40]
	}
	if out == "" {
		out = "c"
	}
	return out
}
