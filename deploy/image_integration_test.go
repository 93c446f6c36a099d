package deploy

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// imageFiles lists the regular files of an image (FROM scratch: no shell to
// list them with), read from `docker export` of a container never started.
func imageFiles(t *testing.T, image string) map[string][]byte {
	t.Helper()
	id := strings.TrimSpace(run(t, nil, "docker", "create", image))
	t.Cleanup(func() { runErr(t, nil, "docker", "rm", "-f", id) })
	cmd := exec.Command("docker", "export", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		var data []byte
		if strings.HasPrefix(h.Name, "sbom/") || strings.HasPrefix(h.Name, "profiles/") {
			if data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		files["/"+h.Name] = data
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker export: %v", err)
	}
	return files
}

// A plain `docker build` of Dockerfile.cmdRunner (no Makefile) with the build
// arguments any builder passes gives an image with the OCI labels; the SBOM
// that make sbom writes beside the binary ends up under /sbom.
func TestImage_plain_docker_build_has_labels_and_sbom(t *testing.T) {
	if testing.Short() {
		t.Skip("container test")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The context as the repository root has it after `make sbom`: the
	// binary and its SBOM (built here into the test's directory) and the
	// example profiles.
	ctx := t.TempDir()
	run(t, nil, "make", "-s", "-C", root, "sbom", "BIN_DIR="+filepath.Join(ctx, "bin"))
	copyTree(t, filepath.Join(root, "examples", "profiles"), filepath.Join(ctx, "examples", "profiles"))

	args := map[string]string{
		"VERSION":  "v0.0.0-test",
		"REVISION": "0123456789abcdef0123456789abcdef01234567",
		"CREATED":  "2026-01-02T03:04:05Z",
	}
	image := "bootstrap-image-test:" + uniqueSuffix(t)
	build := []string{"build", "-q", "-f", filepath.Join(root, "Dockerfile.cmdRunner"), "-t", image}
	for k, v := range args {
		build = append(build, "--build-arg", k+"="+v)
	}
	run(t, nil, "docker", append(build, ctx)...)
	t.Cleanup(func() { runErr(t, nil, "docker", "rmi", "-f", image) })

	var labels map[string]string
	if err := json.Unmarshal([]byte(run(t, nil, "docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image)), &labels); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"title": "bootstrap", "version": args["VERSION"], "revision": args["REVISION"], "created": args["CREATED"],
		"source": "https://github.com/srvthreds/bootstrap",
	} {
		if got := labels["org.opencontainers.image."+key]; got != want {
			t.Errorf("label org.opencontainers.image.%s: got %q, want %q", key, got, want)
		}
	}
	if labels["org.opencontainers.image.description"] == "" {
		t.Error("label org.opencontainers.image.description: empty")
	}

	files := imageFiles(t, image)
	checkSBOM(t, files["/sbom/bootstrap.cdx.json"])
	for _, f := range []string{"/bootstrap", "/profiles/example-base/profile.yaml", "/profiles/example-users/users.yaml"} {
		if _, ok := files[f]; !ok {
			t.Errorf("%s: not in the image", f)
		}
	}
	for f := range files {
		if strings.HasSuffix(f, ".go") {
			t.Errorf("%s: Go source in the image", f)
		}
	}
	checkImageSize(t, image, filepath.Join(ctx, "bin", "bootstrap"))
}

// checkSBOM checks a CycloneDX JSON SBOM of the binary: it names the module
// and lists modules the binary is built from.
func checkSBOM(t *testing.T, data []byte) {
	t.Helper()
	if data == nil {
		t.Fatal("/sbom/bootstrap.cdx.json: not in the image")
	}
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct {
				Name string `json:"name"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatalf("/sbom/bootstrap.cdx.json: %v", err)
	}
	if got, want := bom.BOMFormat, "CycloneDX"; got != want {
		t.Errorf("SBOM bomFormat: got %q, want %q", got, want)
	}
	if got, want := bom.Metadata.Component.Name, "github.com/srvthreds/bootstrap"; got != want {
		t.Errorf("SBOM component: got %q, want %q", got, want)
	}
	var names []string
	for _, c := range bom.Components {
		names = append(names, c.Name)
	}
	for _, m := range []string{"github.com/alecthomas/kong", "github.com/redis/go-redis/v9", "go.mongodb.org/mongo-driver/v2"} {
		if !slices.Contains(names, m) {
			t.Errorf("SBOM components: no %s (have %q)", m, names)
		}
	}
}

// checkImageSize logs the image's size and checks that it is the binary plus
// a few kilobytes of profiles and SBOM.
func checkImageSize(t *testing.T, image, binary string) {
	t.Helper()
	size, err := strconv.ParseInt(strings.TrimSpace(run(t, nil, "docker", "image", "inspect", "--format", "{{.Size}}", image)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(binary)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %d bytes, binary %d bytes", size, info.Size())
	if extra := size - info.Size(); extra > 1<<20 {
		t.Errorf("image: %d bytes besides the binary, want under 1 MiB", extra)
	}
}
