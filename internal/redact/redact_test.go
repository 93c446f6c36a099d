package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestURI(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"mongodb_plain", "mongodb://mongo:27017/nr", "mongodb://mongo:27017/nr"},
		{"mongodb_password_with_slash_and_plus", "mongodb://admin:Zm9v/YmFy+@mongo:27017/nr", "mongodb://admin:***@mongo:27017/nr"},
		{"mongodb_password_with_at", "mongodb://admin:p@ss@mongo:27017/nr?authSource=admin", "mongodb://admin:***@mongo:27017/nr"},
		{"mongodb_password_with_colon_and_question", "mongodb://admin:a:b?c=d@mongo/nr", "mongodb://admin:***@mongo/nr"},
		{"upper_case_scheme", "MONGODB://admin:secret@Mongo:27017/nr", "mongodb://admin:***@Mongo:27017/nr"},
		{"mongodb_srv", "mongodb+srv://admin:secret@cluster0.example.net/nr?retryWrites=true", "mongodb+srv://admin:***@cluster0.example.net/nr"},
		{"several_hosts", "mongodb://u:pw@m1:27017,m2:27018,m3/nr?replicaSet=rs0", "mongodb://u:***@m1:27017,m2:27018,m3/nr"},
		{"ipv6", "mongodb://u:pw@[::1]:27017/nr", "mongodb://u:***@[::1]:27017/nr"},
		{"escaped_user", "mongodb://ad%40min:pw@mongo/nr", "mongodb://ad@min:***@mongo/nr"},
		{"no_database", "mongodb://u:pw@mongo:27017/?tls=true", "mongodb://u:***@mongo:27017"},
		{"user_without_password", "mongodb://reader@mongo", "mongodb://reader@mongo"},
		{"redis_password_with_slash", "redis://:se/cret@host:6379/0", "redis://:***@host:6379/0"},
		{"redis_password_only", "redis://s3cret@host:6379", "redis://:***@host:6379"},
		{"redis_user_and_password", "rediss://default:s3cret@host:6380/2", "rediss://default:***@host:6380/2"},
		{"redis_no_auth", "redis://localhost:6379", "redis://localhost:6379"},
		{"http_url_query_dropped", "https://engine:3001/admin?token=abc", "https://engine:3001/admin"},
		{"socket_path", "mongodb://%2Ftmp%2Fmongodb-27017.sock/nr", "mongodb://%2Ftmp%2Fmongodb-27017.sock/nr"},
		{"no_scheme", "mongo:27017", Unparseable},
		{"garbage_with_secret", "mongodb://admin:secret", Unparseable},
		{"bad_port", "redis://host:port/0", Unparseable},
		{"empty", "", Unparseable},
		{"ambiguous_at_in_password_and_query", "redis://:12?3@host", Unparseable},
		{"spaces_in_host", "mongodb://u:pw@mon go/nr", Unparseable},
		{"cosmos_app_name_with_at", "mongodb://acct:a2V5%3D%3D@acct.mongo.cosmos.azure.com:10255/?ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@",
			"mongodb://acct:***@acct.mongo.cosmos.azure.com:10255"},
		{"no_host_after_user", "mongodb://u:pw@/nr", Unparseable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URI(tt.in); got != tt.want {
				t.Errorf("URI(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		name, in string
		safe     []string
		want     string
	}{
		{"query_dropped", "http://engine:3001/admin/reload?token=abc&mode=full", nil, "http://engine:3001/admin/reload"},
		{"safe_param_kept", "http://engine:3001/admin/reload?token=abc&mode=full", []string{"mode"}, "http://engine:3001/admin/reload?mode=full"},
		{"password_hidden", "https://user:pa55@example.test/x#frag", nil, "https://user:***@example.test/x"},
		{"user_kept", "https://user@example.test/x", nil, "https://user@example.test/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := URL(u, tt.safe); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if URL(nil, nil) != "" {
		t.Error("URL(nil) is not empty")
	}
}

// FuzzURI builds a URI around a fuzzed password (and user, hosts, query)
// and checks that the password never appears in what URI prints. Its seed
// corpus is in testdata/fuzz/FuzzURI and runs with go test.
func FuzzURI(f *testing.F) {
	f.Add("mongodb", "admin", "Zm9v/YmFy+", "mongo:27017", "nr", "authSource=admin")
	f.Add("redis", "", "se/cret", "host:6379", "0", "")
	f.Add("MONGODB+SRV", "u", "p@ss:w?rd=", "c.example.net", "", "tls=true")
	f.Add("rediss", "default", "12345", "[::1]:6380", "2", "x=a@b")
	f.Fuzz(func(t *testing.T, scheme, user, password, hosts, db, query string) {
		if len(password) < 4 || strings.Contains(scheme+"://"+user+":", password) {
			return // a password too short to tell apart, or one written before it too
		}
		build := func(pw string) string {
			uri := scheme + "://" + user + ":" + pw + "@" + hosts
			if db != "" {
				uri += "/" + db
			}
			if query != "" {
				uri += "?" + query
			}
			return uri
		}
		// Either the output does not depend on the password (it is the same
		// with another one), or it does not show it.
		uri := build(password)
		out := URI(uri)
		if out != URI(build("Another-Pass")) && strings.Contains(out, password) {
			t.Fatalf("URI(%q) = %q shows the password %q", uri, out, password)
		}
		u, err := url.Parse(uri)
		if err != nil {
			return
		}
		if pw, has := u.User.Password(); !has || pw != password {
			return // url.Parse read the password as something else: URL takes a parsed URL
		}
		// What URL prints does not depend on the password at all (a
		// "contains" check would see passwords such as "0000" in an escaped
		// path, "%20000").
		other := *u
		other.User = url.UserPassword(u.User.Username(), "another-password")
		if out, want := URL(u, []string{"tls"}), URL(&other, []string{"tls"}); out != want {
			t.Fatalf("URL(%q) = %q depends on the password (%q with another)", uri, out, want)
		}
	})
}
