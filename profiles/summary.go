package profiles

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/srvthreds/bootstrap/internal/redact"
)

// Summary describes in one line what the step would write, for `plan`:
//
//	configs: 3 documents → nr.Config (run-config/)
//	patterns: 5 documents → nr.PatternModel (patterns/), 4 cached in Redis
//	users: 2 → nr.User (users.yaml)
//	documents: 10000 → nr.Reference by code (data/)
//	redis: 4 keys (redis.yaml)
//	http: POST http://engine:3001/admin/reload expect 200,204
//	exec: /bin/migrate --x
//	upsert: 2 documents → test.Thing (Handler.ts)
//	replace: 1 document → nr.Settings (settings.json)
//
// Passwords and header secrets are never part of it; a password in a URL
// is redacted.
func (s Step) Summary() string {
	switch {
	case s.Configs != nil:
		c := s.Configs
		return fmt.Sprintf("configs: %s → %s.Config (%s/)", plural(len(c.Items), "document"), s.Database, c.Dir)
	case s.Patterns != nil:
		p := s.Patterns
		active := 0
		for _, it := range p.Items {
			if it.Active {
				active++
			}
		}
		return fmt.Sprintf("patterns: %s → %s.PatternModel (%s/), %d cached in Redis",
			plural(len(p.Items), "document"), s.Database, p.Dir, active)
	case s.Users != nil:
		return fmt.Sprintf("users: %d → %s.User (%s)", len(s.Users.Users), s.Database, s.Users.File)
	case s.Documents != nil:
		d := s.Documents
		return fmt.Sprintf("documents: %d → %s.%s by %s (%s/)", len(d.Items), s.Database, d.Collection, d.Key, d.Dir)
	case s.Redis != nil:
		return fmt.Sprintf("redis: %s (%s)", plural(len(s.Redis.Keys), "key"), s.Redis.File)
	case s.HTTP != nil:
		h := s.HTTP
		u := redact.Unparseable
		if p, err := url.Parse(h.URL); err == nil {
			u = redact.URL(p, h.SafeParams)
		}
		codes := make([]string, len(h.Expect))
		for i, c := range h.Expect {
			codes[i] = strconv.Itoa(c)
		}
		line := fmt.Sprintf("http: %s %s expect %s", h.Method, u, strings.Join(codes, ","))
		if h.BodyFile != "" {
			line += " body " + h.BodyFile
		}
		return line
	case s.Upsert != nil:
		return s.Upsert.summary(KindUpsert, s.Database)
	case s.Replace != nil:
		return s.Replace.summary(KindReplace, s.Database)
	case s.Exec != nil:
		args := make([]string, len(s.Exec.Command))
		for i, a := range s.Exec.Command {
			args[i] = shellQuote(a)
		}
		return "exec: " + strings.Join(args, " ")
	}
	return s.Kind
}

// Summary describes, one line each, what `run --reset` would remove before
// the profile is applied, the profile's database being db. It is empty for
// a nil Reset.
func (r *Reset) Summary(db string) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, d := range r.DropDatabases {
		out = append(out, fmt.Sprintf("drop database %s", d))
	}
	for _, c := range r.Collections {
		out = append(out, fmt.Sprintf("drop collection %s.%s", db, c))
	}
	for _, k := range r.RedisKeys {
		if strings.ContainsAny(k, `*?[\`) {
			out = append(out, fmt.Sprintf("delete Redis keys matching %s", k))
		} else {
			out = append(out, fmt.Sprintf("delete Redis key %s", k))
		}
	}
	if r.RedisAll {
		out = append(out, fmt.Sprintf("delete every Redis key except bootstrap's own (%s*), key by key", RedisOwnPrefix))
	}
	return out
}

// plural renders "1 document", "3 documents".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// shellQuote quotes an argument that would not read as one word.
func shellQuote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"'\\$`;&|<>(){}*?[]#~") {
		return strconv.Quote(s)
	}
	return s
}
