package app

//go:generate go tool oapi-codegen -config oapi-codegen.yaml -o api.gen.go ../embedded/openapi.yaml
