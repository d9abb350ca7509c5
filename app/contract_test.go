package app_test

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/articlesd/articlesd/app"
)

// TestDocumentIsSupersetOfSeedContract checks that embedded/openapi.yaml still offers
// everything of the seed system's contract (testdata/seed-api-spec.yaml): each path,
// operation, parameter, response status, schema and schema field.
func TestDocumentIsSupersetOfSeedContract(t *testing.T) {
	seed, err := openapi3.NewLoader().LoadFromFile("testdata/seed-api-spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := app.LoadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, seedItem := range seed.Paths.Map() {
		item := ours.Paths.Value(path)
		if item == nil {
			t.Errorf("path %s is missing", path)
			continue
		}
		for method, seedOp := range seedItem.Operations() {
			op := item.GetOperation(method)
			if op == nil {
				t.Errorf("%s %s is missing", method, path)
				continue
			}
			if op.OperationID != seedOp.OperationID {
				t.Errorf("%s %s: operationId %q, seed has %q", method, path, op.OperationID, seedOp.OperationID)
			}
			for _, sp := range seedOp.Parameters {
				p := op.Parameters.GetByInAndName(sp.Value.In, sp.Value.Name)
				if p == nil {
					t.Errorf("%s %s: %s parameter %q is missing", method, path, sp.Value.In, sp.Value.Name)
					continue
				}
				if p.Required != sp.Value.Required {
					t.Errorf("%s %s: parameter %q required=%v, seed says %v", method, path, p.Name, p.Required, sp.Value.Required)
				}
				sameType(t, method+" "+path+" parameter "+p.Name, p.Schema.Value, sp.Value.Schema.Value)
				checked++
			}
			for status, seedResp := range seedOp.Responses.Map() {
				resp := op.Responses.Value(status)
				if resp == nil {
					t.Errorf("%s %s: response %s is missing", method, path, status)
					continue
				}
				for ct, media := range seedResp.Value.Content {
					m := resp.Value.Content.Get(ct)
					if m == nil {
						t.Errorf("%s %s %s: content %s is missing", method, path, status, ct)
						continue
					}
					sameShape(t, method+" "+path+" "+status, m.Schema.Value, media.Schema.Value)
				}
				checked++
			}
			if seedOp.RequestBody != nil {
				if op.RequestBody == nil {
					t.Errorf("%s %s: request body is missing", method, path)
					continue
				}
				for ct, media := range seedOp.RequestBody.Value.Content {
					m := op.RequestBody.Value.Content.Get(ct)
					if m == nil {
						t.Errorf("%s %s request: content %s is missing", method, path, ct)
						continue
					}
					sameShape(t, method+" "+path+" request", m.Schema.Value, media.Schema.Value)
				}
			}
		}
	}
	for name, s := range seed.Components.Schemas {
		ourSchema := ours.Components.Schemas[name]
		if ourSchema == nil {
			t.Errorf("schema %s is missing", name)
			continue
		}
		sameShape(t, "schema "+name, ourSchema.Value, s.Value)
	}
	if checked < 20 {
		t.Fatalf("only %d parameters and responses compared: the seed contract did not load as expected", checked)
	}
}

func sameType(t *testing.T, where string, ours, seed *openapi3.Schema) {
	t.Helper()
	if seed.Type != nil && (ours.Type == nil || !ours.Type.Is(seed.Type.Slice()[0])) {
		t.Errorf("%s: type %v, seed has %v", where, ours.Type, seed.Type)
	}
	if seed.Format != "" && ours.Format != seed.Format {
		t.Errorf("%s: format %q, seed has %q", where, ours.Format, seed.Format)
	}
}

// sameShape checks that ours has the seed schema's type and every one of its fields,
// with the same types, recursively.
func sameShape(t *testing.T, where string, ours, seed *openapi3.Schema) {
	t.Helper()
	sameType(t, where, ours, seed)
	for _, req := range seed.Required {
		found := false
		for _, r := range ours.Required {
			found = found || r == req
		}
		if !found {
			t.Errorf("%s: field %q is no longer required", where, req)
		}
	}
	for name, prop := range seed.Properties {
		p := ours.Properties[name]
		if p == nil {
			t.Errorf("%s: field %q is missing", where, name)
			continue
		}
		sameShape(t, where+"."+name, p.Value, prop.Value)
	}
	if seed.Items != nil {
		if ours.Items == nil {
			t.Errorf("%s: items are missing", where)
			return
		}
		sameShape(t, where+"[]", ours.Items.Value, seed.Items.Value)
	}
}
