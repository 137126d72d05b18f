//! `revkeen-mock health`: a probe for orchestrators and container health checks, which
//! may have no shell and no curl. The mock is healthy when it answers HTTP at all
//! (`GET /__mock/health`; with the admin API off or behind a token the answer is a 404
//! or 401 in the envelope, which still shows the server is up and serving).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::HealthArgs;

/// The status line the mock answered with, or why it did not answer.
pub fn run_health(args: &HealthArgs) -> Result<String, String> {
    let authority = args
        .url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{}: the probe speaks http:// only", args.url))?
        .split('/')
        .next()
        .unwrap_or("");
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, args.timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let timeout = Some(args.timeout.max(Duration::from_millis(1)));
    stream
        .set_read_timeout(timeout)
        .and_then(|()| stream.set_write_timeout(timeout))
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET /__mock/health HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .map_err(|e| format!("no answer from {addr} within {:?}: {e}", args.timeout))?;
    let text = String::from_utf8_lossy(&head[..n]);
    let line = text.lines().next().unwrap_or("");
    if line.starts_with("HTTP/1.1 ") {
        Ok(line.to_owned())
    } else {
        Err(format!("{addr} did not answer HTTP ({line:?})"))
    }
}
