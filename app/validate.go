package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"
)

// validator checks each request against the OpenAPI document before a handler sees it.
// Gin has already matched the route, so the document's operation is looked up in the
// route table rather than routed a second time.
type validator struct {
	routes       *Routes
	maxBodyBytes int64
	tracer       trace.Tracer
	// bodyChecks are the compiled checks of the operations' application/json bodies,
	// where the schema allows one (see bodyCheck).
	bodyChecks map[*openapi3.Operation]bodyCheck
	// pathChecks are, for the operations whose only input is their path (no body, no
	// query, header or cookie parameter), the compiled checks of each path parameter.
	pathChecks map[*openapi3.Operation][]paramCheck
}

// paramCheck is the compiled check of one path parameter.
type paramCheck struct {
	name  string
	check bodyCheck
}

func newValidator(routes *Routes, maxBodyBytes int64, tracer trace.Tracer) *validator {
	v := &validator{routes: routes, maxBodyBytes: maxBodyBytes, tracer: tracer,
		bodyChecks: map[*openapi3.Operation]bodyCheck{}, pathChecks: map[*openapi3.Operation][]paramCheck{}}
	for _, route := range routes.operations {
		if checks, ok := compilePathChecks(route); ok {
			v.pathChecks[route.Operation] = checks
		}
		rb := route.Operation.RequestBody
		if rb == nil || rb.Value == nil {
			continue
		}
		if mt := rb.Value.Content.Get("application/json"); mt != nil {
			if check, ok := compileBodyCheck(mt.Schema); ok {
				v.bodyChecks[route.Operation] = check
			}
		}
	}
	return v
}

func (v *validator) middleware(c *gin.Context) {
	route := v.routes.operation(c)
	if route == nil {
		c.Next()
		return
	}
	if p, bad := v.check(c, route); bad {
		writeProblem(c, p)
		return
	}
	c.Next()
}

// check reads and validates a request, in a "validate request" span.
func (v *validator) check(c *gin.Context, route *routers.Route) (Problem, bool) {
	ctx := c.Request.Context()
	if trace.SpanFromContext(ctx).IsRecording() {
		var span trace.Span
		ctx, span = v.tracer.Start(ctx, "validate request")
		defer span.End()
	}
	req := c.Request
	if p, bad := checkQuery(req.URL, route.Operation); bad {
		return p, true
	}
	if checks, ok := v.pathChecks[route.Operation]; ok && pathValid(c, checks) {
		return Problem{}, false
	}
	checked := false
	if route.Operation.RequestBody != nil {
		body, p, bad := v.readBody(c)
		if bad {
			return p, true
		}
		// A body its compiled check accepts is valid: the document's validator, which
		// would decode it again and walk its schema, skips it.
		if check := v.bodyChecks[route.Operation]; check != nil && body.mediaType == "application/json" && check(body.value) {
			checked = true
		}
	}
	pathParams := make(map[string]string, len(c.Params))
	for _, p := range c.Params {
		pathParams[p.Key] = p.Value
	}
	opts := &openapi3filter.Options{
		MultiError:         true,
		KeepValidatedValue: true,
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// The validator would write the defaults of absent parameters into the query
		// string: the handler would then parse a query other than the one checked here
		// (with 10,000 parameters, one past Go's limit, it read none of them and listed
		// every article). Handlers apply the defaults themselves.
		SkipSettingDefaults: true,
		ExcludeRequestBody:  checked,
	}
	opts.WithCustomSchemaErrorFunc(schemaMessage)
	err := openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request: req, PathParams: pathParams, Route: route, Options: opts,
	})
	if err != nil {
		trace.SpanFromContext(ctx).AddEvent("request rejected")
		return newProblem(http.StatusBadRequest, "the request does not match the API description", fieldErrors(err)...), true
	}
	return Problem{}, false
}

// maxQueryParams bounds the parameters of a query string: an operation has five at
// most, and each one more is parsing work for every reader of the query.
const maxQueryParams = 64

