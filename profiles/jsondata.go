package profiles

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

// jsonFile is one *.json file of a step's directory, read and checked to be
// valid JSON.
type jsonFile struct {
	rel  string // relative to the profile directory
	ctx  *fileCtx
	data []byte // without a byte order mark
	v    any    // decoded
}

// readJSONDir reads the *.json files of the directory that the manifest
// names at r. Files that cannot be read or are not valid JSON are reported
// and left out.
func (l *loader) readJSONDir(src *source, raw string, r ref) (dir string, out []jsonFile) {
	dir, files, ok := l.jsonFiles(src, raw, r)
	if !ok {
		return dir, nil
	}
	for _, rel := range files {
		fc := src.fileCtx(rel)
		data, err := l.readStep(src, rel)
		if err != nil {
			fc.at(0, 0, "", "%v", err)
			continue
		}
		data = stripBOM(data)
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			fc.jsonErr(data, "", err)
			continue
		}
		out = append(out, jsonFile{rel: rel, ctx: fc, data: data, v: v})
	}
	return dir, out
}

// loadConfigs reads a configs step's directory: every file is one config,
// named after the file, kept verbatim.
func (l *loader) loadConfigs(src *source, raw string, r ref) *ConfigsStep {
	dir, files := l.readJSONDir(src, raw, r)
	step := &ConfigsStep{Dir: dir}
	for _, f := range files {
		step.Items = append(step.Items, ConfigItem{
			Name: strings.TrimSuffix(path.Base(f.rel), ".json"),
			File: f.ctx.file,
			JSON: json.RawMessage(f.data),
		})
	}
	slices.SortFunc(step.Items, func(a, b ConfigItem) int { return cmp.Compare(a.Name, b.Name) })
	return step
}

// loadPatterns reads a patterns step's directory: every file is one
// pattern object with a string id, unique in the step.
func (l *loader) loadPatterns(src *source, raw string, r ref) *PatternsStep {
	dir, files := l.readJSONDir(src, raw, r)
	step := &PatternsStep{Dir: dir}
	seen := map[string]string{} // id -> file
	for _, f := range files {
		obj, ok := f.v.(map[string]any)
		if !ok {
			line, col := lineCol(f.data, skipSep(f.data, 0))
			f.ctx.at(line, col, "", "a pattern is a JSON object; this is %s", jsonType(f.v))
			continue
		}
		idv, has := obj["id"]
		id, isStr := idv.(string)
		switch {
		case !has:
			line, col := f.ctx.spot(f.data, 0, "")
			f.ctx.at(line, col, "id", "pattern has no id")
			continue
		case !isStr || id == "":
			line, col := f.ctx.spot(f.data, 0, "id")
			f.ctx.at(line, col, "id", "is %s; want a non-empty string", jsonType(idv))
			continue
		}
		if prev, dup := seen[id]; dup {
			line, col := f.ctx.spot(f.data, 0, "id")
			f.ctx.at(line, col, "id", "duplicate id %q (also in %s)", id, prev)
			continue
		}
		seen[id] = f.ctx.file
		meta, _ := obj["meta"].(map[string]any)
		step.Items = append(step.Items, PatternItem{
			ID:     id,
			File:   f.ctx.file,
			Active: meta["active"] == true,
			JSON:   json.RawMessage(f.data),
		})
	}
	slices.SortFunc(step.Items, func(a, b PatternItem) int { return cmp.Compare(a.ID, b.ID) })
	return step
}

// loadDocuments reads a documents step's directory: every file is an
// object or an array of objects, each with the key field, whose values are
// unique in the step.
func (l *loader) loadDocuments(src *source, raw, key string, r ref) (string, []DocumentItem) {
	dir, files := l.readJSONDir(src, raw, r)
	var items []DocumentItem
	seen := map[string]string{} // canonical key -> "file[index]"
	for _, f := range files {
		var (
			docs []any
			raws []json.RawMessage
		)
		switch v := f.v.(type) {
		case map[string]any:
			docs, raws = []any{v}, []json.RawMessage{f.data}
		case []any:
			docs = v
			if err := json.Unmarshal(f.data, &raws); err != nil {
				f.ctx.jsonErr(f.data, "", err)
				continue
			}
		default:
			line, col := lineCol(f.data, skipSep(f.data, 0))
			f.ctx.at(line, col, "", "is %s; want an object or an array of objects", jsonType(v))
			continue
		}
		_, isArray := f.v.([]any)
		for i, d := range docs {
			elem := ""
			if isArray {
				elem = index("", i)
			}
			obj, ok := d.(map[string]any)
			if !ok {
				line, col := f.ctx.spot(f.data, i, "")
				f.ctx.at(line, col, elem, "is %s; want an object", jsonType(d))
				continue
			}
			kv, has := obj[key]
			if msg := checkKeyValue(kv, has); msg != "" {
				line, col := f.ctx.spot(f.data, i, key)
				f.ctx.at(line, col, joinField(elem, key), "%s", msg)
				continue
			}
			canon, _ := json.Marshal(kv)
			where := f.ctx.file + elem
			if prev, dup := seen[string(canon)]; dup {
				line, col := f.ctx.spot(f.data, i, key)
				f.ctx.at(line, col, joinField(elem, key), "duplicate %s %s (also in %s)", key, canon, prev)
				continue
			}
			seen[string(canon)] = where
			items = append(items, DocumentItem{File: f.ctx.file, Index: i, Key: kv, JSON: raws[i]})
		}
	}
	return dir, items
}

// checkKeyValue returns why v cannot be the key value of a document, or "".
func checkKeyValue(v any, has bool) string {
	switch v.(type) {
	case string, float64, bool, map[string]any:
		return ""
	}
	if !has || v == nil {
		return "missing; every document needs its key field"
	}
	return fmt.Sprintf("is %s; want a string, number, boolean or object", jsonType(v))
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

// spot returns the line and column of the field key of element elem of
// data (the top-level object is element 0), or of the element itself when
// key is "" or absent. data must be valid JSON.
func (c *fileCtx) spot(data []byte, elem int, key string) (line, col int) {
	starts, keys := jsonSpots(data, key)
	off := int64(0)
	if elem < len(starts) {
		off = starts[elem]
		if key != "" && keys[elem] >= 0 {
			off = keys[elem]
		}
	}
	return lineCol(data, off)
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

// skipSep returns the offset of the first byte at or after off that is not
// white space or a separator.
func skipSep(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	return off
}
