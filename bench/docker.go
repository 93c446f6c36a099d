package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
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

// create creates a container (docker create) with this run's label and
// returns its id. opts go before the image, args after it.
func (d *dockerCLI) create(ctx context.Context, opts []string, image string, args ...string) (string, error) {
	a := append([]string{"create", "--label", d.label()}, opts...)
	a = append(a, image)
	a = append(a, args...)
	return d.cmd(ctx, a...)
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

// logs returns the container's output, stdout and stderr interleaved.
func (d *dockerCLI) logs(ctx context.Context, id string) (string, error) {
	c := exec.CommandContext(ctx, "docker", "logs", id)
	out, err := c.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker logs %s: %w: %s", id, err, out)
	}
	return string(out), nil
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

// engine calls the Docker Engine API directly, for the timed parts of a
// measurement: starting twenty docker CLI processes at once would load the
// two cores of the machine and be counted against the runner. It falls back
// to the CLI when the engine is not reached through a unix socket.
type engine struct {
	hc  *http.Client // nil: use the CLI
	cli *dockerCLI
}

// newEngine returns an engine for $DOCKER_HOST (default
// unix:///var/run/docker.sock).
func newEngine(cli *dockerCLI) *engine {
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		u, err := url.Parse(h)
		if err != nil || u.Scheme != "unix" {
			return &engine{cli: cli}
		}
		sock = u.Path
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 64,
	}
	return &engine{hc: &http.Client{Transport: tr}, cli: cli}
}

// post sends POST /<path> and decodes a JSON reply into out (when not nil).
func (e *engine) post(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker api %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var msg bytes.Buffer
		msg.ReadFrom(resp.Body)
		return fmt.Errorf("docker api %s: %s: %s", path, resp.Status, strings.TrimSpace(msg.String()))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// start starts a created container.
func (e *engine) start(ctx context.Context, id string) error {
	if e.hc == nil {
		_, err := e.cli.cmd(ctx, "start", id)
		return err
	}
	return e.post(ctx, "containers/"+id+"/start", nil)
}

// wait blocks until the container exits and returns its exit code.
func (e *engine) wait(ctx context.Context, id string) (int, error) {
	if e.hc == nil {
		out, err := e.cli.cmd(ctx, "wait", id)
		if err != nil {
			return 0, err
		}
		var code int
		_, err = fmt.Sscan(out, &code)
		return code, err
	}
	var reply struct {
		StatusCode int
		Error      *struct{ Message string }
	}
	if err := e.post(ctx, "containers/"+id+"/wait?condition=not-running", &reply); err != nil {
		return 0, err
	}
	if reply.Error != nil && reply.Error.Message != "" {
		return reply.StatusCode, fmt.Errorf("wait %s: %s", id, reply.Error.Message)
	}
	return reply.StatusCode, nil
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
