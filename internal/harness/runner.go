package harness

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Paths and ports of the runner image (Dockerfile.cmdRunner).
const (
	runnerProfilesDir = "/profiles"
	runnerHealthPort  = "8081"
)

// RunOptions describe one run of the runner image.
type RunOptions struct {
	// Args follow the entrypoint (/bootstrap), e.g. {"run", "-p", "base"}.
	Args []string
	// Env is added to the container's environment.
	Env map[string]string
	// ProfilesDir, when set, is a host directory whose files are copied into
	// the container at /profiles, in place of the profiles the image holds
	// (a fresh volume is mounted there). Symlinks are left out.
	ProfilesDir string
	// Name is put in the container's name, to tell runs apart in logs.
	Name string
	// Files are copied into the container before it starts: path → content
	// (a CA file, say).
	Files map[string][]byte
}

// RunnerContainer is one run of the runner image, removed when the test that
// started it ends. Its methods fail the test they are given on error.
type RunnerContainer struct {
	// Name is the container's name, also its alias on the Env's network.
	Name string

	c *testcontainers.DockerContainer
}

// StartRunner starts the runner image (RunnerImage) on e.Net with o and
// returns without waiting for anything; see Wait. The health port (8081) is
// published on loopback: see HealthAddr. It fails t when the container can't
// be started.
func (e *Env) StartRunner(t testing.TB, o RunOptions) *RunnerContainer {
	t.Helper()
	needDocker(t)
	img := RunnerImage(t)
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()

	prefix := "bootstrap"
	if o.Name != "" {
		prefix += "-" + o.Name
	}
	name := uniqueName(prefix)
	health := network.MustParsePort(runnerHealthPort + "/tcp")
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithName(name),
		withLogger(t),
		testcontainers.WithEnv(o.Env),
		testcontainers.WithExposedPorts(health.String()),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{health: {{HostIP: loopbackAddr, HostPort: "0"}}}
		}),
	}
	if len(o.Args) > 0 {
		opts = append(opts, testcontainers.WithCmd(o.Args...))
	}
	if e != nil {
		if nw := e.Net.withNetwork(name); nw != nil {
			opts = append(opts, nw)
		}
	}
	if o.ProfilesDir != "" {
		archive, err := tarDir(o.ProfilesDir)
		if err != nil {
			t.Fatalf("harness: copy profiles into the runner: %v", err)
		}
		opts = append(opts, withProfiles(archive))
	}
	for p, b := range o.Files {
		opts = append(opts, testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: bytes.NewReader(b), ContainerFilePath: p, FileMode: 0o644,
		}))
	}
	c, err := testcontainers.Run(ctx, img, opts...)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("harness: start runner (%s): %v", img, err)
	}
	return &RunnerContainer{Name: name, c: c}
}

// withProfiles mounts an empty volume at /profiles (hiding the image's
// profiles) and copies archive into it before the container starts. The copy
// goes through the Docker API, so the image needs no shell.
func withProfiles(archive []byte) testcontainers.ContainerCustomizer {
	mountVolume := testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.Mounts = append(hc.Mounts, mount.Mount{
			Type:          mount.TypeVolume,
			Target:        runnerProfilesDir,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true},
		})
	})
	copyIn := testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
		PostCreates: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
			dc, err := dockerClient()
			if err != nil {
				return err
			}
			_, err = dc.CopyToContainer(ctx, c.GetContainerID(), client.CopyToContainerOptions{
				DestinationPath: runnerProfilesDir,
				Content:         bytes.NewReader(archive),
			})
			if err != nil {
				return fmt.Errorf("copy profiles to %s: %w", runnerProfilesDir, err)
			}
			return nil
		}},
	})
	return testcontainers.CustomizeRequestOption(func(req *testcontainers.GenericContainerRequest) error {
		if err := mountVolume(req); err != nil {
			return err
		}
		return copyIn(req)
	})
}

// tarDir returns a tar archive of the directories and regular files under
// dir, with paths relative to dir, owned by root, readable by everyone.
func tarDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755})
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: int64(len(data))}); err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		default:
			return nil
		}
	})
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}

// Wait waits up to timeout for the container to exit and returns its exit
// code and its logs (stdout and stderr, interleaved). It fails t, with the
// logs so far, when the container is still running after timeout.
func (c *RunnerContainer) Wait(t testing.TB, timeout time.Duration) (exitCode int, logs string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for {
		state, err := c.c.State(ctx)
		if err == nil && !state.Running && !state.Paused && !state.Restarting && state.Status != "created" {
			return state.ExitCode, c.Logs(t)
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			t.Fatalf("harness: runner %s did not exit within %s: %v\nlogs so far:\n%s", c.Name, timeout, err, c.Logs(t))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Running reports whether the runner is running and not paused.
func (c *RunnerContainer) Running(t testing.TB) bool {
	t.Helper()
	state, err := c.c.State(t.Context())
	if err != nil {
		t.Fatalf("harness: state of runner %s: %v", c.Name, err)
	}
	return state.Running && !state.Paused
}

// Kill sends signal ("SIGKILL", "SIGTERM", "SIGINT") to the runner process.
func (c *RunnerContainer) Kill(t testing.TB, signal string) {
	t.Helper()
	if err := kill(t.Context(), c.c.GetContainerID(), signal); err != nil {
		t.Fatalf("harness: runner %s: %v", c.Name, err)
	}
}

// Pause freezes the runner (docker pause), as a hung process: it renews no
// lease and serves no probe until Unpause.
func (c *RunnerContainer) Pause(t testing.TB) {
	t.Helper()
	if err := pause(t.Context(), c.c.GetContainerID()); err != nil {
		t.Fatalf("harness: pause runner %s: %v", c.Name, err)
	}
}

// Unpause resumes a paused runner.
func (c *RunnerContainer) Unpause(t testing.TB) {
	t.Helper()
	if err := unpause(t.Context(), c.c.GetContainerID()); err != nil {
		t.Fatalf("harness: unpause runner %s: %v", c.Name, err)
	}
}

// Logs returns the runner's output so far, stdout and stderr interleaved.
func (c *RunnerContainer) Logs(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
	defer cancel()
	rc, err := c.c.Logs(ctx)
	if err != nil {
		t.Fatalf("harness: logs of runner %s: %v", c.Name, err)
	}
	defer rc.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, rc); err != nil {
		t.Fatalf("harness: logs of runner %s: %v", c.Name, err)
	}
	return b.String()
}

// HealthAddr returns "127.0.0.1:<port>", where the test process reaches the
// runner's health server (--health-addr :8081, the default) while it runs.
func (c *RunnerContainer) HealthAddr(t testing.TB) string {
	t.Helper()
	p, err := c.c.MappedPort(t.Context(), runnerHealthPort+"/tcp")
	if err != nil {
		t.Fatalf("harness: health port of runner %s: %v", c.Name, err)
	}
	return net.JoinHostPort(loopback, p.Port())
}
