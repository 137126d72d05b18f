//! Embeds the default contracts pre-parsed: each YAML document in `specs/` that the
//! binary carries is converted to JSON here, once per build, because reading JSON at
//! start-up costs a tenth of parsing YAML (docs/performance.md). The conversion is the
//! loader's own (`src/spec/yaml.rs`), so the JSON is what loading the YAML would give;
//! a test checks that. A document that does not parse is written as an empty file
//! with a warning, and the binary then parses the YAML at run time and reports the
//! error with its line, as for any file.
//!
//! It also gives the binary's link the order of its functions (`link/symbol-order.txt`,
//! written by `scripts/symbol-order`): the functions a served session runs laid out
//! together, so an idle server's code occupies a few megabytes of pages instead of most
//! of its 15 MB of code (docs/performance.md, "The binary's pages").

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

/// The functions' order, one symbol a line (names of the release and the dist builds).
const SYMBOL_ORDER: &str = "link/symbol-order.txt";

fn main() {
    order_functions();
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

/// Passes the symbol order to the binary's link where the linker is the toolchain's lld
/// (the default on x86_64 Linux with glibc since Rust 1.90; lld reads the file, GNU ld
/// would refuse the flag): not on other targets, not when the build names its own
/// linker, and not with `REVKEEN_SYMBOL_ORDER=0`. A symbol the build does not have is
/// skipped (a name from the other profile, or one a change renamed): the order only
/// moves code, so a stale file costs memory, never correctness.
fn order_functions() {
    println!("cargo::rerun-if-changed={SYMBOL_ORDER}");
    println!("cargo::rerun-if-env-changed=REVKEEN_SYMBOL_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let own_linker = std::env::var_os("RUSTC_LINKER").is_some()
        || ["linker", "fuse-ld"]
            .iter()
            .any(|flag| var("CARGO_ENCODED_RUSTFLAGS").contains(flag));
    if var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("REVKEEN_SYMBOL_ORDER") == "0"
        || own_linker
        || !rustc_links_with_lld()
    {
        return;
    }
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join(SYMBOL_ORDER);
    if file.is_file() {
        for flag in [
            format!("-Wl,--symbol-ordering-file={}", file.display()),
            "-Wl,--no-warn-symbol-ordering".to_owned(),
        ] {
            println!("cargo::rustc-link-arg-bin=revkeen-mock={flag}");
        }
    }
}

/// Whether the compiler is 1.90 or later, whose default linker here is its own lld.
fn rustc_links_with_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(out) = std::process::Command::new(rustc).arg("-V").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let mut numbers = version
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}

fn convert(source: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(source).map_err(|e| e.to_string())?;
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| e.to_string())?;
    let json = yaml::to_json(value)?;
    serde_json::to_string(&json).map_err(|e| e.to_string())
}
