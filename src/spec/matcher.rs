//! The path matcher: request paths to operations, from the document's path templates.

use std::borrow::Cow;

use super::Method;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal the request's segment.
    Literal(String),
    /// Captures the request's (percent-decoded) segment under this name.
    Param(String),
}

/// A compiled path template such as `/integrations/{provider}/sync`.
#[derive(Debug, Clone)]
pub struct PathTemplate {
    /// The template as written in the document, for messages and reports.
    pub template: String,
    segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parses a template; `{name}` segments are parameters.
    pub fn parse(template: &str) -> Self {
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param(name.to_owned()),
                    None => Segment::Literal(s.to_owned()),
                },
            )
            .collect();
        Self {
            template: template.to_owned(),
            segments,
        }
    }

    /// The names of the template's parameters, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(n) => Some(n.as_str()),
            Segment::Literal(_) => None,
        })
    }

    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }
}

/// A segment percent-decoded: borrowed unless it held an escape.
fn decode(raw: &str) -> Cow<'_, str> {
    if raw.contains('%') {
        percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
    } else {
        Cow::Borrowed(raw)
    }
}

/// What a request path and method resolve to.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// An operation (its index in the contract) and the decoded path parameters.
    Found {
        /// Index into [`super::Contract::operations`].
        operation: usize,
        /// Path parameters by name, percent-decoded.
        params: Vec<(String, String)>,
    },
    /// The path exists with other methods (for `405` and `Allow`).
    MethodNotAllowed {
        /// The methods the path has.
        allow: Vec<Method>,
    },
    /// No template matches the path (or it is outside the base path).
    NotFound,
}

/// One segment of a route in [`PathMatcher`]'s table: a range of its `text`, the
/// literal to match or the parameter's name.
#[derive(Debug, Clone, Copy)]
enum Flat {
    Literal { start: u32, end: u32 },
    Param { start: u32, end: u32 },
}

/// One route of [`PathMatcher`]'s table.
#[derive(Debug, Clone, Copy)]
struct Route {
    /// Its segments: `segments[first..first + len]`.
    first: u32,
    len: u32,
    /// Literal segments (routes are tried most-literal first).
    literals: u32,
    /// Which template (routes of one template share it: a path's other methods).
    template: u32,
    method: Method,
    operation: usize,
}

/// Path templates of every operation, tried most-literal first so `/a/b` beats `/a/{x}`.
/// The routes, their segments and their text each live in one contiguous table, so a
/// request reads a few cache lines instead of chasing a heap block per template and per
/// segment (the matcher was the request path's largest source of level-1 data misses,
/// docs/performance.md); a route's segments are read only when its length matches.
#[derive(Debug, Clone, Default)]
pub struct PathMatcher {
    /// The server URL's path (`/v2`), stripped before matching; empty for none.
    base_path: String,
    /// Sorted by literal segment count, descending (stable: the order added otherwise).
    routes: Vec<Route>,
    segments: Vec<Flat>,
    /// Every literal and parameter name, one after the other.
    text: String,
    /// The templates as written, by index.
    templates: Vec<String>,
}

/// A table index; a contract's table is a few kilobytes, far below `u32::MAX`.
fn index(n: usize) -> u32 {
    u32::try_from(n).expect("a path table under 4 GiB")
}

impl PathMatcher {
    /// A matcher for paths under `base_path`.
    pub fn new(base_path: &str) -> Self {
        Self {
            base_path: base_path.trim_end_matches('/').to_owned(),
            ..Self::default()
        }
    }

    /// Adds an operation's route.
    pub fn add(&mut self, template: &str, method: Method, operation: usize) {
        let parsed = PathTemplate::parse(template);
        let template = match self.templates.iter().position(|t| *t == parsed.template) {
            Some(i) => i,
            None => {
                self.templates.push(parsed.template.clone());
                self.templates.len() - 1
            }
        };
        let first = index(self.segments.len());
        for segment in &parsed.segments {
            let (Segment::Literal(t) | Segment::Param(t)) = segment;
            let start = index(self.text.len());
            self.text.push_str(t);
            let end = index(self.text.len());
            self.segments.push(match segment {
                Segment::Literal(_) => Flat::Literal { start, end },
                Segment::Param(_) => Flat::Param { start, end },
            });
        }
        self.routes.push(Route {
            first,
            len: index(parsed.segments.len()),
            literals: index(parsed.literal_count()),
            template: index(template),
            method,
            operation,
        });
        self.routes.sort_by_key(|r| std::cmp::Reverse(r.literals));
    }

