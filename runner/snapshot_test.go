package runner

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/profiles"
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
	per := func(n int) int { return n - snapshotItemOverhead } // raw size for an item counting n
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
			got, err := chunkItems(items, target, limit)
			if tt.wantErr {
				if !errors.Is(err, errSnapshotTooLarge) {
					t.Fatalf("err = %v, want errSnapshotTooLarge", err)
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

func TestSnapshotChunksStayUnder8MB(t *testing.T) {
	// 20 items of 3 MB: each chunk holds one, under the 8 MB a chunk may take.
	items := make([]bson.Raw, 20)
	for i := range items {
		items[i] = rawOfSize(t, 3<<20)
	}
	got, err := chunkItems(items, snapshotChunkTarget, snapshotChunkMax)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range got {
		n := 0
		for _, raw := range c {
			n += len(raw) + snapshotItemOverhead
		}
		if n >= 8_000_000 {
			t.Errorf("chunk %d holds %d bytes, want < 8 MB", i, n)
		}
	}
	if _, err := chunkItems([]bson.Raw{rawOfSize(t, 8<<20)}, snapshotChunkTarget, snapshotChunkMax); !errors.Is(err, errSnapshotTooLarge) {
		t.Errorf("an 8 MiB item: err = %v, want errSnapshotTooLarge", err)
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
			c := &capturer{limit: tt.limit}
			var err error
			for _, n := range tt.sizes {
				if err = c.keep(rawOfSize(t, n)); err != nil {
					break
				}
			}
			if got := errors.Is(err, errSnapshotTooLarge); got != tt.wantErr {
				t.Errorf("too large = %v (err %v), want %v", got, err, tt.wantErr)
			}
		})
	}
}

func TestSnapshotOptionDefaults(t *testing.T) {
	tests := []struct {
		name      string
		keep      int
		limit     int64
		wantKeep  int
		wantLimit int64
	}{
		{name: "zero_means_defaults", wantKeep: DefaultKeepVersions, wantLimit: DefaultSnapshotLimit},
		{name: "set", keep: 2, limit: 1000, wantKeep: 2, wantLimit: 1000},
		{name: "negative_disables", keep: -1, limit: -1, wantKeep: 0, wantLimit: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{opts: Options{KeepVersions: tt.keep, SnapshotLimit: tt.limit}}
			if got := r.keepVersions(); got != tt.wantKeep {
				t.Errorf("keepVersions = %d, want %d", got, tt.wantKeep)
			}
			if got := r.snapshotLimit(); got != tt.wantLimit {
				t.Errorf("snapshotLimit = %d, want %d", got, tt.wantLimit)
			}
		})
	}
}

func mustRaw(t *testing.T, v any) bson.RawValue {
	t.Helper()
	rv, err := rawValueOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

func TestSnapshotValueKey(t *testing.T) {
	tests := []struct {
		name  string
		a, b  any
		equal bool
	}{
		{name: "int32_and_double", a: int32(7), b: 7.0, equal: true},
		{name: "int64_and_int32", a: int64(7), b: int32(7), equal: true},
		{name: "zero_and_negative_zero", a: 0.0, b: math.Copysign(0, -1), equal: true},
		{name: "number_and_string", a: int32(7), b: "7", equal: false},
		{name: "strings", a: "low", b: "low", equal: true},
		{name: "different_strings", a: "low", b: "high", equal: false},
		{name: "documents", a: bson.D{{Key: "a", Value: int32(1)}}, b: bson.D{{Key: "a", Value: int32(1)}}, equal: true},
		{name: "bool_and_number", a: true, b: int32(1), equal: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := valueKey(mustRaw(t, tt.a)) == valueKey(mustRaw(t, tt.b)); got != tt.equal {
				t.Errorf("valueKey(%v) == valueKey(%v): %v, want %v", tt.a, tt.b, got, tt.equal)
			}
		})
	}
}

