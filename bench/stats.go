package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// samples are repeated measurements of one quantity, in the order taken.
type samples []time.Duration

// sorted returns a sorted copy of s.
func (s samples) sorted() []time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// median returns the median of s (the mean of the middle two for an even
// count), or 0 for no samples.
func (s samples) median() time.Duration {
	return s.quantile(0.5)
}

// quantile returns the q-quantile of s (0 ≤ q ≤ 1), interpolating linearly
// between the closest ranks, or 0 for no samples.
func (s samples) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := s.sorted()
	pos := q * float64(len(c)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return c[lo] + time.Duration(frac*float64(c[hi]-c[lo]))
}

// min returns the smallest sample, or 0 for no samples.
func (s samples) min() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

// max returns the largest sample, or 0 for no samples.
func (s samples) max() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// spread describes s for a report: "median (min–max, n=N)" for few samples,
// "median (p10–p90, n=N)" from ten on.
func (s samples) spread() string {
	if len(s) == 0 {
		return "no samples"
	}
	if len(s) >= 10 {
		return fmt.Sprintf("%s (p10–p90 %s–%s, n=%d)", fmtDur(s.median()), fmtDur(s.quantile(0.1)), fmtDur(s.quantile(0.9)), len(s))
	}
	return fmt.Sprintf("%s (min–max %s–%s, n=%d)", fmtDur(s.median()), fmtDur(s.min()), fmtDur(s.max()), len(s))
}

// pairedRatio returns the median of a[i]/b[i] over the pairs of samples
// taken one right after the other, which cancels the drift of a shared
// machine's load better than a ratio of medians; NaN without pairs.
func pairedRatio(a, b samples) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			rs = append(rs, float64(a[i])/float64(b[i]))
		}
	}
	if len(rs) == 0 {
		return math.NaN()
	}
	slices.Sort(rs)
	n := len(rs)
	if n%2 == 1 {
		return rs[n/2]
	}
	return (rs[n/2-1] + rs[n/2]) / 2
}

// ratio returns a/b, or NaN when b is 0.
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// fmtDur formats d with a precision that suits its size: 1.23ms, 45.6ms,
// 789ms, 1.23s, 12.3s.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d <= 0:
		return "0"
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.2fs", ms/1000)
	default:
		return fmt.Sprintf("%.1fs", ms/1000)
	}
}

// fmtRatio formats r as "12.3×" (NaN as "n/a").
func fmtRatio(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "n/a"
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	default:
		return fmt.Sprintf("%.2f×", r)
	}
}

// fmtBytes formats n bytes in binary units: 512 B, 1.5 KiB, 23.4 MiB.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB"} {
		f /= unit
		if f < unit || u == "GiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// mb formats n bytes in decimal megabytes, the unit docker images reports.
func mb(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
