package harness

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestMain(m *testing.M) { Main(m) }

func TestStart_serves_redis_and_mongo_to_the_test_process(t *testing.T) {
	t.Parallel()
	env := Start(t)

	t.Run("redis_set_get", func(t *testing.T) {
		rdb := env.Redis.Client(t)
		if err := rdb.Set(t.Context(), "harness:k", "v1", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		got, err := rdb.Get(t.Context(), "harness:k").Result()
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		if want := "v1"; got != want {
			t.Errorf("GET harness:k = %q, want %q", got, want)
		}
	})

	t.Run("mongo_insert_find", func(t *testing.T) {
		coll := env.Mongo.Client(t).Database("harness").Collection("things")
		if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 42}}); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var got struct {
			ID string `bson:"_id"`
			N  int    `bson:"n"`
		}
		if err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
			t.Fatalf("find: %v", err)
		}
		if got.ID != "a" || got.N != 42 {
			t.Errorf("found %+v, want {ID:a N:42}", got)
		}
	})

	t.Run("addresses", func(t *testing.T) {
		if !strings.HasPrefix(env.Redis.Addr, "127.0.0.1:") {
			t.Errorf("Redis.Addr = %q, want it on 127.0.0.1", env.Redis.Addr)
		}
		if !strings.HasPrefix(env.Mongo.URI, "mongodb://127.0.0.1:") {
			t.Errorf("Mongo.URI = %q, want it on 127.0.0.1", env.Mongo.URI)
		}
		if !strings.HasSuffix(env.Redis.NetAddr, ":6379") || strings.HasPrefix(env.Redis.NetAddr, "127.") {
			t.Errorf("Redis.NetAddr = %q, want <alias>:6379", env.Redis.NetAddr)
		}
		if !strings.HasPrefix(env.Mongo.NetURI, "mongodb://mongo-") || !strings.HasSuffix(env.Mongo.NetURI, ":27017/") {
			t.Errorf("Mongo.NetURI = %q, want mongodb://<alias>:27017/", env.Mongo.NetURI)
		}
	})
}

func TestStartRedis_without_network_has_no_net_addr(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, nil)
	if r.NetAddr != "" {
		t.Errorf("NetAddr = %q, want empty without a network", r.NetAddr)
	}
	if err := r.Client(t).Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING: %v", err)
	}
}

func TestRedis_pause_and_restart(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, nil)
	rdb := r.Client(t)
	ping := func(t *testing.T) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		return rdb.Ping(ctx).Err()
	}
	if err := rdb.Set(t.Context(), "before", "1", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	r.Pause(t)
	if err := ping(t); err == nil {
		t.Errorf("PING while paused succeeded, want a timeout")
	}
	r.Unpause(t)
	if err := ping(t); err != nil {
		t.Errorf("PING after Unpause: %v", err)
	}

	addr := r.Addr
	r.Stop(t)
	if err := ping(t); err == nil {
		t.Errorf("PING while stopped succeeded, want an error")
	}
	r.Start(t)
	if got, want := r.Addr, addr; got != want {
		t.Errorf("Addr after restart = %q, want %q", got, want)
	}
	if err := ping(t); err != nil {
		t.Errorf("PING after Start with the old client: %v", err)
	}
	// Without persistence a restart empties Redis.
	if err := rdb.Get(t.Context(), "before").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET before after restart: err = %v, want redis.Nil", err)
	}
}

func TestRunner_version(t *testing.T) {
	t.Parallel()
	env := &Env{Net: NewNetwork(t)}
	run := env.StartRunner(t, RunOptions{Args: []string{"version"}, Name: "version"})
	code, logs := run.Wait(t, 2*time.Minute)
	if code != 0 {
		t.Fatalf("bootstrap version exited %d, want 0; logs:\n%s", code, logs)
	}
	// The image says which version its binary carries: make image and the
	// harness both label it.
	labels, err := imageLabels(t.Context(), RunnerImage(t))
	if err != nil {
		t.Fatal(err)
	}
	want := labels["org.opencontainers.image.version"]
	if want == "" {
		t.Fatalf("runner image %s has no org.opencontainers.image.version label", RunnerImage(t))
	}
	if !strings.Contains(logs, want) {
		t.Errorf("bootstrap version printed %q, want it to contain the version %q", logs, want)
	}
}

