package step

import (
	"encoding/json"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/profiles"
)

// TestDocumentsAreConvertedWhenWritten: a documents step's Writes holds
// each document's key and its JSON, not the converted document (apply
// converts a batch at a time); Document converts it as apply's JSON
// conversion does, and the model written is built from it.
func TestDocumentsAreConvertedWhenWritten(t *testing.T) {
	items := []profiles.DocumentItem{
		{File: "a.json", JSON: json.RawMessage(`{"_id": "a", "n": 1, "f": 1.5}`)},
		{File: "a.json", Index: 1, JSON: json.RawMessage(`{"_id": "b", "n": 2}`)},
	}
	s := profiles.Step{Kind: profiles.KindDocuments, Documents: &profiles.DocumentsStep{Collection: "C", Items: items}}
	w, err := documents{}.Writes(NewEnv(Env{DB: "db"}), s)
	if err != nil {
		t.Fatal(err)
	}
	ds := w.Docs[0]
	for i, d := range ds.Docs {
		if d.Doc != nil || string(d.Src) != string(items[i].JSON) {
			t.Fatalf("doc %d = %+v, want its JSON only, not converted", i, d)
		}
		got, err := d.Document()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if k := bson.Raw(raw).Lookup("_id").StringValue(); k != d.Key {
			t.Errorf("doc %d: converted _id %q, key %v", i, k, d.Key)
		}
		if _, isInt := bson.Raw(raw).Lookup("n").Int32OK(); !isInt {
			t.Errorf("doc %d: n = %v, want an int32 (JSON.parse's integer)", i, bson.Raw(raw).Lookup("n"))
		}
		m, err := ds.model(d)
		if err != nil || m == nil {
			t.Errorf("doc %d: model = %v, %v", i, m, err)
		}
	}
}
