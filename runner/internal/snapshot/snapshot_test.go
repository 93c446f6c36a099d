package snapshot

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/mongox"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// rawOfSize returns a BSON document of exactly n bytes (n >= 12).
func rawOfSize(t *testing.T, n int) bson.Raw {
	t.Helper()
	// A document with one string field "s": 4 (length) + 1 (type) + 2
	// ("s\x00") + 4 (string length) + len + 1 (NUL) + 1 (end) = 13 + len.
	raw, err := bson.Marshal(bson.D{{Key: "s", Value: strings.Repeat("x", n-13)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != n {
		t.Fatalf("raw of %d bytes, want %d", len(raw), n)
	}
	return raw
}

func TestSnapshotChunkItems(t *testing.T) {
	const target, limit = 100, 300
	per := func(n int) int { return n - itemOverhead } // raw size for an item counting n
	tests := []struct {
		name    string
		sizes   []int // raw sizes
		want    [][]int
		wantErr bool
	}{
		{name: "no_items_one_empty_chunk", sizes: nil, want: [][]int{{}}},
		{name: "items_that_fit_share_a_chunk", sizes: []int{per(40), per(60)}, want: [][]int{{per(40), per(60)}}},
		{name: "full_chunk_starts_another", sizes: []int{per(40), per(40), per(40)}, want: [][]int{{per(40), per(40)}, {per(40)}}},
		{name: "large_item_alone", sizes: []int{per(40), per(250), per(40)}, want: [][]int{{per(40)}, {per(250)}, {per(40)}}},
		{name: "large_item_first", sizes: []int{per(250), per(40)}, want: [][]int{{per(250)}, {per(40)}}},
		{name: "item_above_max_is_too_large", sizes: []int{per(40), per(301)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var items []bson.Raw
			for _, n := range tt.sizes {
				items = append(items, rawOfSize(t, n))
			}
			got, err := ChunkItems(items, target, limit)
			if tt.wantErr {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sizes := make([][]int, len(got))
			for i, c := range got {
				sizes[i] = []int{}
				for _, raw := range c {
					sizes[i] = append(sizes[i], len(raw))
				}
			}
			if !slices.EqualFunc(sizes, tt.want, slices.Equal) {
				t.Errorf("chunks = %v, want %v", sizes, tt.want)
			}
			// Order is kept.
			var flat []bson.Raw
			for _, c := range got {
				flat = append(flat, c...)
			}
			if !slices.EqualFunc(flat, items, func(a, b bson.Raw) bool { return string(a) == string(b) }) {
				t.Error("chunks do not hold the items in order")
			}
		})
	}
}

func TestSnapshotChunksStayUnderTheRecordLimit(t *testing.T) {
	// 20 items of 1.4 MiB: each chunk holds one, with room for its header
	// under the 2 MiB a record may take.
	items := make([]bson.Raw, 20)
	for i := range items {
		items[i] = rawOfSize(t, 1400<<10)
	}
	got, err := ChunkItems(items, ChunkTarget, ChunkMax)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range got {
		n := 0
		for _, raw := range c {
			n += len(raw) + itemOverhead
		}
		if n > store.MaxRecordBytes-256<<10 {
			t.Errorf("chunk %d holds %d bytes, want room for a 256 KiB header under %d", i, n, store.MaxRecordBytes)
		}
	}
	if _, err := ChunkItems([]bson.Raw{rawOfSize(t, 2<<20)}, ChunkTarget, ChunkMax); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 2 MiB item: err = %v, want ErrTooLarge", err)
	}
}

func TestSnapshotLimit(t *testing.T) {
	tests := []struct {
		name    string
		limit   int64
		sizes   []int
		wantErr bool
	}{
		{name: "under_limit", limit: 100, sizes: []int{40, 60}},
		{name: "over_limit", limit: 100, sizes: []int{40, 61}, wantErr: true},
		{name: "no_limit", limit: 0, sizes: []int{1 << 20, 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Capturer{Limit: tt.limit}
			var err error
			for _, n := range tt.sizes {
				if err = c.keep(rawOfSize(t, n)); err != nil {
					break
				}
			}
			if got := errors.Is(err, ErrTooLarge); got != tt.wantErr {
				t.Errorf("too large = %v (err %v), want %v", got, err, tt.wantErr)
			}
		})
	}
}

func mustRaw(t *testing.T, v any) bson.RawValue {
	t.Helper()
	rv, err := mongox.RawValueOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

func TestSnapshotItemRoundTrip(t *testing.T) {
	v := mustRaw(t, int32(42))
	items := []Item{
		{Kind: itemDoc, DB: "nr", Coll: "Reference", Field: "code", Value: &v, Docs: [][]byte{rawOfSize(t, 20)}},
		{Kind: itemKey, Key: "k", Type: keyHash, Fields: []string{"a", "1"}, PTTL: 1500},
		{Kind: itemKey, Key: "gone", Type: keyNone},
		{Kind: itemMember, Key: "IDX:Pattern", Member: "p.alarm", Present: true},
	}
	for _, it := range items {
		raw, err := bson.Marshal(&it)
		if err != nil {
			t.Fatalf("marshal %+v: %v", it, err)
		}
		var got Item
		if err := bson.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if got.ident() != it.ident() {
			t.Errorf("ident after a round trip = %q, want %q", got.ident(), it.ident())
		}
		if got.Kind != it.Kind || got.Type != it.Type || got.PTTL != it.PTTL || got.Present != it.Present ||
			!slices.Equal(got.Fields, it.Fields) || len(got.Docs) != len(it.Docs) {
			t.Errorf("round trip = %+v, want %+v", got, it)
		}
	}
}

func js(s string) json.RawMessage { return json.RawMessage(s) }

func TestSnapshotTargets(t *testing.T) {
	p := &profiles.Profile{Name: "app", Database: "nr", Steps: []profiles.Step{
		{Kind: profiles.KindConfigs, Index: 0, Configs: &profiles.ConfigsStep{Items: []profiles.ConfigItem{
			{Name: "engine", JSON: js(`{}`)}, {Name: "sessions", JSON: js(`{}`)},
		}}},
		{Kind: profiles.KindPatterns, Index: 1, Patterns: &profiles.PatternsStep{Items: []profiles.PatternItem{
			{ID: "p.alarm", Active: true, JSON: js(`{"id": "p.alarm"}`)},
			{ID: "p.draft", JSON: js(`{"id": "p.draft"}`)},
		}}},
		{Kind: profiles.KindUsers, Index: 2, Database: "auth", Users: &profiles.UsersStep{Users: []profiles.User{{ID: "admin"}}}},
		{Kind: profiles.KindDocuments, Index: 3, Documents: &profiles.DocumentsStep{Collection: "Reference", Key: "code",
			Items: []profiles.DocumentItem{{JSON: js(`{"code": "low"}`)}, {JSON: js(`{"code": 7}`)}}}},
		{Kind: profiles.KindRedis, Index: 4, Redis: &profiles.RedisStep{Keys: []profiles.RedisKey{{Key: "ref:v", Type: "string"}, {Key: "Pattern:p.alarm", Type: "string"}}}},
		{Kind: profiles.KindHTTP, Index: 5, HTTP: &profiles.HTTPStep{}},
		{Kind: profiles.KindConfigs, Index: 6, Configs: &profiles.ConfigsStep{Items: []profiles.ConfigItem{{Name: "engine", JSON: js(`{}`)}}}},
	}}
	prev := &store.Marker{Steps: []store.StepRecord{
		{Name: "1:patterns", CachedPatterns: []string{"p.alarm", "p.old"}},
		{Name: "9:patterns", CachedPatterns: []string{"p.other-step"}},
	}}
	got, err := targetsOf(t, p, prev)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]string{}
	for _, g := range got.groups {
		for _, v := range got.values[g] {
			docs[g.db+"."+g.coll+"/"+g.field] = append(docs[g.db+"."+g.coll+"/"+g.field], mongox.DisplayValue(v))
		}
	}
	want := map[string][]string{
		"nr.Config/_id":       {"engine", "sessions"}, // engine once, though two steps write it
		"nr.PatternModel/_id": {"p.alarm", "p.draft"},
		"auth.User/_id":       {"admin"},
		"nr.Reference/code":   {"low", `{"$numberInt":"7"}`},
	}
	if len(docs) != len(want) {
		t.Errorf("document targets = %v, want %v", docs, want)
	}
	for k, w := range want {
		if !slices.Equal(docs[k], w) {
			t.Errorf("%s targets = %v, want %v", k, docs[k], w)
		}
	}
	if w := []string{"Pattern:p.alarm", "Pattern:p.draft", "Pattern:p.old", "ref:v"}; !slices.Equal(got.keys, w) {
		t.Errorf("keys = %v, want %v (the pattern cache of the step and what prev's same step cached, the redis step's)", got.keys, w)
	}
	if w := []string{"p.alarm", "p.draft", "p.old"}; !slices.Equal(got.members[step.PatternIndexKey], w) {
		t.Errorf("IDX:Pattern members = %v, want %v", got.members[step.PatternIndexKey], w)
	}
	if w := []string{"5:http"}; !slices.Equal(got.Uncovered, w) {
		t.Errorf("uncovered = %v, want %v", got.Uncovered, w)
	}
}

// snap builds a stored snapshot of version v taken at fence f over a marker
// of version mv and lineage ml.
func snap(v string, f int64, mv string, mf, restored int64) store.StoredSnapshot {
	return store.StoredSnapshot{
		SnapshotInfo: store.SnapshotInfo{Version: v, Fence: f, Complete: true, TakenAt: time.Unix(f, 0)},
		Marker:       &store.Marker{Version: mv, Fence: mf, RestoredFence: restored},
	}
}

func versions(chain []store.StoredSnapshot) []string {
	var out []string
	for _, s := range chain {
		out = append(out, s.Version)
	}
	return out
}

func TestRollbackChain(t *testing.T) {
	// History: v0 applied at fence 1, v1 over it at 2 (snapshot v0), v2 over
	// v1 at 3 (snapshot v1).
	linear := []store.StoredSnapshot{snap("v1", 3, "v1", 2, 0), snap("v0", 2, "v0", 1, 0)}
	tests := []struct {
		name   string
		cur    *store.Marker
		stored []store.StoredSnapshot
		want   []string
	}{
		{name: "linear_newest_first", cur: &store.Marker{Version: "v2", Fence: 3}, stored: linear, want: []string{"v1", "v0"}},
		{name: "no_marker", cur: nil, stored: linear, want: nil},
		{name: "first_apply_has_none", cur: &store.Marker{Version: "v0", Fence: 1}, stored: nil, want: nil},
		{
			// Rolled back to v1 at fence 4: the marker restored lineage 2,
			// so the chain goes on from v1's predecessor.
			name: "after_a_rollback", cur: &store.Marker{Version: "v1", Fence: 4, RestoredFence: 2}, stored: linear,
			want: []string{"v0"},
		},
		{
			// A re-apply of v2 over v1 (fence 3) failed part-way at fence 4
			// after its snapshot: undo it first.
			name: "failed_attempt_first", cur: &store.Marker{Version: "v1", Fence: 2},
			stored: []store.StoredSnapshot{snap("v1", 4, "v1", 2, 0), snap("v0", 2, "v0", 1, 0)},
			want:   []string{"v1", "v0"},
		},
		{
			// v1 was applied again after a rollback to v0 (fence 4, lineage
			// 1): its snapshot of v0 replaced the older one, and the old v1
			// snapshot (fence 3) describes another history.
			name: "other_history_unreachable", cur: &store.Marker{Version: "v1", Fence: 5},
			stored: []store.StoredSnapshot{snap("v0", 5, "v0", 4, 1), snap("v1", 3, "v1", 2, 0)},
			want:   []string{"v0"},
		},
		{
			name: "missing_link_stops", cur: &store.Marker{Version: "v3", Fence: 9},
			stored: linear, want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versions(Chain(tt.cur, tt.stored)); !slices.Equal(got, tt.want) {
				t.Errorf("chain = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRollbackTarget(t *testing.T) {
	chain := []store.StoredSnapshot{snap("abc111", 3, "abc111", 2, 0), snap("abd222", 2, "abd222", 1, 0)}
	stray := snap("fff999", 1, "fff999", 0, 0)
	stored := append(slices.Clone(chain), stray)
	tests := []struct {
		name     string
		chain    []store.StoredSnapshot
		to       string
		want     int
		wantErr  bool
		contains []string
	}{
		{name: "default_is_first", chain: chain, to: "", want: 0},
		{name: "full_version", chain: chain, to: "abd222", want: 1},
		{name: "unique_prefix", chain: chain, to: "abd", want: 1},
		{name: "ambiguous_prefix", chain: chain, to: "ab", wantErr: true, contains: []string{"ambiguous"}},
		{name: "unknown_names_the_others", chain: chain, to: "0123", wantErr: true,
			contains: []string{`"0123"`, "abc111", "abd222", "not reachable", "fff999"}},
		{name: "none_stored", chain: nil, to: "", wantErr: true, contains: []string{"no snapshot is stored"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := stored
			if tt.chain == nil {
				st = nil
			}
			got, err := Target(tt.chain, st, tt.to)
			if tt.wantErr {
				if !errors.Is(err, ErrNoSnapshot) {
					t.Fatalf("err = %v, want ErrNoSnapshot", err)
				}
				for _, s := range tt.contains {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %q, want it to contain %q", err, s)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("target = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestSnapshotCompose(t *testing.T) {
	enc := func(items ...Item) []bson.Raw {
		var out []bson.Raw
		for _, it := range items {
			raw, err := bson.Marshal(&it)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, raw)
		}
		return out
	}
	newer := Layer{TakenAt: time.Unix(20, 0), Items: enc(
		Item{Kind: itemKey, Key: "a", Type: keyString, String: "from v1"},
		Item{Kind: itemKey, Key: "only-newer", Type: keyNone},
	)}
	older := Layer{TakenAt: time.Unix(10, 0), Items: enc(
		Item{Kind: itemKey, Key: "a", Type: keyString, String: "from v0"},
		Item{Kind: itemMember, Key: "IDX:Pattern", Member: "p", Present: true},
	)}
	got, err := Compose([]Layer{newer, older})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]RestoreItem{}
	for _, it := range got {
		byKey[it.ident()] = it
	}
	if got, want := len(got), 3; got != want {
		t.Fatalf("items = %d, want %d", got, want)
	}
	if a := byKey[keyIdent("a")]; a.String != "from v0" || !a.takenAt.Equal(older.TakenAt) {
		t.Errorf("a = %q taken %v, want the oldest snapshot's value", a.String, a.takenAt)
	}
	if _, ok := byKey[keyIdent("only-newer")]; !ok {
		t.Error("a key only the newer snapshot holds is missing")
	}
	if got[len(got)-1].Kind != itemMember {
		t.Errorf("last item is a %s, want memberships after keys", got[len(got)-1].Kind)
	}
}

// targetsOf lists what p's steps will overwrite or remove when applied over
// prev, as the runner does.
func targetsOf(t *testing.T, p *profiles.Profile, prev *store.Marker) (*Targets, error) {
	t.Helper()
	var names []string
	var ws []*step.Writes
	for _, s := range p.Steps {
		kind, err := step.Lookup(s.Kind)
		if err != nil {
			return nil, err
		}
		var rec *store.StepRecord
		for i := range prev.Steps {
			if prev.Steps[i].Name == s.Name() {
				rec = &prev.Steps[i]
			}
		}
		w, err := kind.Writes(step.NewEnv(step.Env{DB: step.Database(p, s), Prev: rec}), s)
		if err != nil {
			return nil, err
		}
		names, ws = append(names, s.Name()), append(ws, w)
	}
	return TargetsOf(names, ws)
}
