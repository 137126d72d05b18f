//! CORS: what a browser app on another origin (a dev server on `localhost:5173`) needs
//! to call the mock with `x-api-key` and read its headers. The admin API grants only
//! the origins given with `--admin-origin` (none by default).

/// Headers a browser script may read from a response.
pub const EXPOSE_HEADERS: &str = "X-Request-Id, RevKeen-Version, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, Idempotency-Replayed, Allow";

/// Headers a browser may send.
pub const ALLOW_HEADERS: &str =
    "x-api-key, content-type, idempotency-key, revkeen-version, x-request-id, x-mock-run";

/// Methods the API uses.
pub const ALLOW_METHODS: &str = "GET, POST, PUT, OPTIONS";

/// Methods the admin API uses (granted only to `--admin-origin` origins).
pub const ADMIN_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";

/// Methods the self-service API uses (granted to any origin, as the API's are).
pub const SELF_SERVICE_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// How long a browser may cache a pre-flight answer, in seconds.
pub const MAX_AGE: &str = "600";

/// Headers for any response to a request that carried `Origin`: the origin is echoed
/// (not `*`), so the answer stays valid if a client ever sends credentials.
pub fn response_headers(origin: &str) -> [(&'static str, String); 3] {
    [
        ("access-control-allow-origin", origin.to_owned()),
        ("access-control-expose-headers", EXPOSE_HEADERS.to_owned()),
        ("vary", "Origin".to_owned()),
    ]
}

/// Headers of a pre-flight answer granting `methods`; `requested` is
/// `Access-Control-Request-Headers`.
pub fn preflight_headers(
    origin: &str,
    methods: &str,
    requested: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut headers = response_headers(origin).to_vec();
    headers.push(("access-control-allow-methods", methods.to_owned()));
    headers.push((
        "access-control-allow-headers",
        requested.unwrap_or(ALLOW_HEADERS).to_owned(),
    ));
    headers.push(("access-control-max-age", MAX_AGE.to_owned()));
    headers
}
