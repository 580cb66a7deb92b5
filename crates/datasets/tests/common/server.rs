//! A minimal HTTP/1.1 server on 127.0.0.1 for the download tests. It serves scripted responses,
//! good and bad, and stops by itself: the accept loop ends when the server is dropped or after
//! `LIFETIME`, and every connection thread ends after its script.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest time any server runs, whatever the test does.
const LIFETIME: Duration = Duration::from_secs(60);

/// What the server does for one path.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 with this body, after waiting (to let concurrent clients pile up).
    SlowBody(Vec<u8>, Duration),
    /// This status with a short text body.
    Status(u16),
    /// Content-Length `claimed`, then only `body`, then the connection closes.
    Truncated { body: Vec<u8>, claimed: usize },
    /// Says nothing for this long, then closes.
    StallBeforeHeaders(Duration),
    /// Sends the headers and `sent` bytes of `body`, then says nothing for `stall`.
    StallInBody {
        body: Vec<u8>,
        sent: usize,
        stall: Duration,
    },
}

pub struct Server {
    pub base: String,
    /// Requests answered so far, any path.
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `routes` (path such as `/good/x.gz`, reply); other paths get 404.
    pub fn start(routes: Vec<(String, Reply)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let routes = Arc::new(routes);
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let accept = thread::spawn(move || {
            let start = Instant::now();
            while !stop2.load(Ordering::Relaxed) && start.elapsed() < LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (routes, requests) = (routes.clone(), requests2.clone());
                        thread::spawn(move || handle(stream, &routes, &requests));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            base: format!("http://127.0.0.1:{port}"),
            requests,
            stop,
            accept: Some(accept),
        }
    }

    /// `<base><dir>/`: a mirror URL.
    pub fn mirror(&self, dir: &str) -> String {
        format!("{}/{dir}/", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

fn handle(mut stream: TcpStream, routes: &[(String, Reply)], requests: &AtomicUsize) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(path) = read_request_path(&mut stream) else {
        return;
    };
    requests.fetch_add(1, Ordering::Relaxed);
    let reply = routes
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, r)| r.clone())
        .unwrap_or(Reply::Status(404));
    let head = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let _ = match reply {
        Reply::Body(body) => stream
            .write_all(head(body.len()).as_bytes())
            .and_then(|()| stream.write_all(&body)),
        Reply::SlowBody(body, wait) => {
            thread::sleep(wait);
            stream
                .write_all(head(body.len()).as_bytes())
                .and_then(|()| stream.write_all(&body))
        }
        Reply::Status(code) => {
            let text = format!(
                "HTTP/1.1 {code} Scripted\r\nContent-Length: 9\r\nConnection: close\r\n\r\nscripted\n"
            );
            stream.write_all(text.as_bytes())
        }
        Reply::Truncated { body, claimed } => stream
            .write_all(head(claimed).as_bytes())
            .and_then(|()| stream.write_all(&body)),
        Reply::StallBeforeHeaders(wait) => {
            thread::sleep(wait);
            Ok(())
        }
        Reply::StallInBody { body, sent, stall } => {
            let written = stream
                .write_all(head(body.len()).as_bytes())
                .and_then(|()| stream.write_all(&body[..sent]))
                .and_then(|()| stream.flush());
            thread::sleep(stall);
            written
        }
    };
    let _ = stream.flush();
}

/// The path of a `GET /path HTTP/1.1` request, reading at most 16 KiB of headers.
fn read_request_path(stream: &mut TcpStream) -> Option<String> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 << 10 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let mut words = text.lines().next()?.split_whitespace();
    (words.next()? == "GET").then(|| words.next().map(str::to_string))?
}
