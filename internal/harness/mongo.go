package harness

import (
	"context"
	"fmt"
	"net"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// mongoPort is the port the MongoDB-wire server listens on in its container.
const mongoPort = "27017"

// Mongo is a MongoDB-wire server in a container (FerretDB with its SQLite
// backend on a tmpfs, unless BOOTSTRAP_TEST_MONGO_IMAGE names another image
// such as mongo:7), removed when the test that started it ends.
type Mongo struct {
	// URI is "mongodb://127.0.0.1:<port>/", for the test process.
	URI string
	// NetURI is "mongodb://<alias>:27017/", for containers on the Network
	// Mongo was started on; empty without a Network.
	NetURI string

	c *testcontainers.DockerContainer
}

// StartMongo starts the MongoDB-wire server (MongoImage) and returns once it
// answers ping from the test process. With a non-nil n the container joins n
// under a unique alias.
func StartMongo(t testing.TB, n *Network) *Mongo {
	t.Helper()
	needDocker(t)
	m, err := startMongo(t, n)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return m
}

// MongoStoresDollarKeys reports whether the test's MongoDB-wire server
// stores nested keys that start with "$": MongoDB 5.0+ does, FerretDB does
// not (TESTING.md).
func MongoStoresDollarKeys() bool {
	img, err := mongoImage()
	if err != nil {
		return false
	}
	cmd, _, _ := mongoFlavor(img)
	return cmd == nil
}

// mongoFlavor returns the arguments and the readiness log line of the
// server in img: FerretDB for an image named ferretdb, mongod otherwise.
func mongoFlavor(img string) (cmd []string, ready string, tmpfs map[string]string) {
	repo := img
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if strings.Contains(strings.ToLower(path.Base(repo)), "ferretdb") {
		return []string{
			"--handler=sqlite", "--sqlite-url=file:/data/", "--listen-addr=:" + mongoPort,
			"--telemetry=disable", "--state-dir=-", "--debug-addr=-",
		}, "Listening on TCP", map[string]string{"/data": "rw"}
	}
	// mongod, with the image's own command.
	return nil, "Waiting for connections", nil
}

func startMongo(t testing.TB, n *Network) (*Mongo, error) {
	img, err := mongoImage()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()

	name := uniqueName("mongo")
	port := network.MustParsePort(mongoPort + "/tcp")
	cmd, ready, tmpfs := mongoFlavor(img)
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithName(name),
		withLogger(t),
		testcontainers.WithExposedPorts(port.String()),
		// Published on loopback only, on a port Docker chooses.
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{port: {{HostIP: loopbackAddr, HostPort: "0"}}}
		}),
		testcontainers.WithWaitStrategyAndDeadline(setupTimeout, wait.ForLog(ready)),
	}
	if cmd != nil {
		opts = append(opts, testcontainers.WithCmd(cmd...))
	}
	if tmpfs != nil {
		opts = append(opts, testcontainers.WithTmpfs(tmpfs))
	}
	if o := n.withNetwork(name); o != nil {
		opts = append(opts, o)
	}
	c, err := testcontainers.Run(ctx, img, opts...)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		return nil, fmt.Errorf("start mongo (%s): %w", img, err)
	}
	mapped, err := c.MappedPort(ctx, port.String())
	if err != nil {
		return nil, fmt.Errorf("start mongo (%s): %w", img, err)
	}
	m := &Mongo{URI: "mongodb://" + net.JoinHostPort(loopback, mapped.Port()) + "/", c: c}
	if n != nil {
		m.NetURI = "mongodb://" + net.JoinHostPort(name, mongoPort) + "/"
	}
	if err := m.ping(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// ping waits until the server answers ping from the test process.
func (m *Mongo) ping(ctx context.Context) error {
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI).
		SetServerSelectionTimeout(time.Second).SetConnectTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("connect to mongo at %s: %w", m.URI, err)
	}
	defer disconnect(c)
	return retry(ctx, "ping mongo at "+m.URI, func(ctx context.Context) error {
		return c.Ping(ctx, nil)
	})
}

// Client returns a client of this server for the test process, disconnected
// when t ends. It is safe for concurrent use, as every driver client is.
func (m *Mongo) Client(t testing.TB) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI))
	if err != nil {
		t.Fatalf("harness: connect to mongo at %s: %v", m.URI, err)
	}
	t.Cleanup(func() { disconnect(c) })
	return c
}

// disconnect disconnects c within 10s.
func disconnect(c *mongo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Disconnect(ctx)
}

// Pause freezes the MongoDB server (docker pause): connections stay open
// and commands hang, as with a hung server, until Unpause.
func (m *Mongo) Pause(t testing.TB) {
	t.Helper()
	if err := pause(t.Context(), m.c.GetContainerID()); err != nil {
		t.Fatalf("harness: pause mongo: %v", err)
	}
}

// Unpause resumes a paused MongoDB server.
func (m *Mongo) Unpause(t testing.TB) {
	t.Helper()
	if err := unpause(t.Context(), m.c.GetContainerID()); err != nil {
		t.Fatalf("harness: unpause mongo: %v", err)
	}
}
