//! The standard places, read from the environment: `CONVLAB_DATA` and the user cache.

use std::env;
use std::path::PathBuf;

/// The environment variable naming a data directory.
pub const DATA_ENV: &str = "CONVLAB_DATA";

/// `$CONVLAB_DATA`, if set and not empty.
pub fn env_data_dir() -> Option<PathBuf> {
    env::var_os(DATA_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_CACHE_HOME/convlab`, else `$HOME/.cache/convlab` (the XDG base-directory rule: a
/// relative `XDG_CACHE_HOME` is ignored); `None` if neither variable helps.
pub fn user_cache_root() -> Option<PathBuf> {
    let absolute = |name| {
        env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let cache = absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache")));
    cache.map(|c| c.join("convlab"))
}
