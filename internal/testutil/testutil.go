// Package testutil holds the helpers that the tests of several packages
// share: a log buffer safe for concurrent writes, a progress recorder and
// marker reads. Only tests import it.
package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/srvthreds/bootstrap/store"
)

// Buffer is a bytes.Buffer safe for concurrent writes, for capturing logs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Records decodes the buffer's JSON log lines.
func (b *Buffer) Records(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// Progress records what a step reports; safe for concurrent use. Beats
// counts every call to Add, heartbeats (Add(0)) included.
type Progress struct {
	total atomic.Int64
	items atomic.Int64
	beats atomic.Int64
}

func (p *Progress) SetTotal(n int64) { p.total.Store(n) }
func (p *Progress) Add(n int64)      { p.beats.Add(1); p.items.Add(n) }

// Total is the last total announced.
func (p *Progress) Total() int64 { return p.total.Load() }

// Done is the sum of the items reported.
func (p *Progress) Done() int64 { return p.items.Load() }

// Beats is the number of reports.
func (p *Progress) Beats() int64 { return p.beats.Load() }

// ReadMarker returns the marker of profile in db, or nil.
func ReadMarker(t testing.TB, mc *mongo.Client, db, profile string) *store.Marker {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	m, err := store.New(mc).Marker(ctx, db, profile)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ReadAudit reads the audit records of profile in db written by run runID.
func ReadAudit(t testing.TB, mc *mongo.Client, db, profile, runID string) []store.AuditRecord {
	t.Helper()
	cur, err := mc.Database(db).Collection(store.AuditCollection).Find(t.Context(),
		bson.D{{Key: "profile", Value: profile}, {Key: "runId", Value: runID}})
	if err != nil {
		t.Fatalf("read audit %s.%s: %v", db, profile, err)
	}
	var out []store.AuditRecord
	if err := cur.All(t.Context(), &out); err != nil {
		t.Fatalf("read audit %s.%s: %v", db, profile, err)
	}
	return out
}
