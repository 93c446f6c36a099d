package conn

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
)

// cosmosKey stands for the account key of a Cosmos DB connection string
// (base64, escaped as the portal gives it).
const cosmosKey = "c2VjcmV0K2tleS93aXRoL3NsYXNoZXM%3D%3D"

// cosmosURI is the connection string of Azure Cosmos DB for MongoDB as
// srvthreds' Terraform builds it.
const cosmosURI = "mongodb://acct:" + cosmosKey + "@acct.mongo.cosmos.azure.com:10255/?ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"

func TestDescribe(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"cosmos", cosmosURI, "mongodb://acct:***@acct.mongo.cosmos.azure.com:10255/?ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@"},
		{"replica_set_added", "mongodb://mongo:27017/?replicaSet=rs0", "mongodb://mongo:27017/?replicaSet=rs0"},
		{"secret_options_left_out", "mongodb://h/db?tlsCertificateKeyFilePassword=pw&authSource=admin&password=x", "mongodb://h/db?authSource=admin"},
		{"question_mark_in_password", "mongodb://u:p?ss@h:1/?directConnection=true", "mongodb://u:***@h:1/?directConnection=true"},
		{"no_query", "redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"},
		{"redis_addr_kept", "redis://h1:7000?addr=h2:7001&password=pw", "redis://h1:7000/?addr=h2:7001"},
		{"unparseable", "mongodb://u:pw@/?x", "unparseable URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Describe(tt.in); got != tt.want {
				t.Errorf("Describe(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestResolveMongo_note(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantURI  string
		wantDesc string
	}{
		{"mongo_host_adds_replica_set", map[string]string{"MONGO_HOST": "mongo:27017"}, "mongodb://mongo:27017/?replicaSet=rs0",
			"mongodb://mongo:27017/?replicaSet=rs0 (replicaSet=rs0 added from MONGO_HOST)"},
		{"named_replica_set", map[string]string{"MONGO_HOST": "mongo:27017", "MONGO_REPLICA_SET": "rsX"}, "mongodb://mongo:27017/?replicaSet=rsX",
			"mongodb://mongo:27017/?replicaSet=rsX (replicaSet=rsX added from MONGO_REPLICA_SET)"},
		{"direct", map[string]string{"MONGO_HOST": "mongo:27017", "MONGO_DIRECT_CONNECTION": "true"}, "mongodb://mongo:27017/?directConnection=true",
			"mongodb://mongo:27017/?directConnection=true (directConnection=true added from MONGO_HOST and MONGO_DIRECT_CONNECTION)"},
		{"mongo_host_full_cosmos_uri", map[string]string{"MONGO_HOST": cosmosURI}, cosmosURI, Describe(cosmosURI)},
		{"mongo_host_srv_uri", map[string]string{"MONGO_HOST": "mongodb+srv://u:pw@cluster.example/nr?retryWrites=false"},
			"mongodb+srv://u:pw@cluster.example/nr?retryWrites=false", "mongodb+srv://u:***@cluster.example/nr?retryWrites=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveMongo("", envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got.URI != tt.wantURI || got.Describe() != tt.wantDesc {
				t.Errorf("got %q described %q, want %q described %q", got.URI, got.Describe(), tt.wantURI, tt.wantDesc)
			}
			if strings.Contains(got.Describe(), cosmosKey) || strings.Contains(got.Describe(), ":pw@") {
				t.Errorf("description %q shows the key", got.Describe())
			}
		})
	}
}

