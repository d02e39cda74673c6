//! A real headless browser (Debian's `chromium`) for the pages the program writes and serves.

use std::process::{Command, Output};

/// Seconds a page may take before chromium is stopped and the test fails.
const LIMIT_SECONDS: &str = "180";

/// Runs headless chromium on `url` with `extra` flags (`--dump-dom`, `--screenshot=FILE`, ...),
/// in a fresh profile, until the page's scripts are done (virtual time, so timers run at
/// once); fails the test if chromium is missing, fails or takes longer than the limit.
pub fn chromium(extra: &[&str], url: &str) -> Output {
    let profile = tempfile::tempdir().expect("temp dir");
    let out = Command::new("timeout")
        .args([
            LIMIT_SECONDS,
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .arg("--hide-scrollbars")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--virtual-time-budget=60000")
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium (Debian: apt-get install chromium)");
    assert!(
        out.status.success(),
        "chromium failed on {url} ({}; 124 is the {LIMIT_SECONDS} s limit):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
