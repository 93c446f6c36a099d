package conn

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNewRedisClient_topologies(t *testing.T) {
	tests := []struct {
		name    string
		cfg     RedisConfig
		check   func(t *testing.T, c redis.UniversalClient)
		wantErr string
	}{
		{name: "single", cfg: RedisConfig{URL: "redis://:pw@r1:6379/2"}, check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.Addr != "r1:6379" || o.DB != 2 || o.Password != "pw" || o.TLSConfig != nil {
				t.Errorf("options = %s db %d pw %q tls %v", o.Addr, o.DB, o.Password, o.TLSConfig)
			}
		}},
		{name: "cluster_seeds_from_addr", cfg: RedisConfig{URL: "redis://h1:6379?addr=h2:6379&addr=h3:6380", Cluster: true, Password: "envpw"},
			check: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.ClusterClient).Options()
				if got := strings.Join(o.Addrs, ","); got != "h1:6379,h2:6379,h3:6380" || o.Password != "envpw" {
					t.Errorf("addrs = %s, password %q", got, o.Password)
				}
			}},
		{name: "sentinel", cfg: RedisConfig{URL: "redis://s1:26379?addr=s2:26379", SentinelMaster: "mymaster"},
			check: func(t *testing.T, c redis.UniversalClient) {
				if _, ok := c.(*redis.Client); !ok {
					t.Errorf("client is %T, want a failover *redis.Client", c)
				}
			}},
		{name: "rediss_verifies_with_system_roots", cfg: RedisConfig{URL: "rediss://r1:6380"}, check: func(t *testing.T, c redis.UniversalClient) {
			tc := c.(*redis.Client).Options().TLSConfig
			if tc == nil || tc.InsecureSkipVerify || tc.MinVersion != tls.VersionTLS12 {
				t.Errorf("tls = %+v", tc)
			}
		}},
		{name: "tls_param", cfg: RedisConfig{URL: "redis://r1:6380?tls=true"}, check: func(t *testing.T, c redis.UniversalClient) {
			if c.(*redis.Client).Options().TLSConfig == nil {
				t.Error("tls=true: no TLS")
			}
		}},
		{name: "redis_use_tls", cfg: RedisConfig{URL: "redis://r1:6380", TLS: true}, check: func(t *testing.T, c redis.UniversalClient) {
			if c.(*redis.Client).Options().TLSConfig == nil {
				t.Error("REDIS_USE_TLS: no TLS")
			}
		}},
		{name: "insecure_flag", cfg: RedisConfig{URL: "redis://r1:6380", TLSFiles: TLSFiles{Insecure: true}}, check: func(t *testing.T, c redis.UniversalClient) {
			if tc := c.(*redis.Client).Options().TLSConfig; tc == nil || !tc.InsecureSkipVerify {
				t.Errorf("tls = %+v, want verification off", tc)
			}
		}},
		{name: "skip_verify_in_url_refused", cfg: RedisConfig{URL: "rediss://:secret@r1:6380?skip_verify=true"}, wantErr: "skip_verify"},
		{name: "missing_ca_file", cfg: RedisConfig{URL: "redis://r1", TLSFiles: TLSFiles{CAFile: "/nonexistent/ca.pem"}}, wantErr: "tls ca file"},
		{name: "cert_without_key", cfg: RedisConfig{URL: "redis://r1", TLSFiles: TLSFiles{CertFile: "c.pem"}}, wantErr: "both"},
		{name: "addr_without_topology", cfg: RedisConfig{URL: "redis://:secret@h1?addr=h2:6379"}, wantErr: "addr"},
		{name: "bad_tls_param", cfg: RedisConfig{URL: "redis://h1?tls=maybe"}, wantErr: "tls="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewRedisClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tt.check(t, c)
		})
	}
}

func TestNewRedisClient_skip_verify_is_ErrInsecureTLS(t *testing.T) {
	_, err := NewRedisClient(RedisConfig{URL: "rediss://r1?skip_verify=true"})
	if !errors.Is(err, ErrInsecureTLS) {
		t.Errorf("err = %v, want ErrInsecureTLS", err)
	}
}

func TestUnreachableError_names_the_ca_flag_for_certificate_errors(t *testing.T) {
	e := &UnreachableError{Service: "Redis", Addr: "rediss://r1", Err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")}
	if !strings.Contains(e.Error(), "--redis-tls-ca-file") {
		t.Errorf("message %q does not name --redis-tls-ca-file", e.Error())
	}
	e = &UnreachableError{Service: "Redis", Addr: "redis://r1", Err: errors.New("connection refused")}
	if strings.Contains(e.Error(), "tls") {
		t.Errorf("message %q speaks of TLS for a refused connection", e.Error())
	}
}
