package step

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/srvthreds/bootstrap/internal/testutil"
	"github.com/srvthreds/bootstrap/profiles"
)

func TestBcryptCost(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    int
		wantErr bool
	}{
		{"unset_is_12", "", 12, false},
		{"set", "10", 10, false},
		{"spaces_trimmed", " 4 ", 4, false},
		{"not_a_number", "ten", 0, true},
		{"below_min", "3", 0, true},
		{"above_max", "32", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bcryptCost(func(k string) string {
				if k == "BCRYPT_SALT_ROUNDS" {
					return tt.value
				}
				return ""
			})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "BCRYPT_SALT_ROUNDS") {
					t.Errorf("err = %v, want one naming BCRYPT_SALT_ROUNDS", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("bcryptCost = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func testUserEnv() *Env {
	vars := map[string]string{"PW": "from-env-secret", "EMPTY": ""}
	files := map[string]string{
		"/run/secrets/pw":    "from-file-secret\n",
		"/run/secrets/crlf":  "crlf-secret\r\n",
		"/run/secrets/empty": "\n",
	}
	return NewEnv(Env{
		Getenv: func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	})
}

func TestUserPassword(t *testing.T) {
	long := strings.Repeat("x", 73)
	tests := []struct {
		name    string
		src     profiles.PasswordSource
		want    string
		wantErr string // substring of the error
	}{
		{"inline", profiles.PasswordSource{Value: "inline-secret"}, "inline-secret", ""},
		{"env", profiles.PasswordSource{Env: "PW"}, "from-env-secret", ""},
		{"env_unset", profiles.PasswordSource{Env: "NOPE"}, "", "NOPE"},
		{"env_empty", profiles.PasswordSource{Env: "EMPTY"}, "", "EMPTY"},
		{"file_newline_trimmed", profiles.PasswordSource{File: "/run/secrets/pw"}, "from-file-secret", ""},
		{"file_crlf_trimmed", profiles.PasswordSource{File: "/run/secrets/crlf"}, "crlf-secret", ""},
		{"file_empty", profiles.PasswordSource{File: "/run/secrets/empty"}, "", "/run/secrets/empty"},
		{"file_missing", profiles.PasswordSource{File: "/nope"}, "", "/nope"},
		{"none", profiles.PasswordSource{}, "", "no password source"},
		{"too_long", profiles.PasswordSource{Value: long}, "", "72 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := userPassword(testUserEnv(), profiles.User{ID: "alice", Password: tt.src})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "alice") {
					t.Fatalf("err = %v, want one naming alice and %q", err, tt.wantErr)
				}
				if tt.src.Value != "" && strings.Contains(err.Error(), tt.src.Value) {
					t.Errorf("error %q contains the password", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("userPassword = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestHashPasswords(t *testing.T) {
	env := testUserEnv()
	// "p@ss a" has characters a bcrypt hash never holds: a two-letter
	// password would sometimes appear in one by chance.
	users := []profiles.User{
		{ID: "a", Password: profiles.PasswordSource{Value: "p@ss a"}},
		{ID: "b", Password: profiles.PasswordSource{Env: "PW"}},
		{ID: "c", Password: profiles.PasswordSource{File: "/run/secrets/pw"}},
	}
	p := &testutil.Progress{}
	hashes, err := hashPasswords(t.Context(), withProgress(env, p), users, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for i, pw := range []string{"p@ss a", "from-env-secret", "from-file-secret"} {
		if err := bcrypt.CompareHashAndPassword(hashes[i], []byte(pw)); err != nil {
			t.Errorf("user %s: hash does not match its password: %v", users[i].ID, err)
		}
		if bytes.Contains(hashes[i], []byte(pw)) {
			t.Errorf("user %s: hash contains the password", users[i].ID)
		}
	}
	if got, want := p.Beats(), int64(len(users)); got != want {
		t.Errorf("heartbeats = %d, want %d", got, want)
	}
}

func TestHashPasswordsStopsAtFirstError(t *testing.T) {
	users := []profiles.User{
		{ID: "ok", Password: profiles.PasswordSource{Value: "pw"}},
		{ID: "bad", Password: profiles.PasswordSource{Env: "NOPE"}},
	}
	_, err := hashPasswords(t.Context(), withProgress(testUserEnv(), &testutil.Progress{}), users, bcrypt.MinCost)
	if err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("err = %v, want one naming user bad", err)
	}
}

func TestHashPasswordsHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	users := make([]profiles.User, 50)
	for i := range users {
		users[i] = profiles.User{ID: "u", Password: profiles.PasswordSource{Value: "pw"}}
	}
	p := &testutil.Progress{}
	_, err := hashPasswords(ctx, withProgress(testUserEnv(), p), users, bcrypt.MinCost)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if p.Beats() == int64(len(users)) {
		t.Errorf("hashed all %d users after cancellation", p.Beats())
	}
}

// withProgress returns env reporting to p.
func withProgress(env *Env, p Progress) *Env {
	env.Progress = p
	return env
}
