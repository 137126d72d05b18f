//! Errors of the spec layer: why a document could not be read, parsed or compiled.

use std::fmt;

/// Where a problem sits: the source's name and a JSON pointer into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file (or `<embedded>`) the document came from, so a message names it.
    pub source: String,
    /// An RFC 6901 pointer (`/paths/~1integrations/get`), empty for the whole document.
    pub pointer: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.source, self.pointer)
    }
}

/// A document that cannot be used at all. `check-spec` exits 2 on these.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path that was given.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The text is not YAML or JSON.
    #[error("{source_name}: not valid YAML or JSON{}: {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Syntax {
        /// The document's name.
        source_name: String,
        /// The line of the error when the parser knows it.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// The document is not OpenAPI 3.0.x or 3.1.x.
    #[error("{source_name}: {message}")]
    Version {
        /// The document's name.
        source_name: String,
        /// What was found and what is needed.
        message: String,
    },
    /// The document is YAML/JSON but not a valid OpenAPI 3.0 or 3.1 structure.
    #[error("{location}: {message}")]
    Structure {
        /// The offending place.
        location: Location,
        /// What is wrong there.
        message: String,
    },
    /// The document parsed but has problems that make it unusable for serving.
    #[error("{} has {} problem(s) that stop it from being served:\n{}", source_name, problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Unusable {
        /// The document's name.
        source_name: String,
        /// The blocking problems.
        problems: Vec<super::Problem>,
    },
}
