//! Crash-safe training: the real `mdpn` program is killed (SIGKILL), interrupted (SIGINT) or
//! made to diverge, then resumed; the resumed run must end bitwise equal to an uninterrupted one.
//! The hidden `MDPN_TEST_PAUSE` hook stops the program at exact moments (mid-epoch, or between
//! writing a checkpoint's temporary file and renaming it) so that the kills hit them.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use flate2::read::GzDecoder;

const FASHION: &str = "/usr/share/datasets/fashion-mnist";
const EPOCHS: &str = "3";

fn read_gz(name: &str) -> Vec<u8> {
    let path = Path::new(FASHION).join(format!("{name}.gz"));
    let bytes = fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; install Debian's dataset-fashion-mnist",
            path.display()
        )
    });
    let mut out = Vec::new();
    GzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap();
    out
}

/// Writes the first 300 training and 100 test images of Fashion-MNIST as an IDX folder.
fn small_fashion(dir: &Path) -> PathBuf {
    let folder = dir.join("data");
    fs::create_dir_all(&folder).unwrap();
    for (prefix, n) in [("train", 300u32), ("t10k", 100)] {
        let images = read_gz(&format!("{prefix}-images-idx3-ubyte"));
        let labels = read_gz(&format!("{prefix}-labels-idx1-ubyte"));
        let mut im = vec![0, 0, 8, 3];
        for d in [n, 28, 28] {
            im.extend(d.to_be_bytes());
        }
        im.extend(&images[16..16 + 784 * n as usize]);
        fs::write(folder.join(format!("{prefix}-images-idx3-ubyte")), im).unwrap();
        let mut lb = vec![0, 0, 8, 1];
        lb.extend(n.to_be_bytes());
        lb.extend(&labels[8..8 + n as usize]);
        fs::write(folder.join(format!("{prefix}-labels-idx1-ubyte")), lb).unwrap();
    }
    folder
}

/// `mdpn train` on the small set with a tiny model, into `run`, with extra arguments.
fn train(data: &Path, run: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdpn"));
    cmd.args(["--threads", "2", "train", "--dataset"])
        .arg(data)
        .args(["--epochs", EPOCHS, "--dendrites", "4", "--hidden", "16"])
        .args(["--batch-size", "32", "--seed", "5", "--out"])
        .arg(run)
        .args(extra)
        .env("MDPN_NO_APT", "1");
    cmd
}

fn output(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run mdpn");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "mdpn panicked:\n{stderr}");
    out
}

fn ok(cmd: Command) {
    let out = output(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mdpn failed:\n{stderr}");
}

/// Starts `cmd` with `MDPN_TEST_PAUSE=points` and waits until it pauses at `first`; returns the
/// child and the channel of its further stderr lines.
fn start_paused(mut cmd: Command, points: &str, first: &str) -> (Child, mpsc::Receiver<String>) {
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
fn wait_for(rx: &mpsc::Receiver<String>, want: &str) {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(want) => return,
            Ok(line) => seen.push(line),
            Err(e) => panic!("no `{want}` on stderr ({e}); got:\n{}", seen.join("\n")),
        }
    }
}

fn sigint(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The metrics without the timing columns, which differ between any two runs.
fn metrics(run: &Path) -> Vec<String> {
    fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(7).collect::<Vec<_>>().join(","))
        .collect()
}

fn checkpoint(run: &Path) -> mdpn::checkpoint::Checkpoint {
    mdpn::checkpoint::load(&fs::read(run.join("checkpoint.safetensors")).unwrap()).unwrap()
}

/// The resumed run ended exactly like the uninterrupted one.
fn assert_same_run(reference: &Path, run: &Path) {
    assert_eq!(metrics(run), metrics(reference), "{}", run.display());
    for f in ["model.safetensors", "last.safetensors"] {
        assert!(
            fs::read(run.join(f)).unwrap() == fs::read(reference.join(f)).unwrap(),
            "{f} of {} differs from the uninterrupted run",
            run.display()
        );
    }
    let (a, b) = (checkpoint(reference), checkpoint(run));
    assert_eq!((a.model, a.adam, a.best), (b.model, b.adam, b.best));
    assert_eq!(b.epochs_done, 3);
}

