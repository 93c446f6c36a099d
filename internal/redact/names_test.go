package redact

import "testing"

func TestSecretName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"password", true},
		{"Password", true},
		{"apiKey", true},
		{"api_key", true},
		{"X-API-KEY", true},
		{"APIKey", true},
		{"clientSecret", true},
		{"refresh_token", true},
		{"accessTokens", true},
		{"credentials", true},
		{"privateKeyPem", true},
		{"authorization", true},
		{"dbPass", true},
		{"pwd", true},
		{"key", true},
		{"name", false},
		{"code", false},
		{"roles", false},
		{"keyboard", false},
		{"monkey", false},
		{"passengers", false},
		{"tokenizerModel", false},
		{"author", false},
		{"$schema", false},
		{"description", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SecretName(tt.name); got != tt.want {
				t.Errorf("SecretName(%q) = %v, want %v (words %q)", tt.name, got, tt.want, words(tt.name))
			}
		})
	}
}
