package conn

import (
	"net/url"
	"strings"

	"github.com/srvthreds/bootstrap/internal/redact"
)

// shownOption reports whether the connection-string option k (in lower
// case) is shown by Describe: it says how the server is reached, never a
// secret. Any other option is left out.
func shownOption(k string) bool {
	switch k {
	case "replicaset", "directconnection", "tls", "ssl", "authsource", "authmechanism", "retrywrites", "retryreads",
		"loadbalanced", "readpreference", "w", "maxidletimems", "appname", "srvservicename", "compressors", // MongoDB
		"addr", "db", "protocol", "client_name": // Redis
		return true
	}
	return false
}

// Describe returns uri as logs and errors show it: Redact's scheme, hosts,
// ports, database and user, then the options of shownOptions as given
// ("mongodb://u:***@h:10255/?ssl=true&replicaSet=globaldb"; see
// shownOption). A password, a
// key in any other option and an option that does not parse are never
// shown.
func Describe(uri string) string {
	base := Redact(uri)
	if base == redact.Unparseable {
		return base
	}
	q, ok := query(uri, base)
	if !ok {
		return base
	}
	var shown []string
	for part := range strings.SplitSeq(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		if !shownOption(strings.ToLower(k)) {
			continue
		}
		if _, err := url.QueryUnescape(v); err != nil {
			continue
		}
		shown = append(shown, part)
	}
	if len(shown) == 0 {
		return base
	}
	if !strings.Contains(strings.TrimPrefix(base, strings.SplitN(base, "://", 2)[0]+"://"), "/") {
		base += "/"
	}
	return base + "?" + strings.Join(shown, "&")
}

// query returns the query of uri: what follows the first "?" before which
// uri reads as it does whole (a "?" in a password, before it, does not).
func query(uri, whole string) (string, bool) {
	for i := 0; i < len(uri); i++ {
		if uri[i] != '?' {
			continue
		}
		if Redact(uri[:i]) == whole {
			return uri[i+1:], true
		}
	}
	return "", false
}
