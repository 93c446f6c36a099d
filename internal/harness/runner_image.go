package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// runnerImageRepo is the repository of the runner images the harness builds;
// the tag is test-<12 hex digits of the build context's hash>.
const runnerImageRepo = "bootstrap"

// labelContent is the image label holding the hash of the build context.
const labelContent = "bootstrap.test.content"

// Binary returns the path of the bootstrap binary (./cmd/bootstrap), built
// once per test process with CGO off into a directory that Main removes at
// the end. It is built the way make build builds it (static, -trimpath, the
// version data from git) and is the binary the runner image holds when the
// harness builds that image. It fails t when the build fails. It needs no
// Docker and runs under -short.
func Binary(t testing.TB) string {
	t.Helper()
	b, err := binary()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return b.path
}

// RunnerImage returns the runner image: $BOOTSTRAP_TEST_RUNNER_IMAGE, or an
// image built from Dockerfile.cmdRunner the way make image builds it, with
// the binary of [Binary], tagged bootstrap:test-<context hash> (once per
// process; an existing tag is reused). It fails t when the image can't be
// built.
func RunnerImage(t testing.TB) string {
	t.Helper()
	needDocker(t)
	img, err := runnerImage()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return img
}

// builtBinary is the result of building ./cmd/bootstrap.
type builtBinary struct {
	path    string
	version string // main.version
	commit  string // main.commit
}

var binary = sync.OnceValues(func() (builtBinary, error) {
	root, err := moduleRoot()
	if err != nil {
		return builtBinary{}, err
	}
	dir, err := processTempDir("bootstrap-bin-")
	if err != nil {
		return builtBinary{}, fmt.Errorf("build bootstrap: %w", err)
	}
	b := builtBinary{
		path:    filepath.Join(dir, "bootstrap"),
		version: runGit(root, "dev", "describe", "--always", "--dirty"),
		commit:  runGit(root, "unknown", "rev-parse", "--verify", "-q", "HEAD"),
	}
	// The commit date rather than the build time keeps the binary, and so the
	// runner image's content hash, the same from one test process to the next.
	date := runGit(root, "unknown", "show", "-s", "--format=%cI", "HEAD")
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s -X main.date=%s", b.version, b.commit, date)

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", b.path, "./cmd/bootstrap")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return builtBinary{}, fmt.Errorf("build ./cmd/bootstrap: %w\n%s", err, out)
	}
	return b, nil
})

var runnerImage = sync.OnceValues(func() (string, error) {
	if img := os.Getenv(EnvRunnerImage); img != "" {
		return img, nil
	}
	b, err := binary()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "bootstrap-image-")
	if err != nil {
		return "", fmt.Errorf("build runner image: %w", err)
	}
	defer os.RemoveAll(dir)

	// A context shaped like the repository root, which Dockerfile.cmdRunner
	// builds from with its defaults: the Dockerfile, .dockerignore,
	// bin/bootstrap, an empty bin/sbom/ (make image puts the SBOM there; the
	// tests need none) and the example profiles.
	copies := []struct{ from, to string }{
		{filepath.Join(root, "Dockerfile.cmdRunner"), "Dockerfile.cmdRunner"},
		{filepath.Join(root, ".dockerignore"), ".dockerignore"},
		{b.path, "bin/bootstrap"},
	}
	for _, c := range copies {
		if err := copyFile(c.from, filepath.Join(dir, c.to)); err != nil {
			return "", fmt.Errorf("build runner image: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin", "sbom"), 0o755); err != nil {
		return "", fmt.Errorf("build runner image: %w", err)
	}
	examples := filepath.Join("examples", "profiles")
	if err := copyTree(filepath.Join(root, examples), filepath.Join(dir, examples)); err != nil {
		return "", fmt.Errorf("build runner image: %w", err)
	}
	hash, err := treeHash(dir)
	if err != nil {
		return "", fmt.Errorf("build runner image: %w", err)
	}
	tag := runnerImageRepo + ":test-" + hash[:12]

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if ok, err := imageExists(ctx, tag); err != nil || ok {
		return tag, err
	}
	cmd := exec.CommandContext(ctx, "docker", "build", "-f", "Dockerfile.cmdRunner",
		"--build-arg", "VERSION="+b.version,
		"--build-arg", "REVISION="+b.commit,
		"--label", labelContent+"="+hash,
		"-t", tag, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build runner image %s (set %s to use another image): %w\n%s", tag, EnvRunnerImage, err, out)
	}
	return tag, nil
})

// copyFile copies the regular file from to the path to, creating its
// directory and keeping its permission bits.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// copyTree copies the directories and regular files under from to to;
// anything else (symlinks, devices) is left out.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		case d.Type().IsRegular():
			return copyFile(path, filepath.Join(to, rel))
		default:
			return nil
		}
	})
}

// treeHash returns the hex SHA-256 over the relative path, permission bits
// and bytes of every regular file under dir, in lexical order.
func treeHash(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		info, err := os.Stat(path)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %o\n", filepath.ToSlash(rel), info.Mode().Perm())
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
