//! Start-up as a user meets it, for `scripts/bench` and `scripts/bench-against`: the time
//! from spawning a server to its first answer, polled from this process over a socket
//! every half millisecond. Polling with a `curl` per attempt (as the scripts did)
//! started a process per attempt and added about 10 ms of its own to every figure
//! (docs/performance.md). `first_answer URL PROGRAM [ARGS...]` prints milliseconds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: first_answer http://HOST:PORT/PATH PROGRAM [ARGS...]";

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect(USAGE);
    let program = args.next().expect(USAGE);
    let rest = url.strip_prefix("http://").expect(USAGE);
    let (host, path) = match rest.split_once('/') {
        Some((host, path)) => (host, format!("/{path}")),
        None => (rest, "/".to_owned()),
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let started = Instant::now();
    let mut child = Command::new(&program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} does not start: {e}"));
    let answered = loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{program} exited ({status}) before answering");
        }
        if let Ok(mut socket) = TcpStream::connect(host) {
            let mut status_line = [0u8; 9];
            if socket.write_all(request.as_bytes()).is_ok()
                && socket.read_exact(&mut status_line).is_ok()
                && &status_line == b"HTTP/1.1 "
            {
                break started.elapsed();
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{program} did not answer within 30 s");
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    let _ = child.kill();
    let _ = child.wait();
    println!("{:.1}", answered.as_secs_f64() * 1000.0);
}
