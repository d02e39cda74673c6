//! Crash-safe training: the real `mdpn` program is killed (SIGKILL), interrupted (SIGINT) or
//! made to diverge, then resumed; the resumed run must end bitwise equal to an uninterrupted one.
//! The hidden `MDPN_TEST_PAUSE` hook stops the program at exact moments (mid-epoch, or between
//! writing a checkpoint's temporary file and renaming it) so that the kills hit them.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::{
    metrics_without_time, output, program, sigint, small_fashion, start_paused, succeeds,
    temporaries, wait_for,
};

const EPOCHS: &str = "3";

/// `mdpn train` on the small set with a tiny model, into `run`, with extra arguments.
fn train(data: &Path, run: &Path, extra: &[&str]) -> Command {
    let mut cmd = program();
    cmd.args(["--threads", "2", "train", "--dataset"])
        .arg(data)
        .args(["--epochs", EPOCHS, "--dendrites", "4", "--hidden", "16"])
        .args(["--batch-size", "32", "--seed", "5", "--out"])
        .arg(run)
        .args(extra);
    cmd
}

fn checkpoint(run: &Path) -> mdpn::checkpoint::Checkpoint {
    mdpn::checkpoint::load(&fs::read(run.join("checkpoint.safetensors")).unwrap()).unwrap()
}

/// The resumed run ended exactly like the uninterrupted one.
fn assert_same_run(reference: &Path, run: &Path) {
    assert_eq!(
        metrics_without_time(run),
        metrics_without_time(reference),
        "{}",
        run.display()
    );
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
    let data = small_fashion(tmp.path(), 300, 100);
    let reference = tmp.path().join("reference");
    succeeds(train(&data, &reference, &[]));
    assert_eq!(
        metrics_without_time(&reference).len(),
        4,
        "header and three epochs"
    );

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
        succeeds(resume);
        assert_same_run(&reference, &run);
    }
}

#[test]
fn ctrl_c_stops_after_the_epoch_and_a_second_quits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 300, 100);
    let reference = tmp.path().join("reference");
    succeeds(train(&data, &reference, &[]));

    // One Ctrl-C in the middle of epoch 2: the epoch finishes, its checkpoint is saved, and
    // the program exits with 130.
    let run = tmp.path().join("interrupted");
    let (mut child, rx) = start_paused(train(&data, &run, &[]), "mid-epoch@2", "mid-epoch@2");
    sigint(&child);
    wait_for(&rx, "stopped after epoch 2 of 3");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(checkpoint(&run).epochs_done, 2);
    assert_eq!(metrics_without_time(&run).len(), 3);

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
    succeeds(resume);
    assert_same_run(&reference, &run);
}

#[test]
fn resume_refuses_other_settings_and_missing_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 300, 100);
    let run = tmp.path().join("run");
    succeeds(train(&data, &run, &[]));
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
    let data = small_fashion(tmp.path(), 300, 100);
    let reference = tmp.path().join("reference");
    succeeds(train(&data, &reference, &[]));
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

    succeeds(resume(&[]));
    assert_same_run(&reference, &run);

    succeeds(resume(&["--epochs", "4"]));
    assert_eq!(checkpoint(&run).epochs_done, 4);
    assert_eq!(
        metrics_without_time(&run).len(),
        5,
        "header and four epochs"
    );
    assert_eq!(
        metrics_without_time(&run)[..4],
        metrics_without_time(&reference)[..]
    );
}

#[test]
fn non_finite_training_stops_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 300, 100);
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
    assert_eq!(
        metrics_without_time(&run).len(),
        1,
        "only the header: no epoch finished"
    );
}

/// A kill between writing a checkpoint's temporary file and its rename leaves that file: it
/// neither breaks the resume nor outlives it.
#[test]
fn a_cut_checkpoint_write_leaves_a_temporary_file_that_resume_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 300, 100);
    let run = tmp.path().join("run");
    let (mut child, _) = start_paused(train(&data, &run, &[]), "checkpoint@1", "checkpoint@1");
    child.kill().unwrap();
    child.wait().unwrap();
    let left = temporaries(&run);
    assert!(
        left.len() == 1 && left[0].starts_with(".checkpoint.safetensors."),
        "{left:?}"
    );
    assert_eq!(checkpoint(&run).epochs_done, 0);
    let mut resume = train(&data, &run, &["--resume"]);
    resume.arg(&run);
    succeeds(resume);
    assert_eq!(checkpoint(&run).epochs_done, 3);
    assert_eq!(temporaries(&run), Vec::<String>::new());
}

/// A run with the tuned recipe (augmentation, AdamW, smoothing, clipping) records it in its
/// settings, resumes with it alone, and ends bitwise as the run that never stopped; the same
/// command twice gives the same run, augmentation included.
#[test]
fn a_tuned_recipe_round_trips_through_the_settings_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_fashion(tmp.path(), 300, 100);
    // A constant rate: a schedule spans the run's epochs, which a resume may raise.
    let recipe = [
        "--recipe",
        "tuned",
        "--schedule",
        "constant",
        "--erase",
        "0.5",
    ];
    let reference = tmp.path().join("reference");
    succeeds(train(&data, &reference, &recipe));
    let again = tmp.path().join("again");
    succeeds(train(&data, &again, &recipe));
    assert_same_run(&reference, &again);
    let plain = tmp.path().join("plain");
    succeeds(train(&data, &plain, &[]));
    assert_ne!(
        fs::read(plain.join("last.safetensors")).unwrap(),
        fs::read(reference.join("last.safetensors")).unwrap(),
        "the recipe changes the run"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(reference.join("config.json")).unwrap()).unwrap();
    let r = &config["recipe"];
    assert_eq!(r["augment"]["shift"], 1, "{config}");
    assert_eq!(r["augment"]["erase"], 0.5, "{config}");
    assert_eq!(
        r["label_smoothing"].as_f64().unwrap() as f32,
        0.05,
        "{config}"
    );
    assert_eq!(r["schedule"]["kind"], "constant", "{config}");

    let run = tmp.path().join("run");
    let (mut child, _) = start_paused(train(&data, &run, &recipe), "mid-epoch@2", "mid-epoch@2");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut resume = program();
    resume
        .args(["--threads", "2", "train", "--resume"])
        .arg(&run);
    succeeds(resume);
    assert_same_run(&reference, &run);
    // Typing another recipe on resume is refused.
    let mut other = program();
    other
        .args(["--threads", "2", "train", "--resume"])
        .arg(&run)
        .args(["--recipe", "paper"]);
    let out = output(other);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recipe"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
