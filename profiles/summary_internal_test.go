package profiles

import (
	"reflect"
	"slices"
	"testing"
)

// TestStepParts: every kind-specific field of Step is a part that
// Step.part returns, under its own kind, and every kind has one.
func TestStepParts(t *testing.T) {
	var kinds []string
	st := reflect.TypeFor[Step]()
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
			continue
		}
		var s Step
		reflect.ValueOf(&s).Elem().Field(i).Set(reflect.New(f.Type.Elem()))
		kind, p := s.part()
		if p == nil {
			t.Errorf("Step.%s set: part() = nil; want its part", f.Name)
			continue
		}
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)
	want := slices.Sorted(slices.Values(stepKinds))
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds of the parts = %q, want each of %q once", kinds, want)
	}
}
