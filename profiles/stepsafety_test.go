package profiles_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
)

func TestLoad_http_safeParams_and_exec_passEnv_quiet(t *testing.T) {
	fsys := mapFS(map[string]string{"p/profile.yaml": `steps:
  - http:
      url: "https://engine.test/reload?token=s3cr3t&tenant=acme&mode=full"
      safeParams: [tenant, mode]
  - exec:
      command: [/bin/migrate]
      env: {MODE: up}
      passEnv: [DATABASE_URL, AWS_REGION]
      quiet: true
`})
	set, err := profiles.Load(fsys, []string{"p"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	p := set.Get("p")
	h := p.Steps[0].HTTP
	if got, want := h.SafeParams, []string{"tenant", "mode"}; !slices.Equal(got, want) {
		t.Errorf("safeParams = %q, want %q", got, want)
	}
	e := p.Steps[1].Exec
	if got, want := e.PassEnv, []string{"DATABASE_URL", "AWS_REGION"}; !slices.Equal(got, want) || !e.Quiet {
		t.Errorf("exec = %+v, want passEnv %q and quiet", e, want)
	}
	sum := p.Steps[0].Summary()
	if strings.Contains(sum, "s3cr3t") || strings.Contains(sum, "token") {
		t.Errorf("Summary() = %q, want the unsafe parameter dropped", sum)
	}
	if !strings.Contains(sum, "mode=full") || !strings.Contains(sum, "tenant=acme") {
		t.Errorf("Summary() = %q, want the safe parameters kept", sum)
	}
}

func TestStep_Summary_drops_the_query_unless_safe(t *testing.T) {
	tests := []struct {
		name string
		url  string
		safe []string
		want string
	}{
		{"token_dropped", "https://h.test/x?token=abc", nil, "http: GET https://h.test/x expect 200"},
		{"safe_kept", "https://h.test/x?token=abc&v=2", []string{"v"}, "http: GET https://h.test/x?v=2 expect 200"},
		{"password_and_fragment", "https://u:pw@h.test/x?k=1#frag", nil, "http: GET https://u:***@h.test/x expect 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := profiles.Step{Kind: profiles.KindHTTP, HTTP: &profiles.HTTPStep{Method: "GET", URL: tt.url, Expect: []int{200}, SafeParams: tt.safe}}
			if got := s.Summary(); got != tt.want {
				t.Errorf("Summary() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad_bad_passEnv_quiet_safeParams(t *testing.T) {
	tests := []struct {
		name, step, want string
	}{
		{"passEnv_bad_name", `{exec: {command: [x], passEnv: ["A-B"]}}`, `p/profile.yaml:1:41: steps[0].exec.passEnv[0]: invalid environment variable name "A-B"`},
		{"passEnv_twice", `{exec: {command: [x], passEnv: [A, A]}}`, `p/profile.yaml:1:44: steps[0].exec.passEnv[1]: "A" is named twice`},
		{"quiet_not_bool", `{exec: {command: [x], quiet: yes please}}`, `p/profile.yaml:1:38: steps[0].exec.quiet: is "yes please"; want true or false`},
		{"safeParams_not_a_list", `{http: {url: "http://h/", safeParams: tenant}}`, `p/profile.yaml:1:47: steps[0].http.safeParams: is a scalar; want a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := profiles.Load(mapFS(map[string]string{"p/profile.yaml": "steps: [" + tt.step + "]\n"}), []string{"p"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoad_bad_url_is_not_echoed(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{"not_http", "ftp://u:pw-s3cret@h.test/x?token=tok-s3cret", `invalid URL "ftp://u:***@h.test/x": want an http:// or https:// URL`},
		{"unparseable", "http://u:pw-s3cret@h.test:port/?token=tok-s3cret", "invalid URL: invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := profiles.Load(mapFS(map[string]string{"p/profile.yaml": "steps: [{http: {url: \"" + tt.url + "\"}}]\n"}), []string{"p"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Load: %v shows a secret of the URL", err)
			}
		})
	}
}
