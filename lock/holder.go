package lock

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Holder describes who holds a lock. It is stored beside the lock key (a hash
// at "<key>:holder" that expires with it), so that status commands and
// waiting runners can say who they wait for.
type Holder struct {
	RunID string // run id of the holding process
	Host  string // host or pod name of the holding process
	Image string // image or version of the holding process
	Fence int64  // fencing token drawn at acquisition
	// Since is when the lock was acquired and Renewed when it was last
	// renewed, both by the holder's clock, to the millisecond.
	Since, Renewed time.Time
	// TTL is the lock key's remaining time to live when it was read: the
	// lock is free at the latest after TTL unless renewed.
	TTL time.Duration
	// LeaseTTL is the ttl the holder acquires and renews with; it renews
	// every LeaseTTL/3.
	LeaseTTL time.Duration
}

// Field names in the holder hash; acquire.lua, refresh.lua and break.lua
// write the same names.
const (
	fieldRunID   = "runId"
	fieldHost    = "host"
	fieldImage   = "image"
	fieldFence   = "fence"
	fieldSince   = "since"   // unix ms
	fieldRenewed = "renewed" // unix ms
	fieldTTL     = "ttl"     // lease ttl, ms
)

// String formats h for logs and errors: run id, host, image, fence, times
// and remaining ttl.
func (h Holder) String() string {
	return fmt.Sprintf("run %q on host %q (image %q, fence %d, since %s, renewed %s, ttl %s)",
		h.RunID, h.Host, h.Image, h.Fence, fmtTime(h.Since), fmtTime(h.Renewed), h.TTL)
}

// LogValue logs h as a group of its fields.
func (h Holder) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("runId", h.RunID),
		slog.String("host", h.Host),
		slog.String("image", h.Image),
		slog.Int64("fence", h.Fence),
		slog.Time("since", h.Since),
		slog.Time("renewed", h.Renewed),
		slog.Duration("ttl", h.TTL),
	)
}

// holderJSON is Holder's JSON form: times in RFC 3339, durations in ms.
type holderJSON struct {
	RunID      string    `json:"runId"`
	Host       string    `json:"host"`
	Image      string    `json:"image"`
	Fence      int64     `json:"fence"`
	Since      time.Time `json:"since,omitzero"`
	Renewed    time.Time `json:"renewed,omitzero"`
	TTLMs      int64     `json:"ttlMs"`
	LeaseTTLMs int64     `json:"leaseTtlMs,omitempty"`
}

// MarshalJSON encodes h with camelCase names, RFC 3339 times and the
// durations as whole milliseconds (ttlMs, leaseTtlMs).
func (h Holder) MarshalJSON() ([]byte, error) {
	return json.Marshal(holderJSON{
		RunID: h.RunID, Host: h.Host, Image: h.Image, Fence: h.Fence,
		Since: h.Since, Renewed: h.Renewed,
		TTLMs: h.TTL.Milliseconds(), LeaseTTLMs: h.LeaseTTL.Milliseconds(),
	})
}

// UnmarshalJSON decodes the form MarshalJSON writes.
func (h *Holder) UnmarshalJSON(b []byte) error {
	var j holderJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Holder{
		RunID: j.RunID, Host: j.Host, Image: j.Image, Fence: j.Fence,
		Since: j.Since, Renewed: j.Renewed,
		TTL:      time.Duration(j.TTLMs) * time.Millisecond,
		LeaseTTL: time.Duration(j.LeaseTTLMs) * time.Millisecond,
	}
	return nil
}

// parseHolder builds a Holder from a key's PTTL and the field/value pairs of
// its holder hash. It is lenient: unknown fields are ignored and malformed
// numbers read as zero, so that metadata written by another version never
// stops a runner from waiting or an operator from breaking the lock.
func parseHolder(pttl int64, kv []any) *Holder {
	h := &Holder{TTL: time.Duration(max(pttl, 0)) * time.Millisecond}
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(string)
		switch k {
		case fieldRunID:
			h.RunID = v
		case fieldHost:
			h.Host = v
		case fieldImage:
			h.Image = v
		case fieldFence:
			h.Fence = parseInt(v)
		case fieldSince:
			h.Since = fromMillis(parseInt(v))
		case fieldRenewed:
			h.Renewed = fromMillis(parseInt(v))
		case fieldTTL:
			h.LeaseTTL = time.Duration(parseInt(v)) * time.Millisecond
		}
	}
	return h
}

func parseInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// fromMillis is the UTC time of a unix-ms timestamp, or the zero time for 0.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