// checkQuery rejects query strings that cannot be read whole and alike by every reader of
// the query (this validator, kin-openapi's, the generated handler): more than
// maxQueryParams parameters, a parameter of the operation given twice, bad escapes, and
// text that is not valid UTF-8 or holds NUL once decoded (the document's parameters are
// all text).
func checkQuery(u *url.URL, op *openapi3.Operation) (Problem, bool) {
	if u.RawQuery == "" {
		return Problem{}, false
	}
	if n := strings.Count(u.RawQuery, "&") + 1; n > maxQueryParams {
		return newProblem(http.StatusBadRequest, fmt.Sprintf("the query string has %d parameters; at most %d are read", n, maxQueryParams)), true
	}
	values, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return newProblem(http.StatusBadRequest, "the query string is not valid: "+strings.TrimPrefix(err.Error(), "invalid URL escape ")), true
	}
	var repeated []FieldError
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == openapi3.ParameterInQuery && len(values[p.Value.Name]) > 1 {
			repeated = append(repeated, paramError(p.Value, "must be given once"))
		}
	}
	if len(repeated) > 0 {
		return newProblem(http.StatusBadRequest, "the request does not match the API description", repeated...), true
	}
	var invalid, nul []string
	for name, vs := range values {
		bad, hasNUL := !utf8.ValidString(name), strings.ContainsRune(name, 0)
		for _, s := range vs {
			bad = bad || !utf8.ValidString(s)
			hasNUL = hasNUL || strings.ContainsRune(s, 0)
		}
		quoted := strconv.Quote(strings.ToValidUTF8(name, "\uFFFD"))
		if bad {
			invalid = append(invalid, quoted)
		} else if hasNUL {
			nul = append(nul, quoted)
		}
	}
	fieldsOf := func(names []string, msg string) []FieldError {
		sort.Strings(names)
		fields := make([]FieldError, len(names))
		for i, n := range names {
			fields[i] = FieldError{Field: n[1 : len(n)-1], In: fieldIn(Query), Message: msg}
		}
		return fields
	}
	switch {
	case len(invalid) > 0:
		return newProblem(http.StatusBadRequest, "the query string is not valid UTF-8", fieldsOf(invalid, "must be valid UTF-8")...), true
	case len(nul) > 0:
		// PostgreSQL text cannot hold U+0000: refuse it on both databases alike.
		return newProblem(http.StatusBadRequest, "the query string contains a NUL character", fieldsOf(nul, "must not contain the NUL character")...), true
	}
	return Problem{}, false
}

// jsonBody is a request body as readBody read it: its media type and, when it is one
// JSON value, that value decoded (nil when it is not JSON: the validator words why).
type jsonBody struct {
	mediaType string
	value     any
}

// readBody reads the request body within the size limit, checks its media type and
// encoding, and leaves it readable again for the validator and the handler.
func (v *validator) readBody(c *gin.Context) (jsonBody, Problem, bool) {
	req := c.Request
	if req.Body == nil || req.Body == http.NoBody {
		return jsonBody{}, newProblem(http.StatusBadRequest, "a JSON request body is required"), true
	}
	tooBig := newProblem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", v.maxBodyBytes))
	if req.ContentLength > v.maxBodyBytes {
		// Declared too large: answer now rather than wait for a body we would refuse.
		return jsonBody{}, tooBig, true
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, req.Body, v.maxBodyBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return jsonBody{}, tooBig, true
		}
		return jsonBody{}, newProblem(http.StatusBadRequest, "the request body could not be read"), true
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	if len(bytes.TrimSpace(data)) == 0 {
		return jsonBody{}, newProblem(http.StatusBadRequest, "a JSON request body is required"), true
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return jsonBody{}, newProblem(http.StatusUnsupportedMediaType, "the request body must be application/json"), true
	}
	if !utf8.Valid(data) {
		return jsonBody{}, newProblem(http.StatusBadRequest, "the request body is not valid UTF-8"), true
	}
	value, p, bad := checkJSON(data)
	return jsonBody{mediaType: mt, value: value}, p, bad
}

// checkJSON rejects what the validator's decoder would let through: data after the
// first JSON value (it reads one value and stops) and NUL characters in strings (which
// PostgreSQL text cannot hold, so one database would refuse what the other stores). It
// returns the value decoded, or nil when the data is not JSON.
func checkJSON(data []byte) (any, Problem, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, Problem{}, false // the validator words the syntax error
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, newProblem(http.StatusBadRequest, "the request does not match the API description",
			bodyError("", "malformed JSON: data after the JSON value")), true
	}
	if path, found := findNUL(v, ""); found {
		return nil, newProblem(http.StatusBadRequest, "the request does not match the API description",
			bodyError(path, "must not contain the NUL character")), true
	}
	return v, Problem{}, false
}

// findNUL returns the dotted path of the first string (or key) holding U+0000.
func findNUL(v any, path string) (string, bool) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case string:
		return path, strings.ContainsRune(x, 0)
	case []any:
		for i, e := range x {
			if p, ok := findNUL(e, join(strconv.Itoa(i))); ok {
				return p, true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) {
				return join(strings.ReplaceAll(k, "\x00", "")), true
			}
			if p, ok := findNUL(e, join(k)); ok {
				return p, true
			}
		}
	}
	return "", false
}