func TestBinary_version(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./cmd/bootstrap")
	}
	t.Parallel()
	b, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	if got := Binary(t); got != b.path {
		t.Errorf("Binary = %q, want the path built once, %q", got, b.path)
	}
	out, err := exec.CommandContext(t.Context(), Binary(t), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("bootstrap version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), b.version) {
		t.Errorf("bootstrap version printed %q, want it to contain %q", out, b.version)
	}
}

func TestRunner_profiles_dir_replaces_the_image_profiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"alpha/profile.yaml":  "steps: []\n",
		"alpha/data/one.json": `{"code": "one"}`,
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := &Env{Net: NewNetwork(t)}
	run := env.StartRunner(t, RunOptions{Args: []string{"version"}, ProfilesDir: dir, Name: "profiles"})
	if code, logs := run.Wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("bootstrap version exited %d, want 0; logs:\n%s", code, logs)
	}

	got := listContainerDir(t, run, runnerProfilesDir)
	want := []string{"profiles/", "profiles/alpha/", "profiles/alpha/data/", "profiles/alpha/data/one.json", "profiles/alpha/profile.yaml"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files under /profiles:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rc, err := run.c.CopyFileFromContainer(t.Context(), "/profiles/alpha/data/one.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	content, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(content), files["alpha/data/one.json"]; got != want {
		t.Errorf("/profiles/alpha/data/one.json = %q, want %q", got, want)
	}
}

func TestRunner_reaches_redis_and_mongo_over_the_network(t *testing.T) {
	t.Parallel()
	env := Start(t)
	run := env.StartRunner(t, RunOptions{
		Args: []string{"status", "--redis-url", "redis://" + env.Redis.NetAddr, "--mongo-uri", env.Mongo.NetURI},
		Name: "status",
	})
	if code, logs := run.Wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("bootstrap status exited %d, want 0; logs:\n%s", code, logs)
	}
}

func TestRunnerContainer_signals_and_pause(t *testing.T) {
	t.Parallel()
	// The methods of RunnerContainer work on any container; a Redis server is
	// one that runs until told otherwise, and it exits 0 on SIGTERM.
	tests := []struct {
		name   string
		signal string
		want   int
	}{
		{name: "sigkill", signal: "SIGKILL", want: 137},
		{name: "sigterm", signal: "SIGTERM", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := StartRedis(t, nil)
			run := &RunnerContainer{Name: "redis", c: r.c}
			if !run.Running(t) {
				t.Errorf("Running before Pause = false, want true")
			}
			run.Pause(t)
			if run.Running(t) {
				t.Errorf("Running while paused = true, want false")
			}
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			if err := r.Client(t).Ping(ctx).Err(); err == nil {
				t.Errorf("PING while paused succeeded, want a timeout")
			}
			run.Unpause(t)
			run.Kill(t, tt.signal)
			code, logs := run.Wait(t, time.Minute)
			if run.Running(t) {
				t.Errorf("Running after exit = true, want false")
			}
			if code != tt.want {
				t.Errorf("exit code after %s = %d, want %d", tt.signal, code, tt.want)
			}
			if !strings.Contains(logs, "Ready to accept connections") {
				t.Errorf("logs lack the server's start line:\n%s", logs)
			}
		})
	}
}

// listContainerDir lists the entries of a directory of run's container, read
// through the Docker API (the image has no shell), in archive order.
func listContainerDir(t *testing.T, run *RunnerContainer, dir string) []string {
	t.Helper()
	dc, err := dockerClient()
	if err != nil {
		t.Fatal(err)
	}
	res, err := dc.CopyFromContainer(t.Context(), run.c.GetContainerID(), client.CopyFromContainerOptions{SourcePath: dir})
	if err != nil {
		t.Fatalf("copy %s from the container: %v", dir, err)
	}
	defer res.Content.Close()
	var names []string
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			slices.Sort(names)
			return names
		}
		if err != nil {
			t.Fatalf("read the archive of %s: %v", dir, err)
		}
		names = append(names, h.Name)
	}
}
