package main

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/srvthreds/bootstrap/health"
)

func TestStepETA(t *testing.T) {
	tests := []struct {
		name        string
		elapsed     time.Duration
		done, total int64
		want        time.Duration
		wantOK      bool
	}{
		{name: "a_tenth_in_ten_seconds", elapsed: 10 * time.Second, done: 10, total: 100, want: 90 * time.Second, wantOK: true},
		{name: "half_done", elapsed: time.Minute, done: 500, total: 1000, want: time.Minute, wantOK: true},
		{name: "nothing_done_yet", elapsed: time.Minute, done: 0, total: 100},
		{name: "no_total", elapsed: time.Minute, done: 10, total: 0},
		{name: "complete", elapsed: time.Minute, done: 100, total: 100},
		{name: "no_time_yet", elapsed: 0, done: 1, total: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stepETA(tt.elapsed, tt.done, tt.total)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("stepETA(%v, %d, %d) = %v, %v; want %v, %v", tt.elapsed, tt.done, tt.total, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// The warning comes once, when a step's pace says it ends after what is
// left of --timeout; not for a step that keeps up, nor before its pace is
// known.
func TestETAWarner_warns_once_when_a_step_outlasts_the_timeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		perTick int64 // items per second, of 1000
		ticks   int
		want    int // warnings
	}{
		{name: "slow_step_warns_once", timeout: time.Minute, perTick: 10, ticks: 30, want: 1},
		{name: "step_that_keeps_up", timeout: time.Minute, perTick: 100, ticks: 9, want: 0},
		{name: "too_early_to_tell", timeout: time.Minute, perTick: 1, ticks: 4, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs bytes.Buffer
				state := health.NewState(&health.StateOptions{StallTimeout: time.Hour})
				w := withETAWarning(state, newLogger(&logs, "json", "info", false), tt.timeout)
				w.Report(health.StepStarted{Profile: "p", Step: "0:documents"})
				w.Report(health.StepTotal{Total: 1000})
				for range tt.ticks {
					time.Sleep(time.Second)
					w.Add(tt.perTick)
				}
				if got := strings.Count(logs.String(), "outlast --timeout"); got != tt.want {
					t.Errorf("warnings = %d, want %d:\n%s", got, tt.want, logs.String())
				}
				if tt.want > 0 {
					for _, attr := range []string{`"profile":"p"`, `"step":"0:documents"`, `"timeout":"1m0s"`} {
						if !strings.Contains(logs.String(), attr) {
							t.Errorf("warning lacks %s:\n%s", attr, logs.String())
						}
					}
				}
			})
		})
	}
}

func TestETAWarner_none_without_a_timeout(t *testing.T) {
	state := health.NewState(nil)
	if got := withETAWarning(state, nil, -1); got != state {
		t.Errorf("withETAWarning(-1) = %T, want the reporter itself", got)
	}
}
