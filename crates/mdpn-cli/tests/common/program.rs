//! Running the real `mdpn` program: its output, its failures, and the hidden `MDPN_TEST_PAUSE`
//! hook that stops it at exact moments so that a test can kill or interrupt it there.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `mdpn` program, blind to the machine's settings: no apt, no `$MDPN_DATA`, no
/// `$MDPN_MIRROR` and no certificates named by `$SSL_CERT_FILE` or `$SSL_CERT_DIR`, so that a
/// test sees only the files, servers and certificates it names.
pub fn program() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdpn"));
    cmd.env("MDPN_NO_APT", "1")
        .env_remove("MDPN_DATA")
        .env_remove("MDPN_MIRROR")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    cmd
}

/// Runs `cmd` to its end; whether it succeeds or fails, it must not panic.
pub fn output(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run mdpn");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{cmd:?} panicked:\n{stderr}");
    out
}

/// Runs `cmd` and returns its stdout, failing the test with its stderr if it fails.
pub fn succeeds(cmd: Command) -> String {
    let what = format!("{cmd:?}");
    let out = output(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// `mdpn ARGS...`, run to its end.
pub fn mdpn(args: &[&str]) -> Output {
    let mut cmd = program();
    cmd.args(args);
    output(cmd)
}

/// Runs `mdpn ARGS...` and returns its stdout, failing the test with its stderr if it fails.
pub fn ok(args: &[&str]) -> String {
    let mut cmd = program();
    cmd.args(args);
    succeeds(cmd)
}

/// Runs `mdpn ARGS...` expecting it to fail, without a panic; returns its stderr.
pub fn fails(args: &[&str]) -> String {
    let out = mdpn(args);
    assert!(!out.status.success(), "mdpn {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Starts `cmd` with `MDPN_TEST_PAUSE=points` and waits until it pauses at `first`; returns the
/// child and the channel of its further stderr lines.
pub fn start_paused(
    mut cmd: Command,
    points: &str,
    first: &str,
) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .env("MDPN_TEST_PAUSE", points)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mdpn");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    wait_for(&rx, &format!("MDPN_TEST_PAUSE {first}"));
    (child, rx)
}

/// Waits for a stderr line containing `want`; fails with what came instead.
pub fn wait_for(rx: &mpsc::Receiver<String>, want: &str) {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(want) => return,
            Ok(line) => seen.push(line),
            Err(e) => panic!("no `{want}` on stderr ({e}); got:\n{}", seen.join("\n")),
        }
    }
}

/// Sends the child a Ctrl-C (SIGINT).
pub fn sigint(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The rows of a run's `metrics.csv` without the timing columns, which differ between any two
/// runs.
pub fn metrics_without_time(run: &Path) -> Vec<String> {
    fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(7).collect::<Vec<_>>().join(","))
        .collect()
}

/// The temporary files (`.NAME.XXXXXX.tmp`) that writes cut short before their rename left in a
/// run folder.
pub fn temporaries(run: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .collect();
    names.sort();
    names
}
