package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// unreachable returns clients of servers that do not exist (port 1 of
// loopback): a record refused before it is written returns ErrTooLarge,
// one that is sent fails with a connection error instead.
func unreachable(t *testing.T) (*mongo.Client, redis.UniversalClient) {
	t.Helper()
	mc, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1/?directConnection=true").
		SetServerSelectionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(t.Context()) })
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rc.Close() })
	return mc, rc
}

// padding returns a string that makes a record of base bytes, as BSON,
// exactly MaxRecordBytes+over bytes long.
func padding(t *testing.T, base func(pad string) any, over int) string {
	t.Helper()
	raw, err := bson.Marshal(base("x")) // not empty: the padded field may be omitempty
	if err != nil {
		t.Fatal(err)
	}
	return strings.Repeat("x", MaxRecordBytes+over-len(raw)+1)
}

// TestRecordsOverTheLimitAreRefused: a record one byte over 2 MiB is
// refused with ErrTooLarge and a message naming it, before anything is
// sent; one at the limit is sent.
func TestRecordsOverTheLimitAreRefused(t *testing.T) {
	mc, rc := unreachable(t)
	st := New(mc)
	marker := func(pad string) any {
		return &Marker{Profile: "app", Version: "v1", Fence: 7, Steps: []StepRecord{{Name: "0:exec", Error: pad}}}
	}
	audit := func(pad string) any {
		return &AuditRecord{Profile: "app", RunID: "r1", Fence: 7, Error: pad}
	}
	snap := func(pad string) any {
		item, err := bson.Marshal(bson.D{{Key: "x", Value: pad}})
		if err != nil {
			t.Fatal(err)
		}
		return &chunk{ID: chunkID("app", "v1", 0), Profile: "app", Version: "v1", Fence: 7, Chunks: 1,
			Items: []bson.Raw{item}}
	}
	tests := []struct {
		name     string
		over     int // bytes over the limit
		write    func(pad string) error
		record   func(pad string) any
		wantName string
	}{
		{name: "marker", over: 1, record: marker, wantName: "marker db.app",
			write: func(pad string) error { return st.PutMarker(t.Context(), "db", marker(pad).(*Marker)) }},
		{name: "audit_record", over: 1, record: audit, wantName: "audit record db.app (run r1)",
			write: func(pad string) error { return st.Audit(t.Context(), "db", audit(pad).(*AuditRecord)) }},
		{name: "snapshot_chunk", over: 1, record: snap, wantName: "snapshot chunk db.app@v1#0",
			write: func(pad string) error {
				return NewSnapshotStore(mc, "db", nil).put(t.Context(), snap(pad).(*chunk))
			}},
		{name: "marker_at_the_limit_is_sent", over: 0, record: marker,
			write: func(pad string) error { return st.PutMarker(t.Context(), "db", marker(pad).(*Marker)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write(padding(t, tt.record, tt.over))
			if tt.wantName == "" {
				if err == nil || errors.Is(err, ErrTooLarge) {
					t.Fatalf("record at the limit: err = %v, want a connection error (it was sent)", err)
				}
				return
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge (refused before it is sent)", err)
			}
			want := fmt.Sprintf("%s is %d bytes, 1 over the limit of %d", tt.wantName, MaxRecordBytes+1, MaxRecordBytes)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to say %q", err, want)
			}
		})
	}
	t.Run("redis_record", func(t *testing.T) {
		err := NewRedisRecords(rc).Put(t.Context(), "db", "app", &RedisRecord{Version: strings.Repeat("v", MaxRecordBytes)})
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "redis record "+RedisRecordKey("db", "app")) {
			t.Fatalf("err = %v, want ErrTooLarge naming the record", err)
		}
	})
}

// TestOwnedSplitAndJoin: ownership split in chunks reads back whole, in
// order, each chunk under MaxRecordBytes as stored.
func TestOwnedSplitAndJoin(t *testing.T) {
	big := &Owned{}
	for c := range 3 {
		od := OwnedDocs{DB: "db", Coll: fmt.Sprintf("c%d", c), Field: "_id"}
		for i := range 20_000 {
			v, _ := bson.Marshal(bson.D{{Key: "v", Value: fmt.Sprintf("document-%d-%06d", c, i)}})
			od.Values = append(od.Values, bson.Raw(v).Lookup("v"))
		}
		big.Docs = append(big.Docs, od)
	}
	for i := range 5_000 {
		big.Keys = append(big.Keys, fmt.Sprintf("key:%d", i))
		big.Members = append(big.Members, OwnedMember{Set: "ids", Member: fmt.Sprint(i)})
	}
	tests := []struct {
		name       string
		owned      *Owned
		target     int
		wantChunks int
	}{
		{name: "empty", owned: &Owned{}, target: ownedChunkBytes, wantChunks: 1},
		{name: "large", owned: big, target: ownedChunkBytes, wantChunks: 2},
		{name: "small_chunks_split_collections", owned: big, target: 64 << 10, wantChunks: 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := splitOwned(tt.owned, tt.target)
			if got := len(parts); got != tt.wantChunks {
				t.Errorf("chunks = %d, want %d", got, tt.wantChunks)
			}
			for i, p := range parts {
				raw, err := bson.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(raw) > MaxRecordBytes || len(raw) > 2*tt.target {
					t.Errorf("chunk %d is %d bytes, target %d", i, len(raw), tt.target)
				}
			}
			want, _ := bson.Marshal(tt.owned)
			got, _ := bson.Marshal(joinOwned(parts))
			if !bytesEqual(got, want) {
				t.Errorf("joined ownership differs from the split one (%d bytes, want %d)", len(got), len(want))
			}
		})
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
