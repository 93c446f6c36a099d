package profiles

import (
	"cmp"
	"encoding/json"
	"errors"
	"path"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/jsbson"
)

// The JSON files of configs, patterns and documents steps are checked by
// jsbson.Parse, the conversion apply uses, so that whatever apply could
// refuse about a document is refused here, with its position.

// jsonFile is one *.json file of a step's directory.
type jsonFile struct {
	rel  string // relative to the profile directory
	ctx  *fileCtx
	data []byte // without a byte order mark
	pos  *posIndex
}

// lineCol returns the line and column of offset off of the file.
func (f *jsonFile) lineCol(off int64) (int, int) {
	if f.pos == nil {
		f.pos = newPosIndex(f.data)
	}
	return f.pos.lineCol(off)
}

// at reports a problem at offset off of the file.
func (f *jsonFile) at(off int64, field, format string, args ...any) {
	line, col := f.lineCol(off)
	f.ctx.at(line, col, field, format, args...)
}

// parseErr reports an error of jsbson.Parse.
func (f *jsonFile) parseErr(err error) {
	var e *jsbson.Error
	switch {
	case !errors.As(err, &e):
		f.ctx.at(0, 0, "", "%v", err)
	case e.Syntax:
		f.at(e.Offset, e.Field, "malformed JSON: %s", e.Msg)
	default:
		f.at(e.Offset, e.Field, "%s", e.Msg)
	}
}

// readJSONDir reads the *.json files of the directory that the manifest
// names at r. Files that cannot be read are reported and left out.
func (l *loader) readJSONDir(src *source, raw string, r ref) (dir string, out []*jsonFile) {
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
		out = append(out, &jsonFile{rel: rel, ctx: fc, data: stripBOM(data)})
	}
	return dir, out
}

// docKeys collects the top-level keys of a document and where they are,
// and notes or refuses the others (see the README).
type docKeys struct {
	at map[string]int64 // top-level key -> offset
	// topDollar is true where a top-level "$" key is refused: in a
	// replacement document (patterns, documents), MongoDB refuses it.
	topDollar bool
	dollar    []jsbson.Key // top-level "$" keys found
}

// parseOpts returns the jsbson options of the documents of src's current
// step, and the top-level keys they collect. depth is the nesting the file
// may have.
func (l *loader) parseOpts(src *source, f *jsonFile, depth int, keys *docKeys) *jsbson.Options {
	return &jsbson.Options{
		MaxDepth: depth,
		Omit:     append(slices.Clip(l.omit), l.stepOmit...),
		Key: func(k jsbson.Key) {
			if k.Depth == 1 && keys.at != nil {
				keys.at[k.Name] = k.Offset
			}
			if !noteworthyKey(k.Name) {
				return
			}
			if k.Depth == 1 && keys.topDollar && strings.HasPrefix(k.Name, "$") {
				keys.dollar = append(keys.dollar, k)
				return
			}
			line, col := f.lineCol(k.Offset)
			addKeyNote(src.p, KeyNote{File: f.ctx.file, Line: line, Column: col, Field: k.Field(), Key: k.Name}, l.limits.MaxProblems)
		},
	}
}

// omitted records the keys of the loader's omit list that a document had,
// for the profile's version.
func (l *loader) omitted(src *source, keys []string) {
	for _, k := range keys {
		if slices.Contains(l.omit, k) && !slices.Contains(src.omitted, k) {
			src.omitted = append(src.omitted, k)
		}
	}
}

// refuseTopDollar reports the top-level "$" keys of a replacement document.
func (f *jsonFile) refuseTopDollar(keys *docKeys) bool {
	for _, k := range keys.dollar {
		f.at(k.Offset, k.Field(), "a top-level key starting with $ is refused by MongoDB in a replaced document; leave it out (omitKeys) or nest it")
	}
	return len(keys.dollar) > 0
}

// checkSize reports a document whose BSON, extra bytes added, is over
// MongoDB's limit.
func (f *jsonFile) checkSize(v any, extra int, off int64, field string) bool {
	if n := jsbson.Size(v) + extra; n > jsbson.MaxDocumentSize {
		f.at(off, field, "is %s in BSON, over MongoDB's document size limit of 16 MiB", sizeName(int64(n)))
		return false
	}
	return true
}

