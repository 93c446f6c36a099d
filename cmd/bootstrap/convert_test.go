package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConvert_command(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dev-manifest")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"convert", "--profiles-dir", "../../profiles/testdata/srvthreds", "-p", "dev", "--out", out},
		&stdout, &stderr, envOf())
	if code != exitOK {
		t.Fatalf("exit %d; stdout %s stderr %s", code, stdout.String(), stderr.String())
	}
	for _, name := range []string{"profile.yaml", "users.yaml", "data/1-upsert-Thing.json", "run-config/session_agent.json", "patterns/echo.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(out, "users.yaml")); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("users.yaml mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(stderr.String(), "warning:") || strings.Contains(stderr.String()+stdout.String(), "secret-pw") {
		t.Errorf("stderr = %q; want inline-password warnings without the passwords", stderr.String())
	}

	// Again into the same directory: refused, nothing overwritten.
	stdout.Reset()
	stderr.Reset()
	code = run(t.Context(), []string{"convert", "--profiles-dir", "../../profiles/testdata/srvthreds", "-p", "dev", "--out", out},
		&stdout, &stderr, envOf())
	if code != exitUsage {
		t.Errorf("second convert: exit %d, want %d", code, exitUsage)
	}

	// With an environment prefix, no password is written.
	out2 := filepath.Join(t.TempDir(), "dev2")
	code = run(t.Context(), []string{"convert", "--profiles-dir", "../../profiles/testdata/srvthreds", "-p", "dev", "--out", out2,
		"--password-env-prefix", "DEV_PW"}, &stdout, &stderr, envOf())
	users, err := os.ReadFile(filepath.Join(out2, "users.yaml"))
	if code != exitOK || err != nil || bytes.Contains(users, []byte("secret-pw")) || !bytes.Contains(users, []byte("DEV_PW_ADMIN")) {
		t.Errorf("exit %d, users.yaml %s (%v); want passwordFrom env DEV_PW_*", code, users, err)
	}
}
