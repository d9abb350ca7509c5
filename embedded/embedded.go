// Package embedded owns every file the articlesd binary carries: the OpenAPI document
// (the single source of truth for the API) and the Swagger UI assets served at /ui/.
package embedded

import (
	"embed"
	"io/fs"
)

//go:embed openapi.yaml
var openAPI []byte

//go:embed swagger-ui
var swaggerUI embed.FS

// OpenAPI returns the OpenAPI 3 document, as YAML.
func OpenAPI() []byte { return openAPI }

// SwaggerUI returns the Swagger UI assets, index.html at the root.
func SwaggerUI() fs.FS {
	sub, err := fs.Sub(swaggerUI, "swagger-ui")
	if err != nil {
		// fs.Sub fails only on an invalid path; "swagger-ui" is a constant.
		panic(err)
	}
	return sub
}
