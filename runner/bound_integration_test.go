package runner_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/store"
)

// sentWrite is a write command as the driver sent it.
type sentWrite struct {
	cmd, db, coll string
	maxTimeMS     int64 // 0: none
}

// writeRecorder records the write commands a MongoDB client sends.
type writeRecorder struct {
	mu     sync.Mutex
	writes []sentWrite
}

func (w *writeRecorder) started(_ context.Context, e *event.CommandStartedEvent) {
	switch e.CommandName {
	case "insert", "update", "delete", "findAndModify", "drop", "dropDatabase":
	default:
		return
	}
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	mt, _ := e.Command.Lookup("maxTimeMS").AsInt64OK()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, sentWrite{cmd: e.CommandName, db: e.DatabaseName, coll: coll, maxTimeMS: mt})
}

func (w *writeRecorder) all() []sentWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

// Every MongoDB write a run sends under the lock carries, as maxTimeMS,
// what is left until 5/6 of the ttl after the lease's last confirmation:
// MongoDB aborts a write still running before another runner could take
// the lock (a full ttl after it). The data, the markers and the snapshots are
// bounded; the audit records (written whatever happened, fenced by nothing)
// and the probe of $-keys (deleted at once) are not.
func TestRun_writes_under_the_lock_carry_the_lease_bound(t *testing.T) {
	env := harness.Start(t)
	rec := &writeRecorder{}
	mc, err := mongo.Connect(options.Client().ApplyURI(env.Mongo.URI).
		SetMonitor(&event.CommandMonitor{Started: rec.started}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.WithoutCancel(t.Context())) })
	f := &fixture{mc: mc, rc: env.Redis.Client(t)}

	const ttl = 6 * time.Second
	bound := (ttl * 5 / 6).Milliseconds()
	fsys := lifecycleFS()
	runSet(t, f, loadSet(t, fsys, "legacy", "app"), run{lockTTL: ttl})
	// A changed version: its re-apply snapshots what it overwrites, then
	// removes the document it no longer writes.
	fsys["base/data/levels.json"] = file(`[{"code": "low", "rank": 10}]`)
	runSet(t, f, loadSet(t, fsys, "legacy", "app"), run{lockTTL: ttl})

	seen := map[string]bool{}
	for _, w := range rec.all() {
		if w.coll == store.AuditCollection || w.coll == "bootstrap_probe" {
			continue
		}
		seen[w.cmd+" "+w.coll] = true
		if w.maxTimeMS <= 0 || w.maxTimeMS > bound {
			t.Errorf("%s %s.%s sent with maxTimeMS %d, want within (0, %d]", w.cmd, w.db, w.coll, w.maxTimeMS, bound)
		}
	}
	for _, want := range []string{
		"update Reference", "delete Reference", // documents applied, then pruned
		"update " + store.MarkersCollection,
		"insert " + store.SnapshotsCollection,
	} {
		if !seen[want] {
			t.Errorf("no %q command recorded; recorded: %v", want, seen)
		}
	}
}
