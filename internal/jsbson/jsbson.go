// Package jsbson converts profile JSON to the BSON values the Node.js MongoDB
// driver stores for JSON.parse of the same text, and back to
// JSON.stringify's form. Validation and apply share it, so what validates also
// converts.
package jsbson

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Value converts one JSON value to the BSON value that the Node.js
// MongoDB driver stores for the result of JSON.parse on the same text, so
// that documents written by bootstrap are byte-for-byte what the services
// read today:
//
//   - objects become bson.D, with JavaScript's own-property order: keys that
//     are array indices ("0", "1", "42") first in ascending numeric order,
//     then the other keys in the order they appear;
//   - arrays become bson.A, strings string, true/false bool, null nil;
//   - numbers are JavaScript doubles: an integral value within the int32
//     range (1, 1.0, 1e2) becomes int32, anything else (1.5, 2147483648,
//     1e300, -0) float64, the way the driver's BSON serializer writes them;
//     a number too large for a double becomes ±Inf, as in JavaScript.
//
// Keys starting with "$" are kept as they are: no extended-JSON
// interpretation. Value refuses, with an *Error, what MongoDB could not
// store or what JSON.parse would read differently from the text: malformed
// JSON, invalid UTF-8, a key repeated in an object (JSON.parse keeps the
// last value silently), a key containing a NUL byte (BSON cannot encode it)
// and nesting deeper than MaxDepth levels. It is Parse without options.
func Value(raw json.RawMessage) (any, error) {
	r, err := Parse(raw, nil)
	if err != nil {
		return nil, err
	}
	return r.Value, nil
}

// Doc is Value for a value that must be an object.
func Doc(raw json.RawMessage) (bson.D, error) {
	v, err := Value(raw)
	if err != nil {
		return nil, err
	}
	d, ok := v.(bson.D)
	if !ok {
		return nil, fmt.Errorf("json: top-level value is %s, not an object", Kind(v))
	}
	return d, nil
}

// jsNumber converts the text of a JSON number to the JavaScript number it
// parses to, typed as the Node.js BSON serializer writes it.
func jsNumber(s string) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("json: number %s: %w", s, err)
	}
	// On ErrRange, f is ±Inf, which is also what JavaScript yields.
	if f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 && !(f == 0 && math.Signbit(f)) {
		return int32(f), nil
	}
	return f, nil
}

// jsArrayIndex reports whether key is an array index in JavaScript's sense
// (the canonical decimal form of an integer from 0 to 2^32-2), which
// JavaScript orders before the other keys of an object.
func jsArrayIndex(key string) (uint32, bool) {
	if key == "" || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(key, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

// jsOrderKeys puts d in JavaScript's own-property order: array-index keys in
// ascending numeric order, then the other keys in insertion order.
func jsOrderKeys(d bson.D) {
	slices.SortStableFunc(d, func(a, b bson.E) int {
		ai, aok := jsArrayIndex(a.Key)
		bi, bok := jsArrayIndex(b.Key)
		switch {
		case aok && bok:
			return cmp.Compare(ai, bi)
		case aok:
			return -1
		case bok:
			return 1
		}
		return 0
	})
}

// Kind names the JSON type of a value as returned by Value: "an object",
// "an array", "a string", "a boolean", "null" or "a number".
func Kind(v any) string {
	switch v.(type) {
	case bson.D:
		return "an object"
	case bson.A:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

// Stringify returns the text JSON.stringify produces (no indentation) for
// a value as returned by Value: object keys in their order, numbers in
// JavaScript's shortest form (1, 1.5, 1e+21, 1e-7), non-finite numbers as
// null, and strings escaping only '"', '\' and control characters.
func Stringify(v any) ([]byte, error) {
	var b []byte
	return appendJS(b, v)
}

func appendJS(b []byte, v any) ([]byte, error) {
	var err error
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, t), nil
	case string:
		return appendJSString(b, t), nil
	case int32:
		return strconv.AppendInt(b, int64(t), 10), nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return append(b, "null"...), nil
		}
		return append(b, jsNumberString(t)...), nil
	case bson.A:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJS(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case bson.D:
		b = append(b, '{')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSString(b, e.Key)
			b = append(b, ':')
			if b, err = appendJS(b, e.Value); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("json: cannot stringify %T", v)
}

func appendJSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20:
			b = append(b, c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return append(b, '"')
}

// jsNumberString formats a finite float64 the way JavaScript's
// Number.prototype.toString does (ECMAScript Number::toString, radix 10).
func jsNumberString(f float64) string {
	if f == 0 {
		return "0" // also -0
	}
	if f < 0 {
		return "-" + jsNumberString(-f)
	}
	// Shortest round-trip digits, as in "d.ddde±x".
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1 // f = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		return digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return "0." + strings.Repeat("0", -n) + digits
	}
	exponent := "e+" + strconv.Itoa(n-1)
	if n-1 < 0 {
		exponent = "e-" + strconv.Itoa(1-n)
	}
	if k == 1 {
		return digits + exponent
	}
	return digits[:1] + "." + digits[1:] + exponent
}
