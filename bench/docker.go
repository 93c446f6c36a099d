package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// dockerCLI runs the docker command line. Every container and network it
// creates carries the label benchLabel=<run>, so that cleanup finds them all.
type dockerCLI struct {
	run string // this bench run's id, the value of benchLabel
}

// benchLabel marks the containers and networks of a bench run.
const benchLabel = "org.srvthreds.bootstrap.bench"

// cmd runs docker with args and returns its standard output, trimmed. The
// error quotes docker's standard error.
func (d *dockerCLI) cmd(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, "docker", args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args[:min(len(args), 2)], " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// label is the --label argument of this run.
func (d *dockerCLI) label() string {
	return benchLabel + "=" + d.run
}

// newNetwork creates a user-defined network and returns its name.
func (d *dockerCLI) newNetwork(ctx context.Context) (string, error) {
	name := "bootstrap-bench-" + d.run
	if _, err := d.cmd(ctx, "network", "create", "--label", d.label(), name); err != nil {
		return "", err
	}
	return name, nil
}

// runDetached starts a container in the background (docker run -d) with this
// run's label and returns its id.
func (d *dockerCLI) runDetached(ctx context.Context, opts []string, image string, args ...string) (string, error) {
	a := append([]string{"run", "-d", "--label", d.label()}, opts...)
	a = append(a, image)
	a = append(a, args...)
	return d.cmd(ctx, a...)
}

// hostPort returns "127.0.0.1:<port>", where container id publishes port
// (such as "6379/tcp") on loopback.
func (d *dockerCLI) hostPort(ctx context.Context, id, port string) (string, error) {
	out, err := d.cmd(ctx, "port", id, port)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "127.0.0.1:") {
			return line, nil
		}
	}
	return "", fmt.Errorf("docker port %s %s: not published on 127.0.0.1: %q", id, port, out)
}

// remove removes containers by id, forcibly.
func (d *dockerCLI) remove(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := d.cmd(ctx, append([]string{"rm", "-f", "-v"}, ids...)...)
	return err
}

// cleanup removes every container and network of this run.
func (d *dockerCLI) cleanup(ctx context.Context) error {
	out, err := d.cmd(ctx, "ps", "-aq", "--filter", "label="+d.label())
	if err != nil {
		return err
	}
	if ids := strings.Fields(out); len(ids) > 0 {
		if err := d.remove(ctx, ids...); err != nil {
			return err
		}
	}
	out, err = d.cmd(ctx, "network", "ls", "-q", "--filter", "label="+d.label())
	if err != nil {
		return err
	}
	if ids := strings.Fields(out); len(ids) > 0 {
		_, err = d.cmd(ctx, append([]string{"network", "rm"}, ids...)...)
	}
	return err
}

// imageSize returns the size in bytes of a local image, as docker images
// reports it.
func (d *dockerCLI) imageSize(ctx context.Context, image string) (int64, error) {
	out, err := d.cmd(ctx, "image", "inspect", "-f", "{{.Size}}", image)
	if err != nil {
		return 0, err
	}
	var n int64
	if _, err := fmt.Sscan(out, &n); err != nil {
		return 0, fmt.Errorf("size of %s: %q: %w", image, out, err)
	}
	return n, nil
}

// waitUntil calls f every 100ms until it succeeds or timeout passes, and
// then returns f's last error.
func waitUntil(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		err := f(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %s)", err, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
