//! The runner's HTTP client: one target, a client-side rate limit, a per-request
//! time-out, a cap on what it reads of an answer, and a record of every exchange that
//! can be replayed as `curl`. A target that answers an endless or huge body, or
//! endless headers, costs the runner at most the cap (it sends no `Accept-Encoding`,
//! so nothing is decompressed: a compressed bomb is only its compressed bytes).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// The deployment under test: scheme, authority and base path of `--target`.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port`.
    pub origin: String,
    /// `/v2`.
    pub base_path: String,
    /// Whether the host is loopback (no rate limit by default).
    pub loopback: bool,
}

impl Target {
    /// Parses `--target` (`http://` or `https://`).
    pub fn parse(url: &str) -> Result<Target, String> {
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(s, _)| *s == "http" || *s == "https")
            .ok_or_else(|| format!("{url} is not an http:// or https:// URL"))?;
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if authority.is_empty() {
            return Err(format!("{url} has no host"));
        }
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
        Ok(Target {
            origin: format!("{scheme}://{authority}"),
            base_path: format!("/{}", path.trim_end_matches('/'))
                .trim_end_matches('/')
                .to_owned(),
            loopback,
        })
    }
}

/// One request as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The path under the base path, with the query (`/integrations?limit=5`).
    pub path: String,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

impl Request {
    /// A request with the key and, for a body, the JSON content type.
    pub fn new(method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Self {
        let mut headers = Vec::new();
        if let Some(k) = key {
            headers.push(("x-api-key".to_owned(), k.to_owned()));
        }
        if body.is_some() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
            body: body.map(|b| b.to_string()),
        }
    }

    /// Sets a header (replacing one of the same name).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The request as a `curl` command line (the key shown as `$REVKEEN_API_KEY`).
    pub fn curl(&self, target: &Target, key: &str) -> String {
        let mut out = format!(
            "curl -i -X {} '{}{}{}'",
            self.method, target.origin, target.base_path, self.path
        );
        for (k, v) in &self.headers {
            let v = if !key.is_empty() && v == key {
                "$REVKEEN_API_KEY".to_owned()
            } else {
                v.replace('\'', "'\\''")
            };
            out.push_str(&format!(" -H \"{k}: {v}\""));
        }
        if let Some(b) = &self.body {
            out.push_str(&format!(" --data '{}'", b.replace('\'', "'\\''")));
        }
        out
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, if it was JSON.
    pub json: Option<Value>,
    /// The raw body.
    pub body: Bytes,
    /// How long it took.
    pub elapsed: Duration,
}

impl Response {
    /// Whether the provider refused the credentials (`400 credentials_rejected`): the
    /// documented answer of a real provider to made-up credentials, which leaves the
    /// integration as it was.
    pub fn credentials_rejected(&self) -> bool {
        self.status == 400
            && self.json.as_ref().and_then(|j| j.pointer("/error/code"))
                == Some(&Value::from("credentials_rejected"))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made (nothing listens there, or the name does not resolve).
    Unreachable(String),
    /// The connection failed or was dropped.
    Connection(String),
    /// No answer within the time-out.
    Timeout(Duration),
    /// The answer (headers or body) was larger than `--max-response-size`; what came
    /// after the cap was not read.
    TooLarge(usize),
    /// Not sent: the run's budget (`--max-time`, `--max-failures`) is spent.
    Stopped,
}

/// The client.
pub struct Client {
    target: Target,
    /// HTTP or HTTPS (rustls with the Mozilla root certificates, no system store needed).
    hyper: Hyper<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: tokio::runtime::Runtime,
    timeout: Duration,
    /// The most bytes of an answer's body read (`--max-response-size`).
    max_body: usize,
    /// Minimum gap between requests (the client-side rate limit).
    gap: Option<Duration>,
    last: Option<Instant>,
    /// Requests sent.
    pub sent: u64,
}

impl Client {
    /// A client for `target`; `rate` is requests per second (`None`: unlimited);
    /// `max_response` bytes at most are read of an answer's head and of its body.
    pub fn new(
        target: Target,
        timeout: Duration,
        rate: Option<f64>,
        max_response: usize,
    ) -> Result<Client, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        // hyper's read buffer bounds the head (status line and headers); its floor is
        // 8 KiB.
        let hyper = Hyper::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(10))
            .http1_max_buf_size(max_response.max(8192))
            .build(connector);
        Ok(Client {
            target,
            hyper,
            runtime,
            timeout,
            max_body: max_response,
            gap: rate
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            last: None,
            sent: 0,
        })
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends a request to the target (never anywhere else), waiting at most the
    /// client's time-out or `budget`, whichever is shorter.
    pub fn send(&mut self, req: &Request, budget: Duration) -> Result<Response, Failure> {
        let uri = format!(
            "{}{}{}",
            self.target.origin, self.target.base_path, req.path
        );
        self.exchange(uri, req, budget)
    }