// loadConfigs reads a configs step's directory: every file is one config,
// named after the file, stored as the config field of its document.
func (l *loader) loadConfigs(src *source, raw string, r ref) *ConfigsStep {
	dir, files := l.readJSONDir(src, raw, r)
	step := &ConfigsStep{Dir: dir}
	for _, f := range files {
		keys := &docKeys{}
		res, err := jsbson.Parse(f.data, l.parseOpts(src, f, l.limits.MaxDepth-1, keys))
		if err != nil {
			f.parseErr(err)
			continue
		}
		l.omitted(src, res.Omitted)
		name := strings.TrimSuffix(path.Base(f.rel), ".json")
		// {_id: name, config: <the JSON>, modified: <date>}
		if !f.checkSize(res.Value, 5+(5+len(name)+5)+8+(10+8), 0, "") {
			continue
		}
		if !l.countItem(src, f.ctx, 1, 1, "") {
			break
		}
		step.Items = append(step.Items, ConfigItem{Name: name, File: f.ctx.file, JSON: json.RawMessage(res.JSON)})
	}
	slices.SortFunc(step.Items, func(a, b ConfigItem) int { return cmp.Compare(a.Name, b.Name) })
	return step
}

// loadPatterns reads a patterns step's directory: every file is one
// pattern object with a string id, unique in the step, and no _id.
func (l *loader) loadPatterns(src *source, raw string, r ref) *PatternsStep {
	dir, files := l.readJSONDir(src, raw, r)
	step := &PatternsStep{Dir: dir}
	seen := map[string]string{} // id -> file
	for _, f := range files {
		keys := &docKeys{at: map[string]int64{}, topDollar: true}
		res, err := jsbson.Parse(f.data, l.parseOpts(src, f, l.limits.MaxDepth, keys))
		if err != nil {
			f.parseErr(err)
			continue
		}
		l.omitted(src, res.Omitted)
		it, ok := l.pattern(f, res, keys, seen)
		if !ok || !l.countItem(src, f.ctx, 1, 1, "") {
			continue
		}
		seen[it.ID] = f.ctx.file
		step.Items = append(step.Items, it)
	}
	slices.SortFunc(step.Items, func(a, b PatternItem) int { return cmp.Compare(a.ID, b.ID) })
	return step
}

// pattern checks one parsed pattern file.
func (l *loader) pattern(f *jsonFile, res jsbson.Result, keys *docKeys, seen map[string]string) (PatternItem, bool) {
	start := skipSep(f.data, 0)
	obj, ok := res.Value.(bson.D)
	if !ok {
		f.at(start, "", "a pattern is a JSON object; this is %s", jsbson.Kind(res.Value))
		return PatternItem{}, false
	}
	if f.refuseTopDollar(keys) {
		return PatternItem{}, false
	}
	if off, has := keys.at["_id"]; has {
		f.at(off, "_id", `a pattern has no "_id" field: its "id" field becomes _id`)
		return PatternItem{}, false
	}
	idv, has := lookup(obj, "id")
	id, isStr := idv.(string)
	switch {
	case !has:
		f.at(start, "id", "pattern has no id")
		return PatternItem{}, false
	case !isStr || id == "":
		f.at(keys.at["id"], "id", "is %s; want a non-empty string", jsbson.Kind(idv))
		return PatternItem{}, false
	}
	if prev, dup := seen[id]; dup {
		f.at(keys.at["id"], "id", "duplicate id %q (also in %s)", id, prev)
		return PatternItem{}, false
	}
	if !f.checkSize(obj, 18, start, "") { // modified: <date>
		return PatternItem{}, false
	}
	meta, _ := lookup(obj, "meta")
	active, _ := lookup(asDoc(meta), "active")
	return PatternItem{ID: id, File: f.ctx.file, Active: active == true, JSON: json.RawMessage(res.JSON)}, true
}

