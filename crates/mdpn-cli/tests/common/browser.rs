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

/// A page open in headless chromium, driven over the DevTools protocol in real time (not
/// virtual time: chromium's virtual clock does not wait for work off the main thread, such as
/// decoding an image, so a page that decodes one may be dumped before it is done).
///
/// The protocol runs over a pipe (`--remote-debugging-pipe`: commands on the child's fd 3,
/// replies on its fd 4, each message JSON ended by a NUL byte). Chromium runs under `timeout`,
/// so a browser that hangs is stopped and the test fails instead of waiting for ever.
pub struct Tab {
    browser: std::process::Child,
    commands: std::io::PipeWriter,
    replies: std::io::BufReader<std::io::PipeReader>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Tab {
    /// Opens `url` in a `width`×`height` window and waits for its load event.
    pub fn open(url: &str, width: u32, height: u32) -> Tab {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;

        let profile = tempfile::tempdir().expect("temp dir");
        let (commands_read, commands) = std::io::pipe().expect("pipe");
        let (replies, replies_write) = std::io::pipe().expect("pipe");
        let (from, to) = (commands_read.as_raw_fd(), replies_write.as_raw_fd());
        let mut command = Command::new("timeout");
        command
            .args([LIMIT_SECONDS, "chromium", "--headless", "--no-sandbox"])
            .args([
                "--disable-gpu",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: between fork and exec the child only calls `fcntl` and `dup2`, which are
        // async-signal-safe. The ends are first copied above fd 4, so that `dup2` onto 3 and 4
        // never meets itself and leaves the close-on-exec flag set.
        unsafe {
            command.pre_exec(move || {
                let high_from = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 10);
                let high_to = libc::fcntl(to, libc::F_DUPFD_CLOEXEC, 10);
                if high_from < 0
                    || high_to < 0
                    || libc::dup2(high_from, 3) < 0
                    || libc::dup2(high_to, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let browser = command
            .spawn()
            .expect("run chromium (Debian: apt-get install chromium)");
        // The child holds its own copies; ours must close, or the pipes never report EOF.
        drop((commands_read, replies_write));
        let mut tab = Tab {
            browser,
            commands,
            replies: std::io::BufReader::new(replies),
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let target = tab.call(
            "Target.createTarget",
            serde_json::json!({ "url": "about:blank" }),
        );
        let attached = tab.call(
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target["targetId"], "flatten": true }),
        );
        tab.session = attached["sessionId"]
            .as_str()
            .expect("session id")
            .to_string();
        tab.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        tab.call("Page.enable", serde_json::json!({}));
        tab.call("Page.navigate", serde_json::json!({ "url": url }));
        while tab.read()["method"] != "Page.loadEventFired" {}
        tab
    }

    /// The value of a JavaScript expression in the page, awaited if it is a promise.
    pub fn evaluate(&mut self, expression: &str) -> serde_json::Value {
        let reply = self.call(
            "Runtime.evaluate",
            serde_json::json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        if let Some(thrown) = reply.get("exceptionDetails") {
            panic!("{expression} threw in the page: {thrown}");
        }
        reply["result"]["value"].clone()
    }

    /// Waits until the element `id` has text, and returns the text.
    pub fn text_of(&mut self, id: &str) -> String {
        let wait = format!(
            "new Promise(done => {{ const poll = () => {{ const text = document.getElementById({id:?})?.textContent; \
             text ? done(text) : setTimeout(poll, 20); }}; poll(); }})"
        );
        self.evaluate(&wait).as_str().expect("text").to_string()
    }

    /// A PNG of the window.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64")
    }

    /// Sends a command to the page (to the browser before it is attached) and returns its
    /// result; events that come first are dropped.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use std::io::Write;
        self.next_id += 1;
        let mut message =
            serde_json::json!({ "id": self.next_id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = self.session.clone().into();
        }
        let mut bytes = serde_json::to_vec(&message).expect("JSON");
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("send {method} to chromium: {e}"));
        loop {
            let reply = self.read();
            if reply["id"] == self.next_id {
                if let Some(error) = reply.get("error") {
                    panic!("chromium refused {method}: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    /// The next message from chromium.
    fn read(&mut self) -> serde_json::Value {
        use std::io::BufRead;
        let mut bytes = Vec::new();
        self.replies
            .read_until(0, &mut bytes)
            .expect("read from chromium");
        if bytes.pop() != Some(0) {
            panic!(
                "chromium closed the DevTools pipe (stopped after {LIMIT_SECONDS} s, or crashed)"
            );
        }
        serde_json::from_slice(&bytes).expect("chromium sends JSON")
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        // SIGTERM, which `timeout` passes on to chromium (SIGKILL would stop `timeout` only).
        // SAFETY: `kill` on our own child's pid, which `wait` has not reaped yet.
        unsafe { libc::kill(self.browser.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.browser.wait();
    }
}
