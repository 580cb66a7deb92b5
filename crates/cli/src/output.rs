//! Standard output that a closed pipe or a full disk cannot crash.
//!
//! `println!` panics when stdout fails (`convlab summary > /dev/full`, `convlab evaluate
//! --confusion | head -1`). Every command writes through `outln!` / `out!` instead, which return
//! a `StdoutError` to pass up with `?`: `main` ends the command quietly when the reader closed the
//! pipe (as `head`'s writers do), and prints one error line when the disk is full. The first
//! failure is remembered, so nothing more is written after it.
//!
//! `train` is the exception: its real outputs are files, so it must not stop (or lose a
//! checkpoint) because nobody reads its log. It prints with `note!`, which ignores a failure;
//! `main` reports a full disk once the run is over.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

/// Standard output stopped taking text.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutError(pub io::Error);

impl StdoutError {
    /// The reader went away (a closed pipe): not worth a message.
    pub fn is_closed_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

/// The first failure (its kind and message), once stdout has failed.
static FAILED: Mutex<Option<(io::ErrorKind, String)>> = Mutex::new(None);

/// Writes `args` to stdout and flushes, or says why it could not.
pub fn write(args: fmt::Arguments) -> Result<(), StdoutError> {
    let mut failed = FAILED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((kind, message)) = &*failed {
        return Err(StdoutError(io::Error::new(*kind, message.clone())));
    }
    // Paths and names reach this text; none of it may drive the terminal.
    let text = printable(&args.to_string());
    let mut out = io::stdout().lock();
    // Flushed every time: a failure must surface here, not in the silent flush at exit.
    let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    result.map_err(|error| {
        *failed = Some((error.kind(), error.to_string()));
        StdoutError(error)
    })
}

/// How stdout failed, if it did.
pub fn failure() -> Option<StdoutError> {
    let failed = FAILED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    failed
        .as_ref()
        .map(|(kind, message)| StdoutError(io::Error::new(*kind, message.clone())))
}

/// One line on stderr, never a panic (stderr can be closed or full too). Text that came from a
/// file is shown with its control characters escaped, so it cannot drive the terminal.
pub fn error_line(message: &str) {
    let _ = writeln!(io::stderr(), "convlab: error: {}", printable(message));
}

/// `text` with every control or invisible formatting character except newline and tab written
/// as an escape (`\u{1b}`, `\u{202e}`).
pub fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if convlab_nn::text::is_unprintable(c) && c != '\n' && c != '\t' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// `out!(...)`: like `print!`, but returns `Result<(), StdoutError>`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*))
    };
}

/// `outln!(...)`: like `println!`, but returns `Result<(), StdoutError>`.
macro_rules! outln {
    () => {
        $crate::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `note!(...)`: a line of `train`'s log; a failure is remembered for `main`, not returned.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = $crate::output::write(format_args!("{}\n", format_args!($($arg)*)));
    }};
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_text_kept() {
        assert_eq!(printable("conv2d_1"), "conv2d_1");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("line\nnext\ttab\r"), "line\nnext\ttab\\r");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(printable("a\u{202e}b"), "a\\u{202e}b");
    }
}
