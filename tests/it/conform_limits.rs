//! `conform` against a broken or hostile target costs the runner a bounded amount of
//! memory: an endless chunked body, a 100 MB body, endless headers and a gzip bomb are
//! each cut at `--max-response-size` (or not decompressed at all), the check fails with
//! the size named, and the run goes on to its end. The real binary runs, and its peak
//! resident memory is read from outside (`/proc/PID/status`, `VmHWM`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How the target answers every request.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// `Transfer-Encoding: chunked`, chunks forever.
    EndlessBody,
    /// A declared and sent body of 100 MB.
    HundredMegabytes,
    /// Headers that never end.
    EndlessHeaders,
    /// 64 KB of gzip that inflates to 64 MB of zeros, declared `Content-Encoding: gzip`.
    GzipBomb,
}

/// A gzip stream of `n` zero bytes, from the `gzip` command (deflate's best case,
/// about 1,000:1).
fn gzip_of_zeros(n: usize) -> Vec<u8> {
    let mut out = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip is on the machine");
    let mut stdin = out.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..n >> 20 {
            stdin.write_all(&zeros).unwrap();
        }
    });
    let mut gz = Vec::new();
    out.stdout.take().unwrap().read_to_end(&mut gz).unwrap();
    writer.join().unwrap();
    out.wait().unwrap();
    gz
}

/// Serves `how` on a free port until the test ends; its address.
fn serve(how: Hostile) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let bomb = matches!(how, Hostile::GzipBomb).then(|| gzip_of_zeros(64 << 20));
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let bomb = bomb.clone();
            std::thread::spawn(move || answer(stream, how, bomb.as_deref()));
        }
    });
    addr
}

fn answer(mut stream: TcpStream, how: Hostile, bomb: Option<&[u8]>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        // Read one request head (and its body, by its length).
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        let sent = match how {
            Hostile::EndlessBody => (|| {
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")?;
                loop {
                    stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                    stream.write_all(&chunk)?;
                    stream.write_all(b"\r\n")?;
                }
            })(),
            Hostile::HundredMegabytes => (|| {
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 104857600\r\n\r\n")?;
                for _ in 0..(100 << 20) / chunk.len() {
                    stream.write_all(&chunk)?;
                }
                Ok(())
            })(),
            Hostile::EndlessHeaders => (|| {
                stream.write_all(b"HTTP/1.1 200 OK\r\n")?;
                for n in 0u64.. {
                    stream
                        .write_all(format!("x-filler-{n}: {}\r\n", "y".repeat(200)).as_bytes())?;
                }
                Ok(())
            })(),
            Hostile::GzipBomb => (|| {
                let bomb = bomb.unwrap();
                stream.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n", bomb.len()).as_bytes())?;
                stream.write_all(bomb)
            })(),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Runs `conform` against `addr` with a cap of 1 MiB: its report and peak memory (KB).
fn conform_against(addr: &str) -> (serde_json::Value, u64) {
    let dir = std::env::temp_dir().join(format!(
        "revkeen-conform-limits-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_revkeen-mock"))
        .args([
            "conform",
            "--target",
            &format!("http://{addr}/v2"),
            "--api-key",
            "rk_sandbox_conform_limits_key_01",
            "--seed",
            "35",
            "--cases",
            "3",
            "--timeout",
            "5s",
            "--max-time",
            "30s",
            "--max-response-size",
            "1048576",
            "--checks",
            "status_documented,response_schema,response_size,authentication",
            "--no-progress",
            "--report",
        ])
        .arg(format!("json:{}", report.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    loop {
        if let Some(kb) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let text = std::fs::read_to_string(&report).expect("a report was written");
    let _ = std::fs::remove_dir_all(&dir);
    (serde_json::from_str(&text).unwrap(), peak_kb)
}

fn check_is_cut(how: Hostile, named: &str) {
    let addr = serve(how);
    let (report, peak_kb) = conform_against(&addr);
    let text = report.to_string();
    assert!(
        text.contains(named),
        "{how:?}: a failure names the cap: {}",
        &text[..text.len().min(2000)]
    );
    assert!(
        peak_kb < 100 * 1024,
        "{how:?}: the runner's peak memory is {peak_kb} KB"
    );
    println!("{how:?}: peak {} MB", peak_kb / 1024);
}

#[test]
fn an_endless_body_is_cut_at_the_cap() {
    check_is_cut(
        Hostile::EndlessBody,
        "larger than --max-response-size (1048576 bytes)",
    );
}

#[test]
fn a_hundred_megabyte_body_is_cut_at_the_cap() {
    check_is_cut(
        Hostile::HundredMegabytes,
        "larger than --max-response-size (1048576 bytes)",
    );
}

#[test]
fn endless_headers_are_cut_at_the_cap() {
    check_is_cut(
        Hostile::EndlessHeaders,
        "larger than --max-response-size (1048576 bytes)",
    );
}

/// The runner sends no `Accept-Encoding` and inflates nothing: a bomb is its 64 KB of
/// compressed bytes, which are not JSON.
#[test]
fn a_gzip_bomb_is_never_inflated() {
    check_is_cut(Hostile::GzipBomb, "response_schema");
}