// loadDocuments reads a documents step's directory: every file is an
// object or an array of objects, each with the key field, whose values are
// unique in the step.
func (l *loader) loadDocuments(src *source, raw, key string, r ref) (string, []DocumentItem) {
	dir, files := l.readJSONDir(src, raw, r)
	d := &docsLoad{l: l, src: src, key: key, seen: map[string]int{}}
	for _, f := range files {
		d.f = f
		keys := &docKeys{at: map[string]int64{}, topDollar: true}
		err := jsbson.ParseEach(f.data, l.parseOpts(src, f, l.limits.MaxDepth, keys),
			func(i int, off int64, res jsbson.Result) error {
				d.element(i, off, res, keys)
				clear(keys.at)
				keys.dollar = keys.dollar[:0]
				return nil
			})
		if err != nil {
			f.parseErr(err)
		}
	}
	return dir, d.items
}

// docsLoad is the state of loadDocuments.
type docsLoad struct {
	l     *loader
	src   *source
	key   string
	f     *jsonFile
	seen  map[string]int // canonical key -> index in items
	items []DocumentItem
	full  bool // over the documents limit
}

// element checks one document of a file: element i of its array, or the
// file's value when i is -1.
func (d *docsLoad) element(i int, off int64, res jsbson.Result, keys *docKeys) {
	f := d.f
	elem := ""
	if i >= 0 {
		elem = index("", i)
	}
	d.l.omitted(d.src, res.Omitted)
	obj, ok := res.Value.(bson.D)
	switch {
	case d.full:
		return
	case !ok && i < 0:
		f.at(off, "", "is %s; want an object or an array of objects", jsbson.Kind(res.Value))
		return
	case !ok:
		f.at(off, elem, "is %s; want an object", jsbson.Kind(res.Value))
		return
	case f.refuseTopDollar(keys):
		return
	}
	kv, has := lookup(obj, d.key)
	at := off
	if has {
		at = keys.at[d.key]
	}
	if msg := checkKeyValue(kv, has); msg != "" {
		f.at(at, joinField(elem, d.key), "%s", msg)
		return
	}
	if idv, has := lookup(obj, "_id"); has && d.key != "_id" {
		if _, isArr := idv.(bson.A); isArr {
			f.at(keys.at["_id"], joinField(elem, "_id"), "is an array; MongoDB refuses an array as _id")
			return
		}
	}
	canon, _ := jsbson.Stringify(kv)
	if prev, dup := d.seen[string(canon)]; dup {
		it := d.items[prev]
		where := it.File
		if it.InArray {
			where += index("", it.Index)
		}
		f.at(at, joinField(elem, d.key), "duplicate %s %s (also in %s)", d.key, canon, where)
		return
	}
	if !f.checkSize(obj, 0, off, elem) {
		return
	}
	line, col := f.lineCol(off)
	if !d.l.countItem(d.src, f.ctx, line, col, elem) {
		d.full = true
		return
	}
	d.seen[string(canon)] = len(d.items)
	d.items = append(d.items, DocumentItem{File: f.ctx.file, Index: max(i, 0), InArray: i >= 0, Key: keyValue(kv), JSON: json.RawMessage(res.JSON)})
}

// keyValue returns a key value as encoding/json decodes it into an any
// (string, float64, bool or map[string]any), the type DocumentItem.Key has
// always had.
func keyValue(v any) any {
	switch t := v.(type) {
	case string, float64, bool:
		return t
	case int32:
		return float64(t)
	}
	text, err := jsbson.Stringify(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(text, &out) != nil {
		return nil
	}
	return out
}

// lookup returns the value of key in d.
func lookup(d bson.D, key string) (any, bool) {
	for _, e := range d {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// asDoc returns v as a document, or nil.
func asDoc(v any) bson.D {
	d, _ := v.(bson.D)
	return d
}

// checkKeyValue returns why v cannot be the key value of a document, or "".
func checkKeyValue(v any, has bool) string {
	switch v.(type) {
	case string, int32, float64, bool, bson.D:
		return ""
	}
	if !has || v == nil {
		return "missing; every document needs its key field"
	}
	return "is " + jsbson.Kind(v) + "; want a string, number, boolean or object"
}

// skipSep returns the offset of the first byte at or after off that is not
// white space or a separator.
func skipSep(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	return off
}
