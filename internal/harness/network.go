package harness

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// Network is a user-defined Docker network. Containers on it reach each other
// by their aliases (Redis.NetAddr, Mongo.NetURI).
type Network struct {
	// Name is the Docker network's name.
	Name string
}

// NewNetwork creates a fresh user-defined Docker network, removed when t ends
// (after the containers t started on it, since cleanups run last-in
// first-out). It fails t when the network can't be created.
func NewNetwork(t testing.TB) *Network {
	t.Helper()
	needDocker(t)
	n, err := newNetwork(t)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return n
}

func newNetwork(t testing.TB) (*Network, error) {
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	nw, err := tcnetwork.New(ctx)
	testcontainers.CleanupNetwork(t, nw)
	if err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	return &Network{Name: nw.Name}, nil
}

// withNetwork returns the option that attaches a container to n under alias,
// or nil when n is nil.
func (n *Network) withNetwork(alias string) testcontainers.ContainerCustomizer {
	if n == nil {
		return nil
	}
	return tcnetwork.WithNetworkName([]string{alias}, n.Name)
}

// freePort returns a TCP port that was free on the loopback interface a
// moment ago. Binding a container's port to it keeps the address the same
// across a container restart, which an ephemeral binding does not.
func freePort() (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
