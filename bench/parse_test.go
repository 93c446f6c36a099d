package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=2,usec=300,usec_per_call=150.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=4,usec=4,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"
	c, err := parseCommandStats(info)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c["evalsha"], int64(2); got != want {
		t.Errorf("evalsha = %d, want %d", got, want)
	}
	if got, want := c["client|setinfo"], int64(4); got != want {
		t.Errorf("client|setinfo = %d, want %d", got, want)
	}
	if got, want := len(c), 2; got != want {
		t.Errorf("%d commands, want %d: %v", got, want, c)
	}
}

func TestCountsArithmetic(t *testing.T) {
	before := counts{"get": 1, "info": 5, "set": 2}
	after := counts{"get": 4, "info": 7, "set": 2, "del": 1}
	d := after.sub(before, "info")
	if got, want := d.String(), "`get` 3, `del` 1"; got != want {
		t.Errorf("sub = %s, want %s", got, want)
	}
	if got, want := d.minus(counts{"get": 1, "del": 1}).String(), "`get` 2"; got != want {
		t.Errorf("minus = %s, want %s", got, want)
	}
	if got, want := d.total(), int64(4); got != want {
		t.Errorf("total = %d, want %d", got, want)
	}
}

func TestParseMonitorLine(t *testing.T) {
	tests := []struct {
		name, line, source, cmd string
		ok                      bool
	}{
		{name: "client", line: `1700000000.123456 [0 127.0.0.1:5000] "EVALSHA" "abc" "3"`, source: "127.0.0.1:5000", cmd: "evalsha", ok: true},
		{name: "script", line: `1700000000.123457 [0 lua] "set" "k" "v" "NX"`, source: "lua", cmd: "set", ok: true},
		{name: "garbage", line: "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source, cmd, ok := parseMonitorLine(tt.line)
			if ok != tt.ok || source != tt.source || cmd != tt.cmd {
				t.Errorf("parseMonitorLine = %q, %q, %v; want %q, %q, %v", source, cmd, ok, tt.source, tt.cmd, tt.ok)
			}
		})
	}
	lines := []string{
		`1.0 [0 127.0.0.1:5000] "evalsha" "abc"`, `1.1 [0 lua] "set" "k"`, `1.2 [0 lua] "incr" "f"`, `1.3 [0 lua] "set" "h"`,
	}
	if got, want := scriptCalls(lines).String(), "`set` 2, `incr` 1"; got != want {
		t.Errorf("scriptCalls = %s, want %s", got, want)
	}
}

func TestParseInitTrace(t *testing.T) {
	stderr := "init runtime @0.010 ms, 0.20 ms clock, 0 bytes, 0 allocs\n" +
		"init golang.org/x/crypto/x509roots/fallback @35 ms, 3.7 ms clock, 666440 bytes, 8875 allocs\n" +
		"bootstrap dev\n"
	got := parseInitTrace(stderr)
	if got, want := got["golang.org/x/crypto/x509roots/fallback"], 3700*time.Microsecond; got != want {
		t.Errorf("fallback = %v, want %v", got, want)
	}
	if got, want := len(got), 2; got != want {
		t.Errorf("%d packages, want %d", got, want)
	}
}

func TestSymbolModule(t *testing.T) {
	mods := []string{"github.com/srvthreds/bootstrap", "github.com/redis/go-redis/v9", "go.mongodb.org/mongo-driver/v2", "golang.org/x/crypto"}
	tests := []struct {
		name, symbol, want string
	}{
		{name: "method", symbol: "github.com/redis/go-redis/v9.cmdable.FTCreate", want: "github.com/redis/go-redis/v9"},
		{name: "subpackage", symbol: "go.mongodb.org/mongo-driver/v2/x/mongo/driver.Operation.Execute", want: "go.mongodb.org/mongo-driver/v2"},
		{name: "generic_with_path_in_brackets", symbol: "sync/atomic.(*Pointer[github.com/redis/go-redis/v9.T]).Load", want: stdModule},
		{name: "std_vendor", symbol: "vendor/golang.org/x/net/idna.idnaValues", want: stdModule},
		{name: "module_not_std", symbol: "golang.org/x/crypto/bcrypt.bcrypt", want: "golang.org/x/crypto"},
		{name: "linker_data", symbol: "go:func.*", want: ""},
		{name: "type_data", symbol: "type:*github.com/redis/go-redis/v9.Client", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := moduleOf(symbolPackage(tt.symbol), mods); got != tt.want {
				t.Errorf("module of %s = %q, want %q", tt.symbol, got, tt.want)
			}
		})
	}
}

func TestReflectMethodCallers(t *testing.T) {
	dumpdep := strings.Join([]string{
		"main.run -> github.com/alecthomas/kong.(*Context).Run",
		"github.com/alecthomas/kong.(*Context).Run -> github.com/alecthomas/kong.getMethod <ReflectMethod>",
		"github.com/alecthomas/kong.getMethod <ReflectMethod> -> reflect.Value.MethodByName",
		"github.com/alecthomas/kong.getMethod <ReflectMethod> -> reflect.Value.Addr",
		"github.com/alecthomas/kong.(*Context).RunNode <ReflectMethod> -> reflect.Value.Method",
	}, "\n")
	got := reflectMethodCallers(dumpdep)
	want := []string{"github.com/alecthomas/kong.(*Context).RunNode", "github.com/alecthomas/kong.getMethod"}
	if !slices.Equal(got, want) {
		t.Errorf("reflectMethodCallers = %q, want %q", got, want)
	}
}

func TestIsFerret(t *testing.T) {
	tests := []struct {
		img  string
		want bool
	}{
		{img: "bootstrap-test/ferretdb:v1.24.2", want: true},
		{img: "ghcr.io/ferretdb/ferretdb@sha256:abc", want: true},
		{img: "mongo:7", want: false},
		{img: "registry:5000/ferretdb-mirror/mongo:7", want: false},
	}
	for _, tt := range tests {
		t.Run(strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(tt.img), func(t *testing.T) {
			if got := isFerret(tt.img); got != tt.want {
				t.Errorf("isFerret(%q) = %v, want %v", tt.img, got, tt.want)
			}
		})
	}
}

func TestCheckSummary(t *testing.T) {
	out := `{"msg":"run starting"}` + "\n" + `not json` + "\n" +
		`{"msg":"run finished","event":"run_summary","applied":0,"skipped":3}` + "\n"
	if err := checkSummary(procResult{Stdout: out}, 0, 3); err != nil {
		t.Errorf("checkSummary(0 applied, 3 skipped) = %v, want nil", err)
	}
	if err := checkSummary(procResult{Stdout: out}, 3, 0); err == nil {
		t.Error("checkSummary(3 applied) = nil, want an error")
	}
	if err := checkSummary(procResult{Stdout: `{"msg":"x"}`}, 0, 0); err == nil {
		t.Error("checkSummary without a summary line = nil, want an error")
	}
}

func TestReportMarksMissedTargets(t *testing.T) {
	r := &report{}
	r.row(summaryRow{Figure: "a", Met: met(true)})
	r.row(summaryRow{Figure: "b", Met: met(false)})
	r.row(summaryRow{Figure: "c"})
	s := r.section("S")
	s.table([]string{"x", "y"}, []string{"1", "2"})
	var b strings.Builder
	if err := r.write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| a |  |  |  |  | yes |", "| b |  |  |  |  | no |", "| c |  |  |  |  | – |", "## S\n\n| x | y |\n|---|---|\n| 1 | 2 |\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