#[test]
fn killed_runs_resume_bitwise_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path());
    let reference = tmp.path().join("reference");
    ok(train(&data, &reference, &[]));
    assert_eq!(metrics(&reference).len(), 4, "header and three epochs");

    // Each case: the pause points where the program is killed, one after another, resuming
    // in between; then a last resume runs to the end.
    let cases: [&[&str]; 5] = [
        &["checkpoint@0"],
        &["mid-epoch@1"],
        &["mid-epoch@2", "checkpoint@2"],
        &["checkpoint@1", "mid-epoch@3"],
        &["checkpoint@3"],
    ];
    for (i, kills) in cases.iter().enumerate() {
        let run = tmp.path().join(format!("killed{i}"));
        for (k, point) in kills.iter().enumerate() {
            let extra: &[&str] = if k == 0 { &[] } else { &["--resume"] };
            let mut cmd = train(&data, &run, extra);
            if k > 0 {
                cmd.arg(&run);
            }
            let (mut child, _) = start_paused(cmd, point, point);
            child.kill().unwrap();
            child.wait().unwrap();
            // The files under their final names are whole: the checkpoint loads.
            let done = fs::read(run.join("checkpoint.safetensors"))
                .map_or(0, |b| mdpn::checkpoint::load(&b).unwrap().epochs_done);
            let expected = match *point {
                "mid-epoch@3" => 2,
                p => p[p.len() - 1..].parse::<usize>().unwrap().saturating_sub(1),
            };
            assert_eq!(
                done, expected,
                "epochs in the checkpoint after a kill at {point}"
            );
        }
        let mut resume = train(&data, &run, &["--resume"]);
        resume.arg(&run);
        ok(resume);
        assert_same_run(&reference, &run);
    }
}

#[test]
fn ctrl_c_stops_after_the_epoch_and_a_second_quits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path());
    let reference = tmp.path().join("reference");
    ok(train(&data, &reference, &[]));

    // One Ctrl-C in the middle of epoch 2: the epoch finishes, its checkpoint is saved, and
    // the program exits with 130.
    let run = tmp.path().join("interrupted");
    let (mut child, rx) = start_paused(train(&data, &run, &[]), "mid-epoch@2", "mid-epoch@2");
    sigint(&child);
    wait_for(&rx, "stopped after epoch 2 of 3");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(checkpoint(&run).epochs_done, 2);
    assert_eq!(metrics(&run).len(), 3);

    // A second Ctrl-C while the next checkpoint is half written: it quits at once, and the
    // checkpoint of epoch 2 stays.
    let mut cmd = train(&data, &run, &["--resume"]);
    cmd.arg(&run);
    let (mut child, rx) = start_paused(cmd, "mid-epoch@3,checkpoint@3", "mid-epoch@3");
    sigint(&child);
    wait_for(&rx, "MDPN_TEST_PAUSE checkpoint@3");
    sigint(&child);
    wait_for(&rx, "second Ctrl-C");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(checkpoint(&run).epochs_done, 2);

    let mut resume = train(&data, &run, &["--resume"]);
    resume.arg(&run);
    ok(resume);
    assert_same_run(&reference, &run);
}

#[test]
fn resume_refuses_other_settings_and_missing_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path());
    let run = tmp.path().join("run");
    ok(train(&data, &run, &[]));
    let mut other = train(&data, &run, &["--lr", "0.01", "--resume"]);
    other.arg(&run);
    let out = output(other);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("lr: run 0.001, command 0.01"), "{stderr}");
    let empty = tmp.path().join("empty");
    let mut missing = train(&data, &empty, &["--resume"]);
    missing.arg(&empty);
    let out = output(missing);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot read checkpoint"), "{stderr}");
    // A finished run is not restarted by accident.
    let out = output(train(&data, &run, &[]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
}

/// `mdpn train --resume RUN_DIR` alone continues with the run's own settings; a setting typed
/// with it that differs from the run's is refused, and `--epochs` may be raised.
#[test]
fn resume_alone_takes_the_runs_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path());
    let reference = tmp.path().join("reference");
    ok(train(&data, &reference, &[]));
    let run = tmp.path().join("run");
    let (mut child, _) = start_paused(train(&data, &run, &[]), "mid-epoch@2", "mid-epoch@2");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(checkpoint(&run).epochs_done, 1);

    let resume = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdpn"));
        cmd.args(["--threads", "2", "train", "--resume"])
            .arg(&run)
            .args(extra)
            .env("MDPN_NO_APT", "1");
        cmd
    };
    let out = output(resume(&["--seed", "9", "--batch-size", "32"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("seed: run 5, command 9"), "{stderr}");
    assert!(!stderr.contains("batch_size"), "{stderr}");
    assert_eq!(
        checkpoint(&run).epochs_done,
        1,
        "a refused resume trains nothing"
    );

    ok(resume(&[]));
    assert_same_run(&reference, &run);

    ok(resume(&["--epochs", "4"]));
    assert_eq!(checkpoint(&run).epochs_done, 4);
    assert_eq!(metrics(&run).len(), 5, "header and four epochs");
    assert_eq!(metrics(&run)[..4], metrics(&reference)[..]);
}

#[test]
fn non_finite_training_stops_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path());
    let run = tmp.path().join("run");
    let out = output(train(&data, &run, &["--lr", "1e30"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("training diverged") && stderr.contains("at epoch 1, batch 2 of 9"),
        "{stderr}"
    );
    assert!(stderr.contains("keeps the initial checkpoint"), "{stderr}");
    let kept = checkpoint(&run);
    assert_eq!(kept.epochs_done, 0);
    assert!(kept.model.params.is_finite());
    assert_eq!(metrics(&run).len(), 1, "only the header: no epoch finished");
}
