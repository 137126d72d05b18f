//! Embeds the default contracts pre-parsed: each YAML document in `specs/` that the
//! binary carries is converted to JSON here, once per build, because reading JSON at
//! start-up costs a tenth of parsing YAML (docs/performance.md). The conversion is the
//! loader's own (`src/spec/yaml.rs`), so the JSON is what loading the YAML would give;
//! a test checks that. A document that does not parse is written as an empty file
//! with a warning, and the binary then parses the YAML at run time and reports the
//! error with its line, as for any file.

use std::path::Path;

#[path = "src/spec/yaml.rs"]
mod yaml;

const EMBEDDED: [(&str, &str); 3] = [
    (
        "specs/revkeen-integrations.yaml",
        "revkeen-integrations.json",
    ),
    ("specs/admin.yaml", "admin.json"),
    ("specs/self-service.yaml", "self-service.json"),
];

fn main() {
    println!("cargo::rerun-if-changed=src/spec/yaml.rs");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for (source, target) in EMBEDDED {
        println!("cargo::rerun-if-changed={source}");
        let json = match convert(source) {
            Ok(json) => json,
            Err(why) => {
                println!("cargo::warning={source} is parsed at run time: {why}");
                String::new()
            }
        };
        std::fs::write(Path::new(&out_dir).join(target), json).expect("OUT_DIR is writable");
    }
}

fn convert(source: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(source).map_err(|e| e.to_string())?;
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| e.to_string())?;
    let json = yaml::to_json(value)?;
    serde_json::to_string(&json).map_err(|e| e.to_string())
}