// fieldErrors turns the validator's errors into one entry per offending field (the
// first problem found with it).
func fieldErrors(err error) []FieldError {
	var out []FieldError
	seen := map[string]bool{}
	add := func(f FieldError) {
		key := string(*f.In) + " " + f.Field
		if !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	var walk func(err error, param *openapi3.Parameter)
	walk = func(err error, param *openapi3.Parameter) {
		// Each layer is visited in turn (a RequestError wraps a MultiError wraps
		// SchemaErrors); errors.As would jump past the layer that names the field.
		switch e := err.(type) { //nolint:errorlint // see above
		case openapi3.MultiError:
			for _, inner := range e {
				walk(inner, param)
			}
		case *openapi3filter.RequestError:
			p := param
			if e.Parameter != nil {
				p = e.Parameter
			}
			switch {
			case p != nil && errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
				add(paramError(p, "is required"))
			case p == nil && (errors.Is(e.Err, openapi3filter.ErrInvalidRequired) || errors.Is(e.Err, openapi3filter.ErrInvalidEmptyValue)):
				add(bodyError("", "a JSON request body is required"))
			case e.Err != nil:
				walk(e.Err, p)
			case p != nil:
				add(paramError(p, e.Reason))
			default:
				add(bodyError("", e.Reason))
			}
		case *openapi3.SchemaError:
			if param != nil {
				add(paramError(param, schemaMessage(e)))
				return
			}
			path := e.JSONPointer()
			if isUnsupportedProperty(e) {
				// The pointer names the object; the reason names the property.
				if _, name, ok := strings.Cut(e.Reason, `"`); ok {
					if name, _, ok = strings.Cut(name, `"`); ok {
						path = append(path, name)
					}
				}
			}
			add(bodyError(strings.Join(path, "."), schemaMessage(e)))
		case *openapi3filter.ParseError:
			if param != nil {
				add(paramError(param, parseMessage(param)))
				return
			}
			add(bodyError("", "malformed JSON: "+e.Error()))
		default:
			if param != nil {
				add(paramError(param, err.Error()))
				return
			}
			add(bodyError("", err.Error()))
		}
	}
	walk(err, nil)
	return out
}

func bodyError(field, msg string) FieldError {
	return FieldError{Field: field, In: fieldIn(Body), Message: msg}
}

func paramError(p *openapi3.Parameter, msg string) FieldError {
	return FieldError{Field: p.Name, In: fieldIn(FieldErrorIn(p.In)), Message: msg}
}

// parseMessage says what a parameter should have looked like when it could not be read.
func parseMessage(p *openapi3.Parameter) string {
	if p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type.Is(openapi3.TypeInteger) {
		return "must be an integer"
	}
	return "has an invalid format"
}

// schemaMessage words a schema violation for a client. It never repeats the value.
func schemaMessage(e *openapi3.SchemaError) string {
	s := e.Schema
	switch e.SchemaField {
	case "pattern":
		if s != nil && s.Pattern == `\S` {
			return "must not be blank"
		}
		return "has an invalid format"
	case "format":
		if s != nil && s.Format == "date" {
			return "must be a date as YYYY-MM-DD"
		}
	case "minLength":
		if s != nil && s.MinLength == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters long", s.MinLength)
	case "maxLength":
		if s != nil && s.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters long", *s.MaxLength)
		}
	case "maxItems":
		if s != nil && s.MaxItems != nil {
			return fmt.Sprintf("must have at most %d items", *s.MaxItems)
		}
	case "minimum":
		if s != nil && s.Min != nil {
			return fmt.Sprintf("must be at least %s", strconv.FormatFloat(*s.Min, 'f', -1, 64))
		}
	case "maximum":
		if s != nil && s.Max != nil {
			return fmt.Sprintf("must be at most %s", strconv.FormatFloat(*s.Max, 'f', -1, 64))
		}
	case "type":
		if s != nil && s.Type != nil && len(*s.Type) > 0 {
			return "must be " + article((*s.Type)[0])
		}
	case "required":
		return "is required"
	case "nullable":
		return "must not be null"
	case "properties", "additionalProperties":
		if isUnsupportedProperty(e) {
			return "is not a field of this object"
		}
	case "minProperties":
		return "must name at least one field to change"
	}
	return e.Reason
}

// isUnsupportedProperty tells an additionalProperties: false violation, whose reason
// names the property, from other object errors.
func isUnsupportedProperty(e *openapi3.SchemaError) bool {
	return (e.SchemaField == "properties" || e.SchemaField == "additionalProperties") &&
		strings.HasSuffix(e.Reason, " is unsupported")
}

func article(typ string) string {
	switch typ {
	case "integer", "object", "array":
		return "an " + typ
	}
	return "a " + typ
}
