package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// reflectMethodCallers returns the functions that the linker's -dumpdep
// output marks <ReflectMethod>: each calls reflect.Value.Method or
// MethodByName with a name it computes, which makes the linker keep every
// exported method of every type that may end up in an interface.
func reflectMethodCallers(dumpdep string) []string {
	var out []string
	for _, line := range strings.Split(dumpdep, "\n") {
		fn, _, ok := strings.Cut(line, " <ReflectMethod> -> ")
		if !ok || strings.Contains(fn, " ") || slices.Contains(out, fn) {
			continue
		}
		out = append(out, fn)
	}
	slices.Sort(out)
	return out
}

// dceProbe is the cost of a reflective method call measured on a small
// program: the same go-redis client program built twice, stripped, without
// and with one reflect.Value.MethodByName call on a computed name.
type dceProbe struct {
	Without, With int64
}

// dceProbeSource is the probe program; REFLECT is replaced by the
// reflective call or by nothing.
const dceProbeSource = `package main

import (
	"context"
	"os"
	"reflect"

	"github.com/redis/go-redis/v9"
)

func main() {
	c := redis.NewClient(&redis.Options{Addr: os.Args[0]})
	c.Get(context.Background(), "k")
	_ = reflect.TypeOf(c)
	REFLECT
}
`

// measureDCE builds the probe program twice in the bench module's own
// module graph (it already requires go-redis), so no download is needed.
func measureDCE(ctx context.Context, dir, benchModule string) (*dceProbe, error) {
	goMod, err := os.ReadFile(filepath.Join(benchModule, "go.mod"))
	if err != nil {
		return nil, err
	}
	goSum, err := os.ReadFile(filepath.Join(benchModule, "go.sum"))
	if err != nil {
		return nil, err
	}
	mod := strings.Replace(string(goMod), "module github.com/srvthreds/bootstrap/bench", "module dceprobe", 1)
	var sizes [2]int64
	for i, call := range []string{"", "reflect.ValueOf(c).MethodByName(os.Args[0])"} {
		d := filepath.Join(dir, fmt.Sprintf("dce-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		files := map[string]string{
			"go.mod":  mod,
			"go.sum":  string(goSum),
			"main.go": strings.Replace(dceProbeSource, "REFLECT", call, 1),
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				return nil, err
			}
		}
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", "probe", ".")
		build.Dir = d
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build the method elimination probe: %w: %s", err, tail(string(out), 500))
		}
		st, err := os.Stat(filepath.Join(d, "probe"))
		if err != nil {
			return nil, err
		}
		sizes[i] = st.Size()
	}
	return &dceProbe{Without: sizes[0], With: sizes[1]}, nil
}