func TestSnapshotItemRoundTrip(t *testing.T) {
	v := mustRaw(t, int32(42))
	items := []snapItem{
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
		var got snapItem
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
		{Kind: profiles.KindRedis, Index: 4, Redis: &profiles.RedisStep{Keys: []profiles.RedisKey{{Key: "ref:v"}, {Key: "Pattern:p.alarm"}}}},
		{Kind: profiles.KindHTTP, Index: 5, HTTP: &profiles.HTTPStep{}},
		{Kind: profiles.KindConfigs, Index: 6, Configs: &profiles.ConfigsStep{Items: []profiles.ConfigItem{{Name: "engine", JSON: js(`{}`)}}}},
	}}
	prev := &Marker{Steps: []StepRecord{
		{Name: "1:patterns", CachedPatterns: []string{"p.alarm", "p.old"}},
		{Name: "9:patterns", CachedPatterns: []string{"p.other-step"}},
	}}
	got, err := snapshotTargetsOf(p, prev)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]string{}
	for _, g := range got.groups {
		for _, v := range got.values[g] {
			docs[g.db+"."+g.coll+"/"+g.field] = append(docs[g.db+"."+g.coll+"/"+g.field], displayValue(v))
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
	if w := []string{"p.alarm", "p.draft", "p.old"}; !slices.Equal(got.members[patternIndexKey], w) {
		t.Errorf("IDX:Pattern members = %v, want %v", got.members[patternIndexKey], w)
	}
	if w := []string{"5:http"}; !slices.Equal(got.uncovered, w) {
		t.Errorf("uncovered = %v, want %v", got.uncovered, w)
	}
}

// snap builds a stored snapshot of version v taken at fence f over a marker
// of version mv and lineage ml.
func snap(v string, f int64, mv string, mf, restored int64) storedSnapshot {
	return storedSnapshot{
		SnapshotInfo: SnapshotInfo{Version: v, Fence: f, Complete: true, TakenAt: time.Unix(f, 0)},
		marker:       &Marker{Version: mv, Fence: mf, RestoredFence: restored},
	}
}

func versions(chain []storedSnapshot) []string {
	var out []string
	for _, s := range chain {
		out = append(out, s.Version)
	}
	return out
}

func TestRollbackChain(t *testing.T) {
	// History: v0 applied at fence 1, v1 over it at 2 (snapshot v0), v2 over
	// v1 at 3 (snapshot v1).
	linear := []storedSnapshot{snap("v1", 3, "v1", 2, 0), snap("v0", 2, "v0", 1, 0)}
	tests := []struct {
		name   string
		cur    *Marker
		stored []storedSnapshot
		want   []string
	}{
		{name: "linear_newest_first", cur: &Marker{Version: "v2", Fence: 3}, stored: linear, want: []string{"v1", "v0"}},
		{name: "no_marker", cur: nil, stored: linear, want: nil},
		{name: "first_apply_has_none", cur: &Marker{Version: "v0", Fence: 1}, stored: nil, want: nil},
		{
			// Rolled back to v1 at fence 4: the marker restored lineage 2,
			// so the chain goes on from v1's predecessor.
			name: "after_a_rollback", cur: &Marker{Version: "v1", Fence: 4, RestoredFence: 2}, stored: linear,
			want: []string{"v0"},
		},
		{
			// A re-apply of v2 over v1 (fence 3) failed part-way at fence 4
			// after its snapshot: undo it first.
			name: "failed_attempt_first", cur: &Marker{Version: "v1", Fence: 2},
			stored: []storedSnapshot{snap("v1", 4, "v1", 2, 0), snap("v0", 2, "v0", 1, 0)},
			want:   []string{"v1", "v0"},
		},
		{
			// v1 was applied again after a rollback to v0 (fence 4, lineage
			// 1): its snapshot of v0 replaced the older one, and the old v1
			// snapshot (fence 3) describes another history.
			name: "other_history_unreachable", cur: &Marker{Version: "v1", Fence: 5},
			stored: []storedSnapshot{snap("v0", 5, "v0", 4, 1), snap("v1", 3, "v1", 2, 0)},
			want:   []string{"v0"},
		},
		{
			name: "missing_link_stops", cur: &Marker{Version: "v3", Fence: 9},
			stored: linear, want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versions(rollbackChain(tt.cur, tt.stored)); !slices.Equal(got, tt.want) {
				t.Errorf("chain = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRollbackTarget(t *testing.T) {
	chain := []storedSnapshot{snap("abc111", 3, "abc111", 2, 0), snap("abd222", 2, "abd222", 1, 0)}
	stray := snap("fff999", 1, "fff999", 0, 0)
	stored := append(slices.Clone(chain), stray)
	tests := []struct {
		name     string
		chain    []storedSnapshot
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
			got, err := rollbackTarget(tt.chain, st, tt.to)
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
	enc := func(items ...snapItem) []bson.Raw {
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
	newer := snapshotLayer{takenAt: time.Unix(20, 0), items: enc(
		snapItem{Kind: itemKey, Key: "a", Type: keyString, String: "from v1"},
		snapItem{Kind: itemKey, Key: "only-newer", Type: keyNone},
	)}
	older := snapshotLayer{takenAt: time.Unix(10, 0), items: enc(
		snapItem{Kind: itemKey, Key: "a", Type: keyString, String: "from v0"},
		snapItem{Kind: itemMember, Key: "IDX:Pattern", Member: "p", Present: true},
	)}
	got, err := composeSnapshots([]snapshotLayer{newer, older})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]restoreItem{}
	for _, it := range got {
		byKey[it.ident()] = it
	}
	if got, want := len(got), 3; got != want {
		t.Fatalf("items = %d, want %d", got, want)
	}
	if a := byKey[keyIdent("a")]; a.String != "from v0" || !a.takenAt.Equal(older.takenAt) {
		t.Errorf("a = %q taken %v, want the oldest snapshot's value", a.String, a.takenAt)
	}
	if _, ok := byKey[keyIdent("only-newer")]; !ok {
		t.Error("a key only the newer snapshot holds is missing")
	}
	if got[len(got)-1].Kind != itemMember {
		t.Errorf("last item is a %s, want memberships after keys", got[len(got)-1].Kind)
	}
}

func TestSnapshotGroupAndPrune(t *testing.T) {
	m := &Marker{Version: "v"}
	chunks := []snapshotChunk{
		// v1: complete, 2 chunks at fence 5.
		{Version: "v1", Fence: 5, Chunk: 0, Chunks: 2, Marker: m, Bytes: 10},
		{Version: "v1", Fence: 5, Chunk: 1, Chunks: 2, Bytes: 20},
		// v2: chunk 1 is of an older write (fence 3): incomplete.
		{Version: "v2", Fence: 7, Chunk: 0, Chunks: 2, Marker: m, Bytes: 1},
		{Version: "v2", Fence: 3, Chunk: 1, Chunks: 2, Bytes: 2},
		// v3: no header.
		{Version: "v3", Fence: 9, Chunk: 1, Chunks: 2, Bytes: 4},
		// v0: complete, older.
		{Version: "v0", Fence: 2, Chunk: 0, Chunks: 1, Marker: m, Bytes: 8},
	}
	got := groupSnapshots(chunks)
	type row struct {
		v        string
		complete bool
		bytes    int64
	}
	var rows []row
	for _, s := range got {
		rows = append(rows, row{s.Version, s.Complete, s.Bytes})
	}
	want := []row{{"v3", false, 4}, {"v2", false, 3}, {"v1", true, 30}, {"v0", true, 8}}
	if !slices.Equal(rows, want) {
		t.Errorf("snapshots = %+v, want %+v (newest first)", rows, want)
	}
	if got, want := snapshotsToPrune(got, 2), []string{"v1", "v0"}; !slices.Equal(got, want) {
		t.Errorf("prune keeping 2 = %v, want %v", got, want)
	}
	if got := snapshotsToPrune(got, 5); got != nil {
		t.Errorf("prune keeping 5 of 4 = %v, want none", got)
	}
}
