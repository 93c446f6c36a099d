package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteLimitProfile: the memory figure's profile is just under the
// size limit of validation, every file included.
func TestWriteLimitProfile(t *testing.T) {
	dir := t.TempDir()
	docs, _, err := writeLimitProfile(dir, "db")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	err = filepath.WalkDir(filepath.Join(dir, memProfile), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		total += info.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > memProfileBytes || total < memProfileBytes-64<<10 {
		t.Errorf("profile is %d bytes, want just under %d", total, memProfileBytes)
	}
	if docs < 10_000 {
		t.Errorf("documents = %d, want over 10,000 of ~1.45 KB", docs)
	}
	if _, err := os.Stat(filepath.Join(dir, memProfile, "profile.yaml")); err != nil {
		t.Error(err)
	}
}
