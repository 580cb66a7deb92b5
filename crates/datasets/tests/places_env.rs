//! The standard places come from the environment: `CONVLAB_DATA`, `XDG_CACHE_HOME`, `HOME`.
//! One test in its own binary, because it sets environment variables.

use std::path::PathBuf;

use convlab_datasets::source::{env_data_dir, user_cache_root, DATA_ENV};
use convlab_datasets::LoadOptions;

#[test]
fn places_follow_the_environment() {
    // Edition 2021: set_var is safe; nothing else in this binary reads the environment.
    std::env::set_var("HOME", "/home/someone");
    std::env::set_var("XDG_CACHE_HOME", "/var/cache/someone");
    assert_eq!(
        user_cache_root(),
        Some(PathBuf::from("/var/cache/someone/convlab"))
    );
    // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
    std::env::set_var("XDG_CACHE_HOME", "relative/cache");
    assert_eq!(
        user_cache_root(),
        Some(PathBuf::from("/home/someone/.cache/convlab"))
    );
    std::env::remove_var("XDG_CACHE_HOME");
    assert_eq!(
        user_cache_root(),
        Some(PathBuf::from("/home/someone/.cache/convlab"))
    );
    std::env::remove_var("HOME");
    assert_eq!(user_cache_root(), None);

    std::env::set_var(DATA_ENV, "");
    assert_eq!(env_data_dir(), None);
    std::env::set_var(DATA_ENV, "/data/sets");
    assert_eq!(env_data_dir(), Some(PathBuf::from("/data/sets")));

    let options = LoadOptions::standard();
    assert_eq!(options.env_dir, Some(PathBuf::from("/data/sets")));
    assert!(options.system_dir && options.verify && options.data_dir.is_none());
    assert_eq!(options.download.is_some(), cfg!(feature = "download"));
}
