package mongox_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/internal/mongox"
)

// commands records the names of the commands a client sends.
type commands struct {
	mu    sync.Mutex
	names []string
}

// take returns the commands sent since the last take.
func (c *commands) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.names
	c.names = nil
	return out
}

func monitored(t *testing.T, uri string) (*mongo.Client, *commands) {
	t.Helper()
	cmds := &commands{}
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if slices.Contains([]string{"listIndexes", "createIndexes", "listCollections"}, e.CommandName) {
			cmds.mu.Lock()
			cmds.names = append(cmds.names, e.CommandName)
			cmds.mu.Unlock()
		}
	}}
	mc, err := mongo.Connect(options.Client().ApplyURI(uri).SetMonitor(mon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	return mc, cmds
}

// TestIndexesEnsure: an index is created when missing, once per Indexes;
// an index of the same keys under another name serves; a read leaves a
// missing collection missing.
func TestIndexesEnsure(t *testing.T) {
	t.Parallel()
	mc, cmds := monitored(t, harness.StartMongo(t, nil).URI)
	db := mc.Database("ensure")
	code := mongox.KeyIndex("code")

	ix := mongox.NewIndexes()
	if err := ix.EnsureExisting(t.Context(), nil, nil, db.Collection("none"), code); err != nil {
		t.Fatal(err)
	}
	if names, err := db.ListCollectionNames(t.Context(), bson.D{}); err != nil || len(names) != 0 {
		t.Fatalf("collections after a read's ensure = %v, %v; want none", names, err)
	}
	cmds.take()

	tests := []struct {
		name        string
		coll        string
		existing    *mongo.IndexModel
		wantCreated []string
		wantNames   []string
	}{
		{name: "missing_created", coll: "a", wantCreated: []string{"bootstrap_code"}, wantNames: []string{"_id_", "bootstrap_code"}},
		{
			name: "same_keys_other_name", coll: "b",
			existing:  &mongo.IndexModel{Keys: bson.D{{Key: "code", Value: 1}}, Options: options.Index().SetName("theirs")},
			wantNames: []string{"_id_", "theirs"},
		},
		{
			name: "other_direction_is_another_index", coll: "c",
			existing:    &mongo.IndexModel{Keys: bson.D{{Key: "code", Value: -1}}, Options: options.Index().SetName("desc")},
			wantCreated: []string{"bootstrap_code"}, wantNames: []string{"_id_", "bootstrap_code", "desc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coll := db.Collection(tt.coll)
			if tt.existing != nil {
				if _, err := coll.Indexes().CreateOne(t.Context(), *tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			cmds.take()
			created, err := ix.Ensure(t.Context(), nil, nil, coll, mongox.IDIndex(), code)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(created, tt.wantCreated) {
				t.Errorf("created %v, want %v", created, tt.wantCreated)
			}
			if got := cmds.take(); len(got) == 0 || got[0] != "listIndexes" {
				t.Errorf("first ensure sent %v, want listIndexes first", got)
			}
			again, err := ix.Ensure(t.Context(), nil, nil, coll, code)
			if err != nil || len(again) != 0 {
				t.Errorf("second ensure created %v, %v; want nothing", again, err)
			}
			if got := cmds.take(); len(got) != 0 {
				t.Errorf("second ensure sent %v, want nothing (once per Indexes)", got)
			}
			missing, err := mongox.Missing(t.Context(), nil, coll, code)
			if err != nil || len(missing) != 0 {
				t.Errorf("Missing = %v, %v; want none", missing, err)
			}
			if got := names(t, coll); !slices.Equal(got, tt.wantNames) {
				t.Errorf("indexes = %v, want %v", got, tt.wantNames)
			}
		})
	}
}

// closedWindow refuses every attempt, as a lost lease does.
type closedWindow struct{}

func (closedWindow) Open() (time.Time, error) { return time.Time{}, errLeaseGone }

var errLeaseGone = errors.New("lease gone")

// TestIndexesEnsureUnderTheWindow: creating an index is a write, refused
// once the lease is gone.
func TestIndexesEnsureUnderTheWindow(t *testing.T) {
	t.Parallel()
	mc := harness.StartMongo(t, nil).Client(t)
	coll := mc.Database("ensure_window").Collection("a")
	if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "code", Value: "x"}}); err != nil {
		t.Fatal(err)
	}
	_, err := mongox.NewIndexes().Ensure(t.Context(), nil, closedWindow{}, coll, mongox.KeyIndex("code"))
	if !errors.Is(err, errLeaseGone) {
		t.Fatalf("Ensure under a closed window: %v, want the window's error", err)
	}
	if got := names(t, coll); !slices.Equal(got, []string{"_id_"}) {
		t.Errorf("indexes = %v, want _id_ only", got)
	}
}

func names(t *testing.T, coll *mongo.Collection) []string {
	t.Helper()
	specs, err := coll.Indexes().ListSpecifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}
