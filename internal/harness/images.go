package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
)

// Local tags of the test images, and the scripts that build them.
const (
	defaultRedisImage = "bootstrap-test/redis:local"
	defaultMongoImage = "bootstrap-test/ferretdb:v1.24.2"
	redisBuildScript  = "testimages/redis/build.sh"
	mongoBuildScript  = "testimages/ferretdb/build.sh"
)

// buildTimeout bounds building one image: FerretDB takes minutes cold on two
// cores.
const buildTimeout = 10 * time.Minute

// RedisImage returns the Redis image the harness runs: $BOOTSTRAP_TEST_REDIS_IMAGE,
// or bootstrap-test/redis:local, built with testimages/redis/build.sh when
// missing (once per process). It fails t when the image can't be built.
func RedisImage(t testing.TB) string {
	t.Helper()
	needDocker(t)
	img, err := redisImage()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return img
}

// MongoImage returns the MongoDB-wire image the harness runs:
// $BOOTSTRAP_TEST_MONGO_IMAGE, or bootstrap-test/ferretdb:v1.24.2, built with
// testimages/ferretdb/build.sh when missing (once per process). It fails t
// when the image can't be built.
func MongoImage(t testing.TB) string {
	t.Helper()
	needDocker(t)
	img, err := mongoImage()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return img
}

var redisImage = sync.OnceValues(func() (string, error) {
	return localImage(EnvRedisImage, defaultRedisImage, redisBuildScript)
})

var mongoImage = sync.OnceValues(func() (string, error) {
	return localImage(EnvMongoImage, defaultMongoImage, mongoBuildScript)
})

// localImage returns the image named by the environment variable env, or
// else tag, which it builds with script when the engine lacks it.
func localImage(env, tag, script string) (string, error) {
	if img := os.Getenv(env); img != "" {
		return img, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	ok, err := imageExists(ctx, tag)
	if err != nil || ok {
		return tag, err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, script), tag)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build image %s with %s (set %s to use another image): %w\n%s", tag, script, env, err, out)
	}
	return tag, nil
}

// imageExists reports whether the engine has the image ref.
func imageExists(ctx context.Context, ref string) (bool, error) {
	dc, err := dockerClient()
	if err != nil {
		return false, err
	}
	_, err = dc.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}

// imageLabels returns the labels of the image ref.
func imageLabels(ctx context.Context, ref string) (map[string]string, error) {
	dc, err := dockerClient()
	if err != nil {
		return nil, err
	}
	res, err := dc.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if res.Config == nil {
		return nil, nil
	}
	return res.Config.Labels, nil
}

// runGit runs git in the module root and returns its trimmed output, or
// fallback when git fails (no git, no commit yet).
func runGit(root, fallback string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) == "" {
		return fallback
	}
	return strings.TrimSpace(out.String())
}
