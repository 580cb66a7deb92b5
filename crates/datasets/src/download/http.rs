//! One HTTP GET, streamed to a writer, with timeouts and a size cap (ureq, blocking).

use std::io::{self, Read, Write};

use ureq::Agent;

use super::{DownloadConfig, DownloadProblem};

/// The outcome of a failed copy: the server's fault, or ours (the local write).
pub(super) enum GetError {
    Remote(DownloadProblem),
    Local(io::Error),
}

impl From<DownloadProblem> for GetError {
    fn from(p: DownloadProblem) -> Self {
        GetError::Remote(p)
    }
}

/// GETs `url` and writes the body to `out`; returns the number of bytes written.
pub(super) fn get_into(
    url: &str,
    config: &DownloadConfig,
    out: &mut impl Write,
) -> Result<u64, GetError> {
    // No total-time limit: a slow but moving download may take minutes; a stalled one is caught by
    // the per-read timeout, and a never-ending one by the size cap.
    let agent: Agent = Agent::config_builder()
        .timeout_connect(Some(config.timeout))
        .timeout_recv_response(Some(config.timeout))
        .timeout_per_read(Some(config.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("convlab-datasets/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| problem(e, 0, None))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(DownloadProblem::Status(status).into());
    }
    let announced = response.body().content_length();
    if announced.is_some_and(|n| n > config.max_bytes) {
        return Err(DownloadProblem::TooLarge {
            cap: config.max_bytes,
        }
        .into());
    }

    let mut body = response
        .body_mut()
        .with_config()
        .limit(config.max_bytes)
        .reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(problem(ureq::Error::from(e), received, announced).into()),
        };
        out.write_all(&buf[..n]).map_err(GetError::Local)?;
        received += n as u64;
    }
    // ureq checks Content-Length itself; checking again costs nothing and names the numbers.
    if let Some(expected) = announced.filter(|&n| n != received) {
        return Err(DownloadProblem::Truncated { received, expected }.into());
    }
    Ok(received)
}

/// Sorts ureq's errors into the problems a user can act on.
fn problem(e: ureq::Error, received: u64, announced: Option<u64>) -> DownloadProblem {
    match e {
        ureq::Error::Timeout(what) => DownloadProblem::Timeout(what.to_string()),
        ureq::Error::BodyExceedsLimit(cap) => DownloadProblem::TooLarge { cap },
        ureq::Error::StatusCode(code) => DownloadProblem::Status(code),
        ureq::Error::Io(io) => match (io.kind(), announced) {
            (io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock, _) => {
                DownloadProblem::Timeout(io.to_string())
            }
            (io::ErrorKind::UnexpectedEof, Some(expected)) => {
                DownloadProblem::Truncated { received, expected }
            }
            _ => DownloadProblem::Transport(io.to_string()),
        },
        other => DownloadProblem::Transport(other.to_string()),
    }
}
