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
// A step without its kind's part (an invalid one) is only its kind.
// Passwords and header secrets are never part of it; a password in a URL
// is redacted.
func (s Step) Summary() string {
	kind, p := s.part()
	if p == nil {
		return s.Kind
	}
	return p.summary(kind, s.Database)
}

// stepPart is the kind-specific part of a Step (ConfigsStep, PatternsStep,
// ...). Each carries its own plan line, so that the part of a new kind
// does not compile in Step.part without one.
type stepPart interface {
	// summary is the plan line of a step of kind whose database is db.
	summary(kind, db string) string
}

// part returns the kind-specific part of s and its kind, or "" and nil
// when none is set.
func (s Step) part() (string, stepPart) {
	switch {
	case s.Configs != nil:
		return KindConfigs, s.Configs
	case s.Patterns != nil:
		return KindPatterns, s.Patterns
	case s.Users != nil:
		return KindUsers, s.Users
	case s.Documents != nil:
		return KindDocuments, s.Documents
	case s.Redis != nil:
		return KindRedis, s.Redis
	case s.HTTP != nil:
		return KindHTTP, s.HTTP
	case s.Upsert != nil:
		return KindUpsert, s.Upsert
	case s.Replace != nil:
		return KindReplace, s.Replace
	case s.Exec != nil:
		return KindExec, s.Exec
	}
	return "", nil
}

func (c *ConfigsStep) summary(kind, db string) string {
	return fmt.Sprintf("%s: %s → %s.Config (%s/)", kind, plural(len(c.Items), "document"), db, c.Dir)
}

func (p *PatternsStep) summary(kind, db string) string {
	active := 0
	for _, it := range p.Items {
		if it.Active {
			active++
		}
	}
	return fmt.Sprintf("%s: %s → %s.PatternModel (%s/), %d cached in Redis",
		kind, plural(len(p.Items), "document"), db, p.Dir, active)
}

func (u *UsersStep) summary(kind, db string) string {
	return fmt.Sprintf("%s: %d → %s.User (%s)", kind, len(u.Users), db, u.File)
}

func (d *DocumentsStep) summary(kind, db string) string {
	return fmt.Sprintf("%s: %d → %s.%s by %s (%s/)", kind, len(d.Items), db, d.Collection, d.Key, d.Dir)
}

func (r *RedisStep) summary(kind, _ string) string {
	return fmt.Sprintf("%s: %s (%s)", kind, plural(len(r.Keys), "key"), r.File)
}

// summary shows the URL with its password redacted and only its safe
// query parameters.
func (h *HTTPStep) summary(kind, _ string) string {
	u := redact.Unparseable
	if p, err := url.Parse(h.URL); err == nil {
		u = redact.URL(p, h.SafeParams)
	}
	codes := make([]string, len(h.Expect))
	for i, c := range h.Expect {
		codes[i] = strconv.Itoa(c)
	}
	line := fmt.Sprintf("%s: %s %s expect %s", kind, h.Method, u, strings.Join(codes, ","))
	if h.BodyFile != "" {
		line += " body " + h.BodyFile
	}
	return line
}

// summary shows the command line, its environment left out.
func (e *ExecStep) summary(kind, _ string) string {
	args := make([]string, len(e.Command))
	for i, a := range e.Command {
		args[i] = shellQuote(a)
	}
	return kind + ": " + strings.Join(args, " ")
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