    /// Sends a request to a path at the target's origin, outside the API's base path
    /// (`/__mock/health`, to learn whether the target is this mock).
    pub fn send_at_origin(&mut self, req: &Request, budget: Duration) -> Result<Response, Failure> {
        let uri = format!("{}{}", self.target.origin, req.path);
        self.exchange(uri, req, budget)
    }

    fn exchange(
        &mut self,
        uri: String,
        req: &Request,
        budget: Duration,
    ) -> Result<Response, Failure> {
        if let (Some(gap), Some(last)) = (self.gap, self.last) {
            let since = last.elapsed();
            if since < gap {
                std::thread::sleep(gap - since);
            }
        }
        self.last = Some(Instant::now());
        self.sent += 1;
        let mut builder = hyper::Request::builder()
            .method(req.method.as_str())
            .uri(&uri);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let body = Full::new(Bytes::from(req.body.clone().unwrap_or_default()));
        let request = builder
            .body(body)
            .map_err(|e| Failure::Connection(format!("cannot build the request: {e}")))?;
        let started = Instant::now();
        let timeout = self.timeout.min(budget);
        let hyper = self.hyper.clone();
        let max_body = self.max_body;
        self.runtime.block_on(async move {
            let exchange = async {
                let resp = hyper.request(request).await.map_err(|e| {
                    if e.is_connect() {
                        Failure::Unreachable(format!("{e:?}"))
                    } else if is_head_too_large(&e) {
                        Failure::TooLarge(max_body.max(8192))
                    } else {
                        Failure::Connection(format!("{e:?}"))
                    }
                })?;
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect();
                let body = Limited::new(resp.into_body(), max_body)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.downcast_ref::<http_body_util::LengthLimitError>()
                            .is_some()
                        {
                            Failure::TooLarge(max_body)
                        } else {
                            Failure::Connection(format!("the body was cut off: {e}"))
                        }
                    })?
                    .to_bytes();
                Ok::<_, Failure>((status, headers, body))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Err(_) => Err(Failure::Timeout(timeout)),
                Ok(Err(e)) => Err(e),
                Ok(Ok((status, headers, body))) => Ok(Response {
                    status,
                    json: serde_json::from_slice(&body).ok(),
                    headers,
                    body,
                    elapsed: started.elapsed(),
                }),
            }
        })
    }
}

/// Whether hyper gave up on an answer's head because it outgrew the read buffer.
fn is_head_too_large(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_parse_too_large();
        }
        source = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_into_origin_and_base_path() {
        let t = Target::parse("http://127.0.0.1:4010/v2/").unwrap();
        assert_eq!(
            (t.origin.as_str(), t.base_path.as_str(), t.loopback),
            ("http://127.0.0.1:4010", "/v2", true)
        );
        let t = Target::parse("https://staging-api.revkeen.com/v2").unwrap();
        assert_eq!(
            (t.origin.as_str(), t.base_path.as_str(), t.loopback),
            ("https://staging-api.revkeen.com", "/v2", false)
        );
        assert!(
            Target::parse("ftp://example.com")
                .unwrap_err()
                .contains("https://")
        );
    }

    #[test]
    fn curl_repros_hide_the_key() {
        let t = Target::parse("http://127.0.0.1:4010/v2").unwrap();
        let r = Request::new(
            "PUT",
            "/integrations/wodify/sync-toggle",
            Some("rk_sandbox_x"),
            Some(serde_json::json!({"enabled": true})),
        );
        let c = r.curl(&t, "rk_sandbox_x");
        assert!(
            c.contains("$REVKEEN_API_KEY")
                && !c.contains("rk_sandbox_x")
                && c.contains("--data '{\"enabled\":true}'"),
            "{c}"
        );
    }
}
