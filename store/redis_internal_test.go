package store

import (
	"maps"
	"regexp"
	"strconv"
	"testing"
)

// TestPutRecordScriptFields: the embedded script stores each field Get
// reads from the argument Put passes for it.
func TestPutRecordScriptFields(t *testing.T) {
	m := regexp.MustCompile(`redis\.call\('HSET', KEYS\[1\],((?:\s*'\w+', ARGV\[\d\],?)+)\)`).FindStringSubmatch(putRecordLua)
	if m == nil {
		t.Fatalf("no HSET of the record in the script:\n%s", putRecordLua)
	}
	got := map[string]int{}
	for _, f := range regexp.MustCompile(`'(\w+)', ARGV\[(\d)\]`).FindAllStringSubmatch(m[1], -1) {
		got[f[1]], _ = strconv.Atoi(f[2])
	}
	want := map[string]int{"fence": 1, "version": 2, "hashAlgo": 3, "runId": 4, "at": 5}
	if !maps.Equal(got, want) {
		t.Errorf("HSET fields = %v, want %v", got, want)
	}
}
