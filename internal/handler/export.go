package handler

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/dop251/goja"
)

// maxDepth bounds the nesting of an exported argument (and so catches
// cycles).
const maxDepth = 100

// exporter writes a JavaScript value as JSON, keeping the key order of
// objects, and refuses anything that is not literal data.
type exporter struct {
	vm      *goja.Runtime
	dropNow func(path string) bool // where new Date() is accepted and left out
	buf     bytes.Buffer
}

// export returns the JSON of v, or a message naming the field path (never
// a value) of what cannot be exported.
func (x *exporter) export(v goja.Value, path string) (json.RawMessage, string) {
	if msg := x.value(v, path, 0); msg != "" {
		return nil, msg
	}
	return json.RawMessage(bytes.Clone(x.buf.Bytes())), ""
}

func (x *exporter) value(v goja.Value, path string, depth int) string {
	if depth > maxDepth {
		return path + " is nested deeper than " + strconv.Itoa(maxDepth) + " levels (a cycle?)"
	}
	switch {
	case v == nil || goja.IsUndefined(v):
		return path + " is undefined; want literal data"
	case goja.IsNull(v):
		x.buf.WriteString("null")
		return ""
	}
	if o, ok := v.(*goja.Object); ok {
		return x.object(o, path, depth)
	}
	switch t := v.Export().(type) {
	case bool:
		x.buf.WriteString(strconv.FormatBool(t))
	case int64:
		x.buf.WriteString(strconv.FormatInt(t, 10))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return path + " is " + v.String() + ", which JSON cannot hold"
		}
		x.buf.WriteString(formatNumber(t))
	case string:
		x.str(t)
	default:
		return path + " is a " + v.ExportType().String() + "; want literal data"
	}
	return ""
}

// object writes an array or a plain object.
func (x *exporter) object(o *goja.Object, path string, depth int) string {
	if now := o.Get(nowMarker); now != nil && now.ToBoolean() {
		return path + " is new Date(): a profile's content must not depend on the clock (only a created or modified field is accepted, and dropped)"
	}
	switch o.ClassName() {
	case "Array":
		n := o.Get("length").ToInteger()
		x.buf.WriteByte('[')
		for i := range n {
			if i > 0 {
				x.buf.WriteByte(',')
			}
			if msg := x.value(o.Get(strconv.FormatInt(i, 10)), path+"["+strconv.FormatInt(i, 10)+"]", depth+1); msg != "" {
				return msg
			}
		}
		x.buf.WriteByte(']')
		return ""
	case "Object":
	case "Function":
		return path + " is a function; want literal data"
	default:
		return path + " is a " + o.ClassName() + " object; want literal data"
	}
	if p := o.Prototype(); p != nil && p != x.vm.Get("Object").ToObject(x.vm).Get("prototype") {
		return path + " is an instance of a class; want a plain object"
	}
	x.buf.WriteByte('{')
	first := true
	for _, k := range o.Keys() {
		v := o.Get(k)
		if vo, ok := v.(*goja.Object); ok && x.dropNow != nil && x.dropNow(path+"."+k) {
			if now := vo.Get(nowMarker); now != nil && now.ToBoolean() {
				continue
			}
		}
		if !first {
			x.buf.WriteByte(',')
		}
		first = false
		x.str(k)
		x.buf.WriteByte(':')
		if msg := x.value(v, path+"."+k, depth+1); msg != "" {
			return msg
		}
	}
	x.buf.WriteByte('}')
	return ""
}

// str writes s as a JSON string, without HTML escaping.
func (x *exporter) str(s string) {
	enc := json.NewEncoder(&x.buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)               // a string always encodes
	x.buf.Truncate(x.buf.Len() - 1) // the encoder's newline
}

// formatNumber writes a finite double the way JSON.stringify does, close
// enough for JSON.parse to give the same double back.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
