//! A large OpenAPI 3.1 document, generated: `resources` groups of three operations
//! each (list with a query parameter, create, read by id), every schema written with
//! the JSON Schema 2020-12 features a 3.1 document brings: type lists, `const`,
//! `examples`, `$ref` with siblings, `prefixItems`, `unevaluatedProperties`, `$defs`
//! (reached through a `$ref` into them), `$ref` chains, `webhooks` and a path item
//! under `components.pathItems`. Every example is valid, so `check-spec` finds no
//! problem. Shared by the tests (`tests/spec_31.rs`) and the benchmark
//! (`examples/large_openapi31.rs` prints it for `scripts/bench`).

use serde_json::{Map, Value, json};

/// The document with `resources` groups (3 operations each).
pub fn large_document(resources: usize) -> Value {
    let mut schemas = Map::new();
    schemas.insert("Id".into(), json!({"type": "string", "format": "uuid"}));
    schemas.insert(
        "Money".into(),
        json!({
            "type": "object",
            "required": ["amount", "currency"],
            "properties": {
                "amount": {"type": "integer", "minimum": 0, "exclusiveMaximum": 100000000},
                "currency": {"enum": ["GBP", "EUR", "USD"]}
            },
            "unevaluatedProperties": false
        }),
    );
    // A chain of three `$ref`s to a string.
    schemas.insert(
        "LabelA".into(),
        json!({"$ref": "#/components/schemas/LabelB"}),
    );
    schemas.insert(
        "LabelB".into(),
        json!({"$ref": "#/components/schemas/LabelC"}),
    );
    schemas.insert(
        "LabelC".into(),
        json!({"type": "string", "minLength": 1, "maxLength": 40, "examples": ["blue"]}),
    );
    schemas.insert(
        "Meta".into(),
        json!({
            "type": "object",
            "$defs": {
                "Inner": {
                    "type": "object",
                    "properties": {"key": {"type": "string"}, "weight": {"type": ["number", "null"]}},
                    "examples": [{"key": "colour", "weight": null}]
                }
            }
        }),
    );
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["type", "code", "message"],
                "properties": {
                    "type": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "request_id": {"type": "string"},
                    "details": {"type": "object"}
                }
            }}
        }),
    );
    let mut paths = Map::new();
    for i in 0..resources {
        let name = format!("Resource{i}");
        let kind = format!("resource_{i}");
        schemas.insert(
            name.clone(),
            json!({
                "type": "object",
                "required": ["id", "name", "kind"],
                "properties": {
                    "id": {"$ref": "#/components/schemas/Id", "description": "Assigned by the server."},
                    "name": {"type": "string", "minLength": 1, "maxLength": 60, "examples": [format!("thing {i}")]},
                    "note": {"type": ["string", "null"], "maxLength": 200},
                    "kind": {"const": kind},
                    "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer", "minimum": 0}], "items": false},
                    "price": {"$ref": "#/components/schemas/Money"},
                    "meta": {"$ref": "#/components/schemas/Meta/$defs/Inner"},
                    "label": {"$ref": "#/components/schemas/LabelA", "maxLength": 20}
                },
                "unevaluatedProperties": false
            }),
        );
        let example = json!({
            "id": format!("00000000-0000-4000-8000-{i:012}"),
            "name": format!("thing {i}"),
            "note": null,
            "kind": kind,
            "pair": ["size", i],
            "price": {"amount": 100 * i, "currency": "GBP"},
            "meta": {"key": "colour", "weight": 1.5},
            "label": "blue"
        });
        let one = json!({"$ref": format!("#/components/schemas/{name}")});
        let error = json!({
            "description": "Refused.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        });
        paths.insert(
            format!("/resources{i}"),
            json!({
                "get": {
                    "operationId": format!("list{name}"),
                    "parameters": [{
                        "name": "limit", "in": "query",
                        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 100, "default": 10}
                    }],
                    "responses": {
                        "200": {
                            "description": "A page.",
                            "content": {"application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["data"],
                                    "properties": {"data": {"type": "array", "items": one}, "next": {"type": ["string", "null"]}}
                                },
                                "example": {"data": [example], "next": null}
                            }}
                        },
                        "400": error
                    }
                },
                "post": {
                    "operationId": format!("create{name}"),
                    "requestBody": {
                        "required": true,
                        "content": {"application/json": {"schema": one, "example": example}}
                    },
                    "responses": {
                        "201": {
                            "description": "Created.",
                            "content": {"application/json": {"schema": one, "example": example}}
                        },
                        "400": error
                    }
                }
            }),
        );
        paths.insert(
            format!("/resources{i}/{{id}}"),
            json!({
                "get": {
                    "operationId": format!("get{name}"),
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"$ref": "#/components/schemas/Id"}}],
                    "responses": {
                        "200": {
                            "description": "The resource.",
                            "content": {"application/json": {"schema": one, "example": example}}
                        },
                        "404": error
                    }
                }
            }),
        );
    }
    let event = json!({
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Resource0"}}}},
        "responses": {"200": {"description": "Received."}}
    });
    let mut created = event.clone();
    created["operationId"] = json!("resourceCreated");
    let mut deleted = event;
    deleted["operationId"] = json!("resourceDeleted");
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "Large 3.1", "version": "1", "summary": "Generated.", "license": {"name": "MIT", "identifier": "MIT"}},
        "servers": [{"url": "https://api.example.com/v1"}],
        "paths": paths,
        "webhooks": {
            "resourceCreated": {"post": created},
            "resourceDeleted": {"$ref": "#/components/pathItems/Deleted"}
        },
        "components": {
            "schemas": schemas,
            "pathItems": {"Deleted": {"post": deleted}}
        }
    })
}
