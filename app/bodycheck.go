package app

import (
	"reflect"
	"regexp"
	"unicode/utf16"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"
)

// A bodyCheck tells, for a request body decoded by encoding/json into any, that it
// certainly matches its schema. It never explains: when it says no, the document's
// validator runs, and words every problem as it always has. So a body check only makes
// valid bodies cheaper (the schema walk of kin-openapi, with its second decode, was the
// largest piece of a create's own CPU), and cannot change an answer as long as it accepts
// nothing the validator refuses, which TestBodyCheckAgrees checks on the contract's and
// the hostile tests' bodies and thousands of mutations of them.
type bodyCheck func(v any) bool

// compileBodyCheck compiles the check of a schema once. It knows the keywords of the
// document's request bodies (object, string and array schemas: properties, required,
// additionalProperties: false, minProperties, lengths, patterns, item counts); a schema
// with any other keyword that constrains a value gets no check (ok false), and its bodies
// go to the validator alone.
func compileBodyCheck(ref *openapi3.SchemaRef) (bodyCheck, bool) {
	if ref == nil || ref.Value == nil {
		return nil, false
	}
	s := ref.Value
	if !onlyKnownKeywords(s) || s.Type == nil || len(*s.Type) != 1 {
		return nil, false
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		return compileString(s)
	case s.Type.Is(openapi3.TypeArray):
		return compileArray(s)
	case s.Type.Is(openapi3.TypeObject):
		return compileObject(s)
	}
	return nil, false
}

// onlyKnownKeywords reports whether the schema uses no keyword other than those the
// compilers below apply (and the annotations that constrain nothing): a copy with those
// cleared must be the empty schema.
func onlyKnownKeywords(s *openapi3.Schema) bool {
	c := *s
	c.Extensions, c.Origin = nil, nil
	c.Title, c.Description, c.Example, c.ExternalDocs, c.Deprecated = "", "", nil, nil, false
	c.Type = nil
	c.MinLength, c.MaxLength, c.Pattern = 0, nil, ""
	c.MinItems, c.MaxItems, c.Items = 0, nil, nil
	c.Properties, c.Required, c.MinProps, c.MaxProps = nil, nil, 0, nil
	if ap := s.AdditionalProperties; ap.Schema == nil && ap.Has != nil && !*ap.Has {
		c.AdditionalProperties = openapi3.AdditionalProperties{}
	}
	return reflect.DeepEqual(c, openapi3.Schema{})
}

func compileString(s *openapi3.Schema) (bodyCheck, bool) {
	var re *regexp.Regexp
	if s.Pattern != "" {
		var err error
		// As kin-openapi compiles a pattern: Go's regexp, \uXXXX rewritten.
		if re, err = regexp.Compile(goPattern(s.Pattern)); err != nil {
			return nil, false
		}
	}
	minLen, maxLen := int64(s.MinLength), int64(-1)
	if s.MaxLength != nil {
		maxLen = int64(*s.MaxLength)
	}
	return func(v any) bool {
		str, ok := v.(string)
		if !ok {
			return false
		}
		if minLen > 0 || maxLen >= 0 {
			// Lengths as kin-openapi counts them.
			var n int64
			for _, r := range str {
				if utf16.IsSurrogate(r) {
					n += 2
				} else {
					n++
				}
			}
			if n < minLen || (maxLen >= 0 && n > maxLen) {
				return false
			}
		}
		return re == nil || re.MatchString(str)
	}, true
}

func compileArray(s *openapi3.Schema) (bodyCheck, bool) {
	item := func(any) bool { return true }
	if s.Items != nil {
		c, ok := compileBodyCheck(s.Items)
		if !ok {
			return nil, false
		}
		item = c
	}
	minItems, maxItems := int(s.MinItems), -1
	if s.MaxItems != nil {
		maxItems = int(*s.MaxItems)
	}
	return func(v any) bool {
		a, ok := v.([]any)
		if !ok || len(a) < minItems || (maxItems >= 0 && len(a) > maxItems) {
			return false
		}
		for _, e := range a {
			if !item(e) {
				return false
			}
		}
		return true
	}, true
}

func compileObject(s *openapi3.Schema) (bodyCheck, bool) {
	props := make(map[string]bodyCheck, len(s.Properties))
	for name, ref := range s.Properties {
		c, ok := compileBodyCheck(ref)
		if !ok {
			return nil, false
		}
		props[name] = c
	}
	closed := s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
	required := s.Required
	minProps, maxProps := int(s.MinProps), -1
	if s.MaxProps != nil {
		maxProps = int(*s.MaxProps)
	}
	return func(v any) bool {
		m, ok := v.(map[string]any)
		if !ok || len(m) < minProps || (maxProps >= 0 && len(m) > maxProps) {
			return false
		}
		for _, name := range required {
			if _, ok := m[name]; !ok {
				return false
			}
		}
		for k, e := range m {
			c, known := props[k]
			if !known {
				if closed {
					return false
				}
				continue
			}
			if !c(e) {
				return false
			}
		}
		return true
	}, true
}

// compilePathChecks compiles the checks of an operation whose only input is its path:
// no request body, and parameters (its own and its path's) all in the path, each with a
// schema compileBodyCheck knows. When they pass, the document's validator could only
// agree (its authentication step is a no-op here: authenticate decides), and is skipped.
func compilePathChecks(route *routers.Route) ([]paramCheck, bool) {
	op := route.Operation
	if op.RequestBody != nil || (route.PathItem != nil && len(route.PathItem.Parameters) > 0) {
		return nil, false
	}
	var checks []paramCheck
	for _, ref := range op.Parameters {
		p := ref.Value
		if p == nil || p.In != openapi3.ParameterInPath || p.Content != nil {
			return nil, false
		}
		check, ok := compileBodyCheck(p.Schema)
		if !ok {
			return nil, false
		}
		checks = append(checks, paramCheck{name: p.Name, check: check})
	}
	return checks, true
}

// pathValid reports whether every path parameter of a request passes its check.
func pathValid(c *gin.Context, checks []paramCheck) bool {
	for _, pc := range checks {
		v, ok := c.Params.Get(pc.name)
		if !ok || !pc.check(v) {
			return false
		}
	}
	return true
}

// goPattern rewrites \uXXXX as Go's regexp writes it, as kin-openapi does.
func goPattern(p string) string {
	return codepointEscape.ReplaceAllString(p, `\x{${code}}`)
}

var codepointEscape = regexp.MustCompile(`(?P<replaced_with_slash_x>\\u)(?P<code>[0-9A-F]{4})`)
