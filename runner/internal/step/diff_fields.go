package step

import (
	"bytes"
	"encoding/json"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/internal/redact"
)

// fieldsListed is how many changed fields a DocChange lists.
const fieldsListed = 20

// DocChange is one document that a re-apply would change: its name by the
// step's key and the fields that differ.
type DocChange struct {
	// Key names the document by the step's key: the value alone when the
	// key is _id (a config, pattern or user name), "field=value" for a
	// documents step keyed on another field ("code=ACME"), and
	// "field=value,..." of the matcher of a handler upsert or replace.
	Key    string        `json:"key"`
	Fields []FieldChange `json:"fields,omitempty"`
	More   int           `json:"more,omitempty"` // changed fields beyond those listed (at most 20)
	// Note says why a changed document lists no field: only the order of
	// its fields differs.
	Note string `json:"note,omitempty"`
}

// FieldChange is one field that differs between the stored document and
// the one a re-apply writes. Path is dotted (an array element by its
// index: "roles.1"); Old and New are the values in relaxed extended JSON,
// absent when the field is. A field whose name, or the name of a field
// that holds it, looks secret (redact.SecretName) shows "***" (Masked), and
// so does any such field inside a value shown.
type FieldChange struct {
	Path   string          `json:"path"`
	Old    json.RawMessage `json:"old,omitempty"`
	New    json.RawMessage `json:"new,omitempty"`
	Masked bool            `json:"masked,omitempty"`
}

// keyName names the document matched by k (a value of ds.Field, or a
// filter document when ds has no Field), as DocChange.Key says.
func (ds *DocSet) keyName(k bson.RawValue) string {
	switch {
	case ds.Field == "_id":
		return keyValue(k)
	case ds.Field != "":
		return ds.Field + "=" + keyValue(k)
	}
	elems, err := bson.Raw(k.Value).Elements()
	if k.Type != bson.TypeEmbeddedDocument || err != nil {
		return keyValue(k)
	}
	parts := make([]string, len(elems))
	for i, e := range elems {
		parts[i] = e.Key() + "=" + keyValue(e.Value())
	}
	return strings.Join(parts, ",")
}

// keyValue is a key's value as a person reads it: a string as is,
// anything else in relaxed extended JSON (7, {"$oid":"..."}).
func keyValue(v bson.RawValue) string {
	if s, ok := v.StringValueOK(); ok {
		return s
	}
	return string(shown(v, false))
}

// docChange compares the stored document old with new, the one a re-apply
// writes (both projected on the fields a comparison keeps), and returns the
// change named name.
func docChange(name string, old, new bson.Raw) DocChange {
	c := DocChange{Key: name}
	c.compare("", old, new, false)
	if len(c.Fields) == 0 && c.More == 0 {
		c.Note = "field order only"
	}
	return c
}

// compare adds the fields under prefix that differ between the documents
// (or arrays) old and new: new's fields in their order, then those only old
// has. masked: a field that holds these has a secret name.
func (c *DocChange) compare(prefix string, old, new bson.Raw, masked bool) {
	newElems, _ := new.Elements()
	for _, e := range newElems {
		ov, err := old.LookupErr(e.Key())
		if err != nil {
			c.add(prefix+e.Key(), nil, &bson.RawValue{Type: e.Value().Type, Value: e.Value().Value}, masked || redact.SecretName(e.Key()))
			continue
		}
		c.compareValue(prefix+e.Key(), ov, e.Value(), masked || redact.SecretName(e.Key()))
	}
	oldElems, _ := old.Elements()
	for _, e := range oldElems {
		if _, err := new.LookupErr(e.Key()); err != nil {
			v := e.Value()
			c.add(prefix+e.Key(), &v, nil, masked || redact.SecretName(e.Key()))
		}
	}
}

// compareValue adds the differences between two values of one field: of
// their fields when both are documents, of their elements when both are
// arrays, else the field itself when they differ.
func (c *DocChange) compareValue(path string, ov, nv bson.RawValue, masked bool) {
	if ov.Type == nv.Type && bytes.Equal(ov.Value, nv.Value) {
		return
	}
	if ov.Type == nv.Type && (nv.Type == bson.TypeEmbeddedDocument || nv.Type == bson.TypeArray) {
		c.compare(path+".", bson.Raw(ov.Value), bson.Raw(nv.Value), masked)
		return
	}
	c.add(path, &ov, &nv, masked)
}

// add lists one changed field, or counts it beyond fieldsListed.
func (c *DocChange) add(path string, ov, nv *bson.RawValue, masked bool) {
	if len(c.Fields) >= fieldsListed {
		c.More++
		return
	}
	fc := FieldChange{Path: path, Masked: masked}
	if ov != nil {
		fc.Old = shown(*ov, masked)
	}
	if nv != nil {
		fc.New = shown(*nv, masked)
	}
	c.Fields = append(c.Fields, fc)
}

// hiddenJSON is a masked value.
var hiddenJSON = json.RawMessage(`"` + redact.Hidden + `"`)

// shown is v in relaxed extended JSON, "***" when masked, with the values
// of secret-named fields inside it masked.
func shown(v bson.RawValue, masked bool) json.RawMessage {
	if masked {
		return hiddenJSON
	}
	b, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: maskInside(v)}}, false, false)
	var one struct{ V json.RawMessage } // {"v": <value>}: the value alone
	if err == nil {
		err = json.Unmarshal(b, &one)
	}
	if err != nil || len(one.V) == 0 {
		return json.RawMessage(`"(unprintable)"`)
	}
	return one.V
}

// maskInside returns v with the value of every field of a secret name,
// at any depth, replaced by "***".
func maskInside(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		elems, _ := bson.Raw(v.Value).Elements()
		d := make(bson.D, len(elems))
		for i, e := range elems {
			d[i] = bson.E{Key: e.Key(), Value: maskInside(e.Value())}
			if redact.SecretName(e.Key()) {
				d[i].Value = redact.Hidden
			}
		}
		return d
	case bson.TypeArray:
		vals, _ := bson.Raw(v.Value).Values()
		a := make(bson.A, len(vals))
		for i, e := range vals {
			a[i] = maskInside(e)
		}
		return a
	}
	return v
}
