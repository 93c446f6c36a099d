package step

import "testing"

func TestIsGlob(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"Pattern:abc", false},
		{"IDX:Pattern", false},
		{"Pattern:*", true},
		{"cache:?", true},
		{"k[ab]", true},
		{`literal\*star`, true}, // escaped: still a MATCH pattern, matching the literal key
	}
	for _, tt := range tests {
		if got := isGlob(tt.key); got != tt.want {
			t.Errorf("isGlob(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}
