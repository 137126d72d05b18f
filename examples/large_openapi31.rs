//! Prints the large generated OpenAPI 3.1 document the tests use (300 operations with
//! the 2020-12 features), for `scripts/bench`'s start-up figure:
//! `cargo run --release --example large_openapi31 > large.json`.

#[path = "../tests/it/common/large31.rs"]
mod large31;

fn main() {
    let doc = large31::large_document(100);
    println!("{}", serde_json::to_string_pretty(&doc).expect("JSON"));
}