    fn text(&self, start: u32, end: u32) -> &str {
        &self.text[start as usize..end as usize]
    }

    /// The route's parameters if it matches the request's segments (percent-decoded
    /// once by the caller).
    fn matches(&self, route: &Route, decoded: &[Cow<'_, str>]) -> Option<Vec<(String, String)>> {
        if route.len as usize != decoded.len() {
            return None;
        }
        let segments = &self.segments[route.first as usize..(route.first + route.len) as usize];
        let literal_differs = segments.iter().zip(decoded).any(|(s, d)| match *s {
            Flat::Literal { start, end } => self.text(start, end) != d,
            Flat::Param { .. } => false,
        });
        if literal_differs {
            return None;
        }
        Some(
            segments
                .iter()
                .zip(decoded)
                .filter_map(|(s, d)| match *s {
                    Flat::Param { start, end } => {
                        Some((self.text(start, end).to_owned(), d.clone().into_owned()))
                    }
                    Flat::Literal { .. } => None,
                })
                .collect(),
        )
    }

    /// Resolves a request path (without query string) and method.
    pub fn resolve(&self, method: Method, path: &str) -> RouteMatch {
        let Some(rest) = path.strip_prefix(self.base_path.as_str()) else {
            return RouteMatch::NotFound;
        };
        let Some(rest) = rest.strip_prefix('/') else {
            return RouteMatch::NotFound;
        };
        // Decoded once here, not once per template tried: most segments hold no
        // escape and stay borrowed.
        let decoded: Vec<Cow<'_, str>> = rest.split('/').map(decode).collect();
        let mut allow: Vec<Method> = Vec::new();
        let mut matched_template: Option<u32> = None;
        for route in &self.routes {
            if matched_template.is_some_and(|t| t != route.template) {
                continue;
            }
            if let Some(params) = self.matches(route, &decoded) {
                if route.method == method {
                    return RouteMatch::Found {
                        operation: route.operation,
                        params,
                    };
                }
                matched_template = Some(route.template);
                allow.push(route.method);
            }
        }
        if allow.is_empty() {
            RouteMatch::NotFound
        } else {
            allow.sort();
            RouteMatch::MethodNotAllowed { allow }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matcher() -> PathMatcher {
        let mut m = PathMatcher::new("/v2");
        m.add("/integrations", Method::Get, 0);
        m.add("/integrations/{provider}", Method::Get, 1);
        m.add("/integrations/{provider}/sync-toggle", Method::Put, 2);
        m.add("/integrations/special", Method::Get, 3);
        m
    }

    #[test]
    fn resolves_a_templated_path_and_decodes_params() {
        assert_eq!(
            matcher().resolve(Method::Put, "/v2/integrations/wodify/sync-toggle"),
            RouteMatch::Found {
                operation: 2,
                params: vec![("provider".into(), "wodify".into())]
            }
        );
        assert_eq!(
            matcher().resolve(Method::Get, "/v2/integrations/a%2Fb"),
            RouteMatch::Found {
                operation: 1,
                params: vec![("provider".into(), "a/b".into())]
            }
        );
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        assert!(matches!(
            matcher().resolve(Method::Get, "/v2/integrations/special"),
            RouteMatch::Found { operation: 3, .. }
        ));
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        assert_eq!(
            matcher().resolve(Method::Post, "/v2/integrations/wodify/sync-toggle"),
            RouteMatch::MethodNotAllowed {
                allow: vec![Method::Put]
            }
        );
    }

    #[test]
    fn paths_outside_the_base_are_not_found() {
        for p in [
            "/integrations",
            "/v2",
            "/v2x/integrations",
            "",
            "/v2/integrations/x/y/z",
        ] {
            assert_eq!(
                matcher().resolve(Method::Get, p),
                RouteMatch::NotFound,
                "{p}"
            );
        }
    }

    proptest! {
        /// Any path, however odd (empty segments, escapes, invalid UTF-8 escapes, great
        /// length), resolves to some answer without panicking.
        #[test]
        fn never_panics_on_odd_paths(path in "(/|[a-z]{0,12}|%2F|%ff|%|\\{|\\}|\\.\\.|v2|integrations){0,300}") {
            let _ = matcher().resolve(Method::Get, &path);
        }
    }
}