// The Cosmos DB form keeps its own options: no retryable writes, its
// replica set, TLS, idle time and appName; bootstrap's appName only when
// the URI has none.
func TestMongoOptions_cosmos_form(t *testing.T) {
	co, err := MongoOptions(cosmosURI, TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case co.RetryWrites == nil || *co.RetryWrites:
		t.Errorf("retryWrites = %v, want false", co.RetryWrites)
	case co.ReplicaSet == nil || *co.ReplicaSet != "globaldb":
		t.Errorf("replicaSet = %v, want globaldb", co.ReplicaSet)
	case co.TLSConfig == nil || co.TLSConfig.InsecureSkipVerify:
		t.Errorf("TLS = %+v, want verified TLS", co.TLSConfig)
	case co.MaxConnIdleTime == nil || *co.MaxConnIdleTime != 2*time.Minute:
		t.Errorf("maxIdleTime = %v, want 2m", co.MaxConnIdleTime)
	case co.AppName == nil || *co.AppName != "@acct@":
		t.Errorf("appName = %v, want @acct@", co.AppName)
	case co.Auth == nil || co.Auth.Username != "acct" || co.Auth.Password != "c2VjcmV0K2tleS93aXRoL3NsYXNoZXM==":
		t.Errorf("credentials not parsed: %+v", co.Auth)
	case len(co.Hosts) != 1 || co.Hosts[0] != "acct.mongo.cosmos.azure.com:10255":
		t.Errorf("hosts = %v", co.Hosts)
	}
	local, err := MongoOptions("mongodb://h:1/", TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	if local.AppName == nil || *local.AppName != "bootstrap" || local.RetryWrites != nil {
		t.Errorf("appName %v retryWrites %v, want bootstrap and the driver's default", local.AppName, local.RetryWrites)
	}
}

// REDIS_HOST, REDIS_USE_TLS and REDIS_PASSWORD on 6380 (Azure Cache for
// Redis): one node over verified TLS with the password, described without it.
func TestResolveRedis_azure_cache_form(t *testing.T) {
	env := envMap(map[string]string{"REDIS_HOST": "acct.redis.cache.windows.net:6380", "REDIS_USE_TLS": "true", "REDIS_PASSWORD": "azure-key="})
	cfg, err := ResolveRedis("", env)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRedisClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*redis.Client).Options()
	if o.Addr != "acct.redis.cache.windows.net:6380" || o.Password != "azure-key=" || o.TLSConfig == nil ||
		o.TLSConfig.InsecureSkipVerify || o.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("options: addr %q password set %v TLS %+v", o.Addr, o.Password != "", o.TLSConfig)
	}
	want := "redis://acct.redis.cache.windows.net:6380 (TLS on, password from REDIS_PASSWORD)"
	if got := cfg.Describe(); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

// A host that does not resolve ends the wait at once with FinalDNS, and is
// retried until the connect timeout without it (fake time: no real wait).
func TestWaitUp_final_dns(t *testing.T) {
	tests := []struct {
		name     string
		final    bool
		wantOnce bool
	}{
		{"final_for_commands_that_read", true, true},
		{"retried_for_run_and_wait", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tries := 0
				opts := &ConnectOptions{Timeout: 30 * time.Second, FinalDNS: tt.final, Log: slog.New(slog.DiscardHandler)}
				err := waitUp(t.Context(), "Redis", "redis://db.invalid", opts, func(context.Context) error {
					tries++
					return noHost()
				})
				if ue, ok := err.(*UnreachableError); !ok || ue.Problem() != ProblemNoHost {
					t.Fatalf("err = %v, want an unreachable host", err)
				}
				if (tries == 1) != tt.wantOnce || tries < 1 {
					t.Errorf("%d attempts, want one: %v", tries, tt.wantOnce)
				}
			})
		})
	}
}

// The real resolver: a name under .invalid never resolves; an IP address
// is not looked up.
func TestLookupHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("asks the resolver")
	}
	err := lookupHosts(t.Context(), []string{"bootstrap-test.invalid:27017"})
	if !notFound(err) {
		t.Errorf("err = %v, want a name not found", err)
	}
	if err := lookupHosts(t.Context(), []string{"bootstrap-test.invalid:1", "127.0.0.1:1"}); err != nil {
		t.Errorf("err = %v with a resolvable seed", err)
	}
}
