package main

import (
	"math"
	"testing"
	"time"
)

func TestSamplesQuantiles(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name             string
		s                samples
		median, p10, p90 time.Duration
	}{
		{name: "empty", s: nil},
		{name: "one", s: samples{5 * ms}, median: 5 * ms, p10: 5 * ms, p90: 5 * ms},
		{name: "odd_unsorted", s: samples{9 * ms, 1 * ms, 5 * ms}, median: 5 * ms, p10: 1800 * time.Microsecond, p90: 8200 * time.Microsecond},
		{name: "even_takes_the_mean_of_the_middle_two", s: samples{4 * ms, 1 * ms, 3 * ms, 2 * ms}, median: 2500 * time.Microsecond,
			p10: 1300 * time.Microsecond, p90: 3700 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.s.median(), tt.median; got != want {
				t.Errorf("median = %v, want %v", got, want)
			}
			if got, want := tt.s.quantile(0.1), tt.p10; got != want {
				t.Errorf("p10 = %v, want %v", got, want)
			}
			if got, want := tt.s.quantile(0.9), tt.p90; got != want {
				t.Errorf("p90 = %v, want %v", got, want)
			}
		})
	}
}

func TestSamplesMedianLeavesOrder(t *testing.T) {
	s := samples{3, 1, 2}
	s.median()
	if got, want := s[0], time.Duration(3); got != want {
		t.Errorf("s[0] after median = %v, want %v (the samples must stay in the order taken)", got, want)
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{name: "dur_small", got: fmtDur(1234 * time.Microsecond), want: "1.23ms"},
		{name: "dur_tens", got: fmtDur(45600 * time.Microsecond), want: "45.6ms"},
		{name: "dur_hundreds", got: fmtDur(789 * time.Millisecond), want: "789ms"},
		{name: "dur_seconds", got: fmtDur(1230 * time.Millisecond), want: "1.23s"},
		{name: "dur_tens_of_seconds", got: fmtDur(12345 * time.Millisecond), want: "12.3s"},
		{name: "ratio_small", got: fmtRatio(1.234), want: "1.23×"},
		{name: "ratio_large", got: fmtRatio(123.4), want: "123×"},
		{name: "ratio_nan", got: fmtRatio(math.NaN()), want: "n/a"},
		{name: "ratio_of_zero_is_nan", got: fmtRatio(ratio(time.Second, 0)), want: "n/a"},
		{name: "bytes_mib", got: fmtBytes(30 << 20), want: "30.0 MiB"},
		{name: "bytes_small", got: fmtBytes(512), want: "512 B"},
		{name: "mb_decimal", got: mb(23_000_000), want: "23.0 MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestParseInts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []int
		wantErr bool
	}{
		{name: "ascending", in: "1, 5,10,20", want: []int{1, 5, 10, 20}},
		{name: "not_ascending", in: "5,1", wantErr: true},
		{name: "zero", in: "0,1", wantErr: true},
		{name: "not_a_number", in: "1,x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInts(tt.in)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("parseInts(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("parseInts(%q) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("parseInts(%q) = %v, want %v", tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestPairedRatio(t *testing.T) {
	tests := []struct {
		name string
		a, b samples
		want float64
	}{
		// A load spike that hit the first pair and the third pair's other
		// program would skew a ratio of medians; the pairs cancel it.
		{name: "pairs_cancel_drift", a: samples{20, 10, 30}, b: samples{20, 10, 15}, want: 1},
		{name: "even_count", a: samples{2, 3}, b: samples{1, 1}, want: 2.5},
		{name: "uneven_lengths_use_the_pairs", a: samples{4, 9}, b: samples{2}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pairedRatio(tt.a, tt.b); got != tt.want {
				t.Errorf("pairedRatio = %v, want %v", got, tt.want)
			}
		})
	}
	if got := pairedRatio(nil, nil); !math.IsNaN(got) {
		t.Errorf("pairedRatio(no samples) = %v, want NaN", got)
	}
}
