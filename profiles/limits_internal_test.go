package profiles

import "testing"

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"8MiB", 8 << 20, true},
		{"256KiB", 256 << 10, true},
		{"16m", 16 << 20, true},
		{"8 MiB", 8 << 20, true},
		{"1048576", 1 << 20, true},
		{"0", 0, false},
		{"-1MiB", 0, false},
		{"lots", 0, false},
	}
	for _, tt := range tests {
		var b ByteSize
		err := b.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && b != tt.want) {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d, ok %v", tt.in, b, err, tt.want, tt.ok)
		}
		if tt.ok {
			var back ByteSize
			if err := back.UnmarshalText([]byte(b.String())); err != nil || back != b {
				t.Errorf("String %q reads back as %d, %v", b.String(), back, err)
			}
		}
	}
}

func TestSizeName(t *testing.T) {
	for n, want := range map[int64]string{12: "12 bytes", 2048: "2 KiB", 1536: "1.5 KiB", 8 << 20: "8 MiB", 11388891: "10.9 MiB"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}
