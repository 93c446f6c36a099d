package conn_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/srvthreds/bootstrap/conn"
)

// TestEnv_Cached: a run uses the values its preflight read, even when the
// variable or the mounted file changes afterwards; a failed read is not
// kept.
func TestEnv_Cached(t *testing.T) {
	vars := map[string]string{"PW": "one"}
	files := map[string]string{"/s/pw": "one"}
	reads := 0
	base := conn.Env{
		Getenv: func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) {
			reads++
			s, ok := files[p]
			if !ok {
				return nil, fs.ErrNotExist
			}
			return []byte(s), nil
		},
	}
	env := base.Cached()
	if _, err := env.ReadFile("/s/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
	first := []string{env.Getenv("PW"), mustRead(t, env, "/s/pw")}
	vars["PW"], files["/s/pw"], files["/s/missing"] = "two", "two", "now here"
	b := []byte(mustRead(t, env, "/s/pw"))
	b[0] = 'X' // a caller changing what it got changes nothing kept
	tests := []struct {
		name      string
		got, want string
	}{
		{"variable_read_once", env.Getenv("PW"), first[0]},
		{"file_read_once", mustRead(t, env, "/s/pw"), first[1]},
		{"failed_read_tried_again", mustRead(t, env, "/s/missing"), "now here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	if got, want := reads, 3; got != want {
		t.Errorf("files read %d times, want %d", got, want)
	}
}

func mustRead(t *testing.T, env conn.Env, path string) string {
	t.Helper()
	b, err := env.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
