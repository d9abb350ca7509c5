package app

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../embedded/openapi.yaml
