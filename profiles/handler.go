package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/srvthreds/bootstrap/internal/handler"
	"github.com/srvthreds/bootstrap/internal/jsbson"
)

// handlerFile is the legacy handler of a srvthreds-form profile.
const handlerFile = handler.DefaultName

// loadHandler reads and evaluates the Handler.ts of a srvthreds-form
// profile: the calls of its run() become steps (users, upsert, replace),
// in order, and the databases its cleanup() drops are returned for the
// reset. Problems are reported at Handler.ts:line:column.
func (l *loader) loadHandler(src *source) (steps []Step, cleanup []string) {
	fc := src.fileCtx(handlerFile)
	data, err := l.readStep(src, handlerFile)
	if err != nil {
		fc.at(0, 0, "", "%v", err)
		return nil, nil
	}
	calls, err := handler.Run(data, nil)
	if err != nil {
		var he *handler.Error
		if errors.As(err, &he) {
			fc.at(he.Line, he.Column, "", "%s", he.Msg)
		} else {
			fc.at(0, 0, "", "%v", err)
		}
		return nil, nil
	}
	hb := handlerSteps{fc: fc}
	for _, c := range calls {
		switch c.Method {
		case handler.MethodRemoveDatabase:
			db := c.Database
			if db == "" {
				db = DefaultDatabase
			}
			if msg := checkDatabase(db); msg != "" {
				fc.at(c.Line, c.Column, "removeDatabase", "%s", msg)
				continue
			}
			cleanup = append(cleanup, db)
		case handler.MethodReplaceUser:
			hb.user(c)
		case handler.MethodUpsert, handler.MethodReplace:
			hb.match(c)
		}
	}
	return hb.steps, cleanup
}

// handlerSteps groups the calls of a handler's run() into steps:
// consecutive calls of one kind on one database and collection make one
// step, unless a call writes the same document (user id, matcher) again.
type handlerSteps struct {
	fc    *fileCtx
	steps []Step
}

// last returns the last step when it is of kind on db, else nil.
func (h *handlerSteps) last(kind, db string) *Step {
	if n := len(h.steps); n > 0 && h.steps[n-1].Kind == kind && h.steps[n-1].Database == db {
		return &h.steps[n-1]
	}
	return nil
}

// user adds a replaceUser call.
func (h *handlerSteps) user(c handler.Call) {
	u, ok := h.handlerUser(c)
	if !ok {
		return
	}
	s := h.last(KindUsers, DefaultDatabase)
	if s == nil || slices.ContainsFunc(s.Users.Users, func(o User) bool { return o.ID == u.ID }) {
		h.steps = append(h.steps, Step{Kind: KindUsers, Database: DefaultDatabase,
			Users: &UsersStep{File: handlerFile}})
		s = &h.steps[len(h.steps)-1]
	}
	s.Users.Users = append(s.Users.Users, u)
}

// handlerUser reads the user of a replaceUser call: id and password
// (strings), every other field kept in order, created and modified
// dropped. Messages never show a value.
func (h *handlerSteps) handlerUser(c handler.Call) (User, bool) {
	doc, err := jsbson.Doc(c.Arg)
	if err != nil {
		h.fc.at(c.Line, c.Column, "replaceUser(user)", "%v", err)
		return User{}, false
	}
	u := User{Line: c.Line}
	ok := true
	bad := func(field, format string, args ...any) {
		h.fc.at(c.Line, c.Column, "replaceUser(user)."+field, format, args...)
		ok = false
	}
	for _, e := range doc {
		switch e.Key {
		case "id":
			if s, isStr := e.Value.(string); isStr && s != "" {
				u.ID = s
			} else {
				bad("id", "is not a non-empty string")
			}
		case "password":
			if s, isStr := e.Value.(string); isStr && s != "" {
				u.Password.Value = s
			} else {
				bad("password", "is not a non-empty string")
			}
		default:
			if slices.Contains(userDropped, e.Key) {
				continue // the legacy tool drops them (and _id is the id)
			}
			if msg := u.addField(e.Key, e.Value); msg != "" {
				bad(e.Key, "%s", msg)
			}
		}
	}
	if u.ID == "" && ok {
		bad("id", "required")
	}
	if u.Password.Value == "" && ok {
		bad("password", "required")
	}
	return u, ok
}

// match adds an upsert or replace call.
func (h *handlerSteps) match(c handler.Call) {
	db := c.Database
	if db == "" {
		db = DefaultDatabase
	}
	call := c.Method + "({type, values, matcher})"
	if msg := checkDatabase(db); msg != "" {
		h.fc.at(c.Line, c.Column, "getPersistence.dbname", "%s", msg)
		return
	}
	var arg map[string]json.RawMessage
	if err := json.Unmarshal(c.Arg, &arg); err != nil {
		h.fc.at(c.Line, c.Column, call, "the argument is not an object")
		return
	}
	ok := true
	for k := range arg {
		if k != "type" && k != "values" && k != "matcher" {
			h.fc.at(c.Line, c.Column, call+"."+k, "unknown field (known: type, values, matcher)")
			ok = false
		}
	}
	var coll string
	if err := json.Unmarshal(arg["type"], &coll); err != nil || coll == "" {
		h.fc.at(c.Line, c.Column, call+".type", "is not a collection name (a non-empty string)")
		ok = false
	} else if msg := checkCollection(coll); msg != "" {
		h.fc.at(c.Line, c.Column, call+".type", "%s", msg)
		ok = false
	}
	it := MatchItem{File: h.fc.file, Line: c.Line, Column: c.Column, Matcher: arg["matcher"], Values: arg["values"]}
	for _, m := range matchProblems(it) {
		h.fc.at(c.Line, c.Column, call+"."+m.field, "%s", m.msg)
		ok = false
	}
	if !ok {
		return
	}
	h.addMatch(c.Method, db, coll, it)
}

// addMatch appends it to the last step when that step is of the same
// kind, database and collection and does not write the same matcher yet.
func (h *handlerSteps) addMatch(kind, db, coll string, it MatchItem) {
	s := h.last(kind, db)
	var ms *MatchStep
	if s != nil {
		ms = s.Upsert
		if kind == KindReplace {
			ms = s.Replace
		}
		if ms.Collection != coll || slices.ContainsFunc(ms.Items, func(o MatchItem) bool {
			return bytes.Equal(canonicalJSON(o.Matcher), canonicalJSON(it.Matcher))
		}) {
			ms = nil
		}
	}
	if ms == nil {
		ms = &MatchStep{Collection: coll, File: handlerFile}
		st := Step{Kind: kind, Database: db}
		if kind == KindUpsert {
			st.Upsert = ms
		} else {
			st.Replace = ms
		}
		h.steps = append(h.steps, st)
	}
	ms.Items = append(ms.Items, it)
}

// canonicalJSON re-encodes a JSON value with sorted keys and no spaces.
func canonicalJSON(raw json.RawMessage) []byte {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	out, _ := json.Marshal(v)
	return out
}
