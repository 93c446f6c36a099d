package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/srvthreds/bootstrap/internal/jsbson"
)

// MatchStep is an upsert or a replace step: the effects of a srvthreds
// handler's getPersistence({dbname}).upsert / .replace, in
// <db>.<Collection>, one write per item, in order:
//
//   - upsert: updateOne(<Matcher, its key "id" renamed "_id">, {$set:
//     {<Values without _id, created, modified>, modified: <now>}},
//     {upsert: true}); an "id" inside Values stays a plain field;
//   - replace: replaceOne(<Matcher, id renamed _id>, {<Values with id
//     renamed _id, without created, modified>, modified: <now>},
//     {upsert: true}).
//
// In a manifest: `- upsert: {collection: Thing, file: things.json}` (and
// an optional database), the file being a JSON array of {"matcher": {...},
// "values": {...}}. From a Handler.ts, consecutive calls of one kind on one
// database and collection make one step.
type MatchStep struct {
	Collection string
	File       string // the data file, relative to the profile directory, or "Handler.ts"
	Items      []MatchItem
}

// MatchItem is one write of a MatchStep.
type MatchItem struct {
	File         string          // relative to the profiles dir, for messages
	Line, Column int             // of the item in File (the call, in a Handler.ts)
	Matcher      json.RawMessage // a non-empty JSON object, verbatim
	Values       json.RawMessage // a JSON object, verbatim
}

// matchStep parses {collection, file, index, database} of an upsert or replace
// step and loads its file.
func (l *loader) matchStep(src *source, n *yaml.Node, field string, s *Step) *MatchStep {
	m, ok := l.stepFields(src.ctx, n, field, s, "collection", "file", "index")
	if !ok {
		return nil
	}
	s.NoIndex = !m.boolean("index", true)
	ms := &MatchStep{Collection: m.str("collection", true)}
	if ms.Collection != "" {
		if msg := checkCollection(ms.Collection); msg != "" {
			m.ref("collection").report("%s", msg)
		}
	}
	rel, data, ok := l.readNamed(src, m.str("file", true), m.ref("file"))
	if !ok {
		return ms
	}
	ms.File = rel
	ms.Items = matchItems(src.fileCtx(rel), stripBOM(data))
	return ms
}

// matchItems reads a data file: a JSON array of {matcher, values}.
func matchItems(fc *fileCtx, data []byte) []MatchItem {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		fc.jsonErr(data, "", err)
		return nil
	}
	if _, ok := v.([]any); !ok {
		line, col := lineCol(data, skipSep(data, 0))
		fc.at(line, col, "", "is %s; want an array of {\"matcher\": {...}, \"values\": {...}}", jsonType(v))
		return nil
	}
	var raws []json.RawMessage
	_ = json.Unmarshal(data, &raws) // valid JSON, an array
	starts, _ := jsonSpots(data, "")
	var items []MatchItem
	seen := map[string]int{} // canonical matcher -> index
	for i, raw := range raws {
		line, col := 0, 0
		if i < len(starts) {
			line, col = lineCol(data, starts[i])
		}
		it, msgs := matchItem(raw)
		if len(msgs) == 0 {
			key := string(canonicalJSON(it.Matcher))
			if prev, dup := seen[key]; dup {
				msgs = append(msgs, fieldMsg{"matcher", fmt.Sprintf("duplicate matcher (also [%d]); one write per document", prev)})
			}
			seen[key] = i
		}
		for _, pm := range msgs {
			fc.at(line, col, joinField(index("", i), pm.field), "%s", pm.msg)
		}
		if len(msgs) == 0 {
			it.File, it.Line, it.Column = fc.file, line, col
			items = append(items, it)
		}
	}
	return items
}

// matchProblems checks the matcher (a non-empty object) and the values
// (an object) of it.
func matchProblems(it MatchItem) []fieldMsg {
	var msgs []fieldMsg
	for _, f := range []struct {
		name     string
		raw      json.RawMessage
		nonEmpty bool
	}{{"matcher", it.Matcher, true}, {"values", it.Values, false}} {
		if msg := checkObject(f.raw, f.nonEmpty); msg != "" {
			msgs = append(msgs, fieldMsg{f.name, msg})
		}
	}
	return msgs
}

// fieldMsg is a problem about a field of a value.
type fieldMsg struct{ field, msg string }

// matchItem checks one {matcher, values} object: exactly those two keys,
// matcher a non-empty object, values an object, both convertible to BSON.
func matchItem(raw json.RawMessage) (MatchItem, []fieldMsg) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return MatchItem{}, []fieldMsg{{"", "is not an object; want {\"matcher\": {...}, \"values\": {...}}"}}
	}
	var msgs []fieldMsg
	for k := range obj {
		if k != "matcher" && k != "values" {
			msgs = append(msgs, fieldMsg{k, "unknown field (known: matcher, values)"})
		}
	}
	it := MatchItem{Matcher: obj["matcher"], Values: obj["values"]}
	msgs = append(msgs, matchProblems(it)...)
	return it, msgs
}

// checkObject returns why raw is not a JSON object that converts to BSON
// (a non-empty one when nonEmpty), or "".
func checkObject(raw json.RawMessage, nonEmpty bool) string {
	if raw == nil {
		return "required"
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		var v any
		_ = json.Unmarshal(raw, &v)
		return fmt.Sprintf("is %s; want an object", jsonType(v))
	}
	if nonEmpty && len(obj) == 0 {
		return "empty; want the fields that find the document"
	}
	if _, hasID := obj["id"]; hasID && nonEmpty {
		if _, has := obj["_id"]; has {
			return "has both id and _id; id is renamed _id, so want one of them"
		}
	}
	if _, err := jsbson.Doc(raw); err != nil {
		return err.Error()
	}
	return ""
}

// summary is the plan line of an upsert or replace step.
func (m *MatchStep) summary(kind, db string) string {
	return fmt.Sprintf("%s: %s → %s.%s (%s)", kind, plural(len(m.Items), "document"), db, m.Collection, m.File)
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// jsonSpots returns the offsets where the elements of a top-level array
// start (the top-level object is the only element otherwise) and where
// their top-level field key is (-1 when absent).
func jsonSpots(data []byte, key string) (starts, keys []int64) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil
	}
	switch tok {
	case json.Delim('{'):
		starts = append(starts, skipSep(data, 0))
		keys = append(keys, objectKey(dec, data, key))
	case json.Delim('['):
		for dec.More() {
			starts = append(starts, skipSep(data, dec.InputOffset()))
			t, err := dec.Token()
			if err != nil {
				return starts, append(keys, -1)
			}
			if t == json.Delim('{') {
				keys = append(keys, objectKey(dec, data, key))
				continue
			}
			keys = append(keys, -1)
			if skipRest(dec, t) != nil {
				return starts, keys
			}
		}
	}
	return starts, keys
}

// objectKey consumes an object whose '{' was read and returns the offset of
// its field key, or -1.
func objectKey(dec *json.Decoder, data []byte, key string) int64 {
	at := int64(-1)
	for dec.More() {
		off := skipSep(data, dec.InputOffset())
		t, err := dec.Token()
		if err != nil {
			return at
		}
		if s, _ := t.(string); key != "" && s == key && at < 0 {
			at = off
		}
		v, err := dec.Token()
		if err != nil || skipRest(dec, v) != nil {
			return at
		}
	}
	_, _ = dec.Token() // '}'
	return at
}

// skipRest consumes the rest of a value whose first token was t.
func skipRest(dec *json.Decoder, t json.Token) error {
	if d, ok := t.(json.Delim); !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}
