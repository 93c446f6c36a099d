package conn

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func envMap(kv map[string]string) Env {
	return Env{
		Getenv: func(k string) string { return kv[k] },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := kv["file:"+p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		},
	}
}

func TestResolveMongoURI(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{name: "default_is_local_direct", want: DefaultMongoURI},
		{name: "flag_wins", flag: "mongodb://a:1/", env: map[string]string{"BOOTSTRAP_MONGO_URI": "mongodb://b:2/", "MONGO_HOST": "c:3"}, want: "mongodb://a:1/"},
		{name: "bootstrap_env_over_mongo_host", env: map[string]string{"BOOTSTRAP_MONGO_URI": "mongodb://b:2/", "MONGO_HOST": "c:3"}, want: "mongodb://b:2/"},
		{name: "uri_from_file", env: map[string]string{"BOOTSTRAP_MONGO_URI_FILE": "/s/uri", "file:/s/uri": "mongodb://u:p@f:1/\n"}, want: "mongodb://u:p@f:1/"},
		{name: "mongo_host_replica_set_default", env: map[string]string{"MONGO_HOST": "mongo:27017"}, want: "mongodb://mongo:27017/?replicaSet=rs0"},
		{name: "mongo_host_replica_set_named", env: map[string]string{"MONGO_HOST": "mongo:27017", "MONGO_REPLICA_SET": "rsX"}, want: "mongodb://mongo:27017/?replicaSet=rsX"},
		{name: "mongo_host_direct", env: map[string]string{"MONGO_HOST": "mongo:27017", "MONGO_DIRECT_CONNECTION": "true"}, want: "mongodb://mongo:27017/?directConnection=true"},
		{name: "mongo_host_full_uri", env: map[string]string{"MONGO_HOST": "mongodb+srv://x.example/"}, want: "mongodb+srv://x.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveMongoURI(tt.flag, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolveMongoURI_missing_secret_file(t *testing.T) {
	_, err := ResolveMongoURI("", envMap(map[string]string{"BOOTSTRAP_MONGO_URI_FILE": "/nope"}))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "BOOTSTRAP_MONGO_URI_FILE") {
		t.Errorf("err = %v", err)
	}
}

func TestResolveRedis(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want RedisConfig
	}{
		{name: "default", want: RedisConfig{URL: DefaultRedisURL}},
		{name: "flag", flag: "redis://r:1", want: RedisConfig{URL: "redis://r:1"}},
		{name: "redis_host_plain", env: map[string]string{"REDIS_HOST": "cache:6379"}, want: RedisConfig{URL: "redis://cache:6379"}},
		{name: "redis_host_url", env: map[string]string{"REDIS_HOST": "rediss://cache:6380"}, want: RedisConfig{URL: "rediss://cache:6380", TLS: true}},
		{name: "azure_tls_password", env: map[string]string{"REDIS_HOST": "x.redis.cache.windows.net:6380", "REDIS_USE_TLS": "true", "REDIS_PASSWORD": "pw"},
			want: RedisConfig{URL: "redis://x.redis.cache.windows.net:6380", Password: "pw", TLS: true}},
		{name: "password_file", env: map[string]string{"REDIS_PASSWORD_FILE": "/s/pw", "file:/s/pw": "secret\n"}, want: RedisConfig{URL: DefaultRedisURL, Password: "secret"}},
		{name: "bootstrap_url_wins", env: map[string]string{"BOOTSTRAP_REDIS_URL": "redis://b:1", "REDIS_HOST": "c:2"}, want: RedisConfig{URL: "redis://b:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveRedis(tt.flag, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "mongo_user_password", in: "mongodb://admin:s3cret@h1:27017,h2:27017/nr?replicaSet=rs0", want: "mongodb://admin:***@h1:27017,h2:27017/nr"},
		{name: "srv", in: "mongodb+srv://u:p%40ss@cluster.example/", want: "mongodb+srv://u:***@cluster.example"},
		{name: "redis_password_only", in: "redis://:pw@cache:6379/0", want: "redis://:***@cache:6379/0"},
		{name: "rediss_user_password", in: "rediss://default:pw@cache:6380", want: "rediss://default:***@cache:6380"},
		{name: "no_userinfo", in: "redis://cache:6379", want: "redis://cache:6379"},
		{name: "user_only", in: "mongodb://user@h/", want: "mongodb://user@h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestResolve_empty_secret_file(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		resolve func(Env) error
		want    string
	}{
		{"mongo_uri", map[string]string{"BOOTSTRAP_MONGO_URI_FILE": "/s/uri", "file:/s/uri": "\n"},
			func(e Env) error { _, err := ResolveMongoURI("", e); return err }, "BOOTSTRAP_MONGO_URI_FILE: /s/uri is empty"},
		{"redis_password", map[string]string{"REDIS_PASSWORD_FILE": "/s/pw", "file:/s/pw": ""},
			func(e Env) error { _, err := ResolveRedis("", e); return err }, "REDIS_PASSWORD_FILE: /s/pw is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.resolve(envMap(tt.env))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrConfig naming %q", err, tt.want)
			}
		})
	}
}
