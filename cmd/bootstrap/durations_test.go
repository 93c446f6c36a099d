package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun_duration_below_its_minimum_exits_2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		flag string
	}{
		{name: "stall_timeout_3ns", args: []string{"run", "-p", "a", "--stall-timeout", "3ns"}, flag: "--stall-timeout 3ns"},
		{name: "stall_timeout_zero", args: []string{"run", "-p", "a", "--stall-timeout", "0s"}, flag: "--stall-timeout"},
		{name: "timeout_negative", args: []string{"run", "-p", "a", "--timeout", "-1s"}, flag: "--timeout"},
		{name: "lock_wait_1ms", args: []string{"run", "-p", "a", "--lock-wait", "1ms"}, flag: "--lock-wait"},
		{name: "shutdown_grace_99ms", args: []string{"run", "-p", "a", "--shutdown-grace", "99ms"}, flag: "--shutdown-grace"},
		{name: "connect_timeout_5us", args: []string{"status", "--connect-timeout", "5us"}, flag: "--connect-timeout"},
		{name: "lock_ttl_200ms", args: []string{"run", "-p", "a", "--lock-ttl", "200ms"}, flag: "--lock-ttl"},
		{name: "wait_poll_max_from_env", args: []string{"wait", "-p", "a"}, flag: "--poll-max"},
		{name: "history_limit_negative", args: []string{"history", "--limit", "-1"}, flag: "--limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			env := envOf()
			if tt.name == "wait_poll_max_from_env" {
				env = envOf("BOOTSTRAP_POLL_MAX", "1ns")
			}
			if got, want := run(t.Context(), tt.args, &out, &errw, env), exitUsage; got != want {
				t.Fatalf("exit = %d, want %d; stderr: %s", got, want, errw.String())
			}
			if !strings.Contains(errw.String(), tt.flag) {
				t.Errorf("stderr %q, want it to name %q", errw.String(), tt.flag)
			}
		})
	}
}

func TestRun_durations_at_their_minimum_parse(t *testing.T) {
	var c cli
	p, err := newParser(&c, &bytes.Buffer{}, &bytes.Buffer{}, envOf())
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse([]string{"run", "-p", "a", "--stall-timeout", "100ms", "--timeout", "100ms",
		"--lock-wait", "100ms", "--shutdown-grace", "100ms", "--connect-timeout", "100ms", "--lock-ttl", "300ms"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDurations(kctx); err != nil {
		t.Errorf("checkDurations: %v, want the minimums accepted", err)
	}
}
