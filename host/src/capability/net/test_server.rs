//! A tiny HTTP/1.1 server on 127.0.0.1 for the exchange tests.

use std::time::Duration;

/// A tiny HTTP/1.1 server on 127.0.0.1 for these tests, stopped when dropped.
pub(super) struct Server {
    /// The port it listens on.
    pub(super) port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts listening on an ephemeral port.
    pub(super) fn start() -> Server {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let flag = flag.clone();
                        std::thread::spawn(move || serve(stream, port, &flag));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// A URL of `path` on this server.
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The grant that reaches it.
    pub(super) fn grant(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: std::net::TcpStream, port: u16, stop: &std::sync::atomic::AtomicBool) {
    use std::io::{Read, Write};
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0usize);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..head_end + length].to_vec();
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let reply = |status: &str, headers: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    let out = match path {
        "/json" => reply("200 OK", "content-type: application/json\r\n", br#"{"hello":"world"}"#),
        "/echo" => {
            let auth = head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
            let text = format!("{method} {} auth={auth}", String::from_utf8_lossy(&body));
            reply("200 OK", "x-multi: a\r\nx-multi: b\r\n", text.as_bytes())
        }
        "/missing" => reply("404 Not Found", "", b"no such thing"),
        "/binary" => reply("200 OK", "", &[0, 159, 146, 150, 255]),
        "/big" => reply("200 OK", "", &vec![b'x'; 4096]),
        "/slow" => {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        "/loop" => reply("302 Found", "location: /loop\r\n", b""),
        "/to-echo" => reply("307 Temporary Redirect", "location: /echo\r\n", b""),
        "/see-other" => reply("303 See Other", "location: /echo\r\n", b""),
        "/elsewhere" => reply("302 Found", &format!("location: http://127.0.0.2:{port}/json\r\n"), b""),
        "/to-localhost" => reply("302 Found", &format!("location: http://localhost:{port}/json\r\n"), b""),
        _ => reply("500 Internal Server Error", "", b"unknown path"),
    };
    let _ = stream.write_all(&out);
}
