//! Finding a dataset's files on disk, or obtaining them.
//!
//! Debian ships Fashion-MNIST as a package, which is the most trustworthy and
//! offline-friendly source, so it is tried first; otherwise the files are
//! downloaded over HTTP, resumably, and accepted only once their md5 matches.

use std::env;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};

/// One file of a dataset, with the checksums that let us trust a copy whatever
/// its source: the official `.gz`, a re-compressed `.gz` (Debian) or raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile {
    /// Base name, without `.gz`.
    pub name: &'static str,
    /// md5 of the official `.gz`, the only form we download.
    pub md5_gz: &'static str,
    /// md5 of the decompressed bytes, which survives re-compression.
    pub md5_raw: &'static str,
    /// Length of the decompressed bytes, a cheap first check.
    pub raw_len: u64,
}

/// A dataset we know how to find and fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownDataset {
    /// Name used on the command line and as the folder name.
    pub name: &'static str,
    /// Debian package that installs the files, preferred over downloading.
    pub debian_package: Option<&'static str>,
    /// Where that package puts the files.
    pub debian_dir: Option<&'static str>,
    /// Base URLs tried in turn; the file name (with `.gz`) is appended.
    pub urls: &'static [&'static str],
    /// Every file the dataset needs.
    pub files: &'static [KnownFile],
}

/// Zalando's Fashion-MNIST; the `.gz` checksums are those torchvision uses,
/// the raw ones were measured from Debian's `dataset-fashion-mnist`.
pub const FASHION_MNIST: KnownDataset = KnownDataset {
    name: "fashion-mnist",
    debian_package: Some("dataset-fashion-mnist"),
    debian_dir: Some("/usr/share/datasets/fashion-mnist"),
    urls: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    files: &[
        KnownFile {
            name: "train-images-idx3-ubyte",
            md5_gz: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            md5_raw: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            raw_len: 47_040_016,
        },
        KnownFile {
            name: "train-labels-idx1-ubyte",
            md5_gz: "25c81989df183df01b3e8a0aad5dffbe",
            md5_raw: "9018921c3c673c538a1fc5bad174d6f9",
            raw_len: 60_008,
        },
        KnownFile {
            name: "t10k-images-idx3-ubyte",
            md5_gz: "bef4ecab320f06d8554ea6380940ec79",
            md5_raw: "8181f5470baa50b63fa0f6fddb340f0a",
            raw_len: 7_840_016,
        },
        KnownFile {
            name: "t10k-labels-idx1-ubyte",
            md5_gz: "bb300cfdad3c16e7a12a480ee83cd310",
            md5_raw: "15d484375f8d13e6eb1aabb0c3f46965",
            raw_len: 10_008,
        },
    ],
};

/// Every dataset `known` can name.
const DATASETS: &[&KnownDataset] = &[&FASHION_MNIST];

/// Looks a dataset up by its command-line name, so callers need not list them.
pub fn known(name: &str) -> Option<&'static KnownDataset> {
    DATASETS.iter().copied().find(|ds| ds.name == name)
}

/// Folders searched, in order: `data_dir` (if given), `$MDPN_DATA`, `./data`,
/// `<user cache dir>/mdpn` (dirs::cache_dir), then the Debian dir. For each
/// root R except the Debian dir, the dataset lives in `R/<name>/`.
///
/// An explicit choice wins over the environment, which wins over defaults; the
/// Debian dir comes last because it is shared and read-only.
pub fn search_dirs(ds: &KnownDataset, data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    roots.extend(data_dir.map(Path::to_path_buf));
    roots.extend(
        env::var_os("MDPN_DATA")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    );
    roots.push(PathBuf::from("data"));
    roots.extend(dirs::cache_dir().map(|c| c.join("mdpn")));
    let mut dirs: Vec<PathBuf> = roots.into_iter().map(|r| r.join(ds.name)).collect();
    dirs.extend(ds.debian_dir.map(PathBuf::from));
    dirs
}

/// The file `dir/base` or `dir/base.gz`, whichever exists (raw preferred,
/// since it is what a user who unpacked the files by hand will have).
pub fn find_file(dir: &Path, base: &str) -> Option<PathBuf> {
    [dir.join(base), dir.join(format!("{base}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Whether `dir` holds every file of `ds`, raw or compressed.
fn has_all(ds: &KnownDataset, dir: &Path) -> bool {
    ds.files.iter().all(|f| find_file(dir, f.name).is_some())
}

/// First searched folder that holds all the dataset's files (each raw or .gz);
/// a folder with only some of them is skipped, so a half download never hides
/// a complete copy further down the list.
pub fn locate(ds: &KnownDataset, data_dir: Option<&Path>) -> Result<PathBuf, NotFound> {
    let looked = search_dirs(ds, data_dir);
    match looked.iter().find(|dir| has_all(ds, dir)) {
        Some(dir) => Ok(dir.clone()),
        None => Err(NotFound {
            dataset: ds.name.to_string(),
            looked,
        }),
    }
}

/// A dataset is nowhere on disk; its message tells the user how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// Name of the dataset looked for.
    pub dataset: String,
    /// Every folder looked in, in search order.
    pub looked: Vec<PathBuf>,
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "dataset {} not found; looked in:", self.dataset)?;
        for dir in &self.looked {
            writeln!(f, "  {}", dir.display())?;
        }
        writeln!(f, "To get it, do one of:")?;
        let ds = known(&self.dataset);
        if let Some(pkg) = ds.and_then(|d| d.debian_package) {
            writeln!(f, "  - sudo apt-get install {pkg}")?;
        }
        writeln!(f, "  - mdpn download {}", self.dataset)?;
        match ds {
            Some(d) => {
                let names: Vec<&str> = d.files.iter().map(|file| file.name).collect();
                write!(
                    f,
                    "  - put the {} files {} (raw or .gz) in one of the folders above",
                    names.len(),
                    names.join(", ")
                )
            }
            None => write!(f, "  - put its files in one of the folders above"),
        }
    }
}

impl std::error::Error for NotFound {}

/// md5 (lower-case hex) and length of everything `reader` yields.
fn md5_of(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Md5::new();
    let len = io::copy(&mut reader, &mut hasher)?;
    Ok((format!("{:x}", hasher.finalize()), len))
}

fn md5_of_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    md5_of(file).with_context(|| format!("cannot read {}", path.display()))
}

/// Checks a file against the known checksums: md5 of the file equals md5_gz
/// (official .gz) or, for raw or re-compressed files, the md5 of its
/// decompressed content equals md5_raw. Both are accepted because Debian
/// re-compresses the files, changing the `.gz` bytes but not their content.
pub fn verify(file: &KnownFile, path: &Path) -> anyhow::Result<bool> {
    let (md5, len) = md5_of_file(path)?;
    if md5 == file.md5_gz {
        return Ok(true);
    }
    let mut magic = Vec::with_capacity(2);
    File::open(path)
        .and_then(|f| f.take(2).read_to_end(&mut magic))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if magic != [0x1f, 0x8b] {
        return Ok(len == file.raw_len && md5 == file.md5_raw);
    }
    let gz = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    match md5_of(MultiGzDecoder::new(gz)) {
        Ok((md5, len)) => Ok(len == file.raw_len && md5 == file.md5_raw),
        // A corrupt or truncated archive is a bad copy, not a failure to check.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Downloads every file missing from `dest` (= the dataset folder itself),
/// from `mirror` (a base URL) if given, else `$MDPN_MIRROR` if set, else each
/// of ds.urls in turn. Each file goes through [`fetch_file`], so it is resumed,
/// retried and checked against md5_gz before it appears under its final name.
pub fn download(
    ds: &KnownDataset,
    dest: &Path,
    mirror: Option<&str>,
    progress: bool,
) -> anyhow::Result<()> {
    let env_mirror = env::var("MDPN_MIRROR").ok().filter(|m| !m.is_empty());
    let bases: Vec<&str> = match mirror.or(env_mirror.as_deref()) {
        Some(m) => vec![m],
        None => ds.urls.to_vec(),
    };
    if bases.is_empty() {
        bail!(
            "no download address is known for {}; pass a mirror URL (--mirror or $MDPN_MIRROR)",
            ds.name
        );
    }
    fs::create_dir_all(dest).with_context(|| {
        format!(
            "cannot create {}; choose a writable folder with --data-dir",
            dest.display()
        )
    })?;
    for file in ds.files {
        if find_file(dest, file.name).is_some() {
            continue;
        }
        let gz = format!("{}.gz", file.name);
        let target = dest.join(&gz);
        let mut errors = Vec::new();
        for base in &bases {
            let url = format!("{}/{gz}", base.trim_end_matches('/'));
            match fetch_file(&url, &target, file.md5_gz, progress) {
                Ok(()) => break,
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if errors.len() == bases.len() {
            let hint = match ds.debian_package {
                Some(pkg) => format!(", or install it with `sudo apt-get install {pkg}`"),
                None => String::new(),
            };
            bail!(
                "could not download {gz} of {}:\n  {}\nCheck the network, or pass a mirror URL \
                 (--mirror or $MDPN_MIRROR) that serves the official .gz files{hint}",
                ds.name,
                errors.join("\n  ")
            );
        }
    }
    Ok(())
}

/// How many times one file is requested before giving up on a flaky link.
const ATTEMPTS: u32 = 3;

/// Why one request failed: worth another try (the link), or not (the rest).
enum Failure {
    Retry(anyhow::Error),
    Fatal(anyhow::Error),
}

/// Downloads `url` into `dest`, through `<dest>.part` so that a half file never
/// carries the final name. An existing `.part` is resumed with an HTTP Range
/// request, a dropped connection is retried, resuming, for 3 tries in all, and the
/// file is renamed into place only once its md5 equals `expected_md5`; on a
/// mismatch the `.part` is deleted, since resuming it could never succeed.
pub fn fetch_file(
    url: &str,
    dest: &Path,
    expected_md5: &str,
    progress: bool,
) -> anyhow::Result<()> {
    let mut part = dest.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .build();
    let bar = if progress {
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let name = dest.file_name().unwrap_or(dest.as_os_str());
        ProgressBar::new(0)
            .with_style(style)
            .with_message(name.to_string_lossy().into_owned())
    } else {
        ProgressBar::hidden()
    };
    let mut attempt = 1;
    loop {
        match fetch_once(&agent, url, &part, &bar) {
            Ok(()) => break,
            Err(Failure::Retry(e)) if attempt < ATTEMPTS => {
                bar.suspend(|| eprintln!("{e:#}; retrying ({attempt}/{ATTEMPTS})"));
                thread::sleep(Duration::from_millis(500 * u64::from(attempt)));
                attempt += 1;
            }
            Err(Failure::Retry(e)) => {
                bar.abandon();
                bail!(
                    "{e:#}; gave up after {ATTEMPTS} tries. What arrived is kept in {}; \
                     run the same command again to resume",
                    part.display()
                );
            }
            Err(Failure::Fatal(e)) => {
                bar.abandon();
                return Err(e);
            }
        }
    }
    bar.finish_and_clear();
    let (found, _) = md5_of_file(&part)?;
    if found != expected_md5 {
        fs::remove_file(&part)
            .with_context(|| format!("cannot delete the bad download {}", part.display()))?;
        bail!(
            "{url} sent a file with the wrong checksum: expected md5 {expected_md5}, found {found}. \
             The download was deleted; try again, or use another mirror (--mirror or $MDPN_MIRROR)"
        );
    }
    fs::rename(&part, dest)
        .with_context(|| format!("cannot rename {} to {}", part.display(), dest.display()))
}

/// One request for `url`, appending to `part` from where it ends.
fn fetch_once(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let offset = match fs::metadata(part) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => {
            return Err(Failure::Fatal(
                anyhow!(e).context(format!("cannot read {}", part.display())),
            ))
        }
    };
    let mut request = agent.get(url);
    if offset > 0 {
        request = request.set("Range", &format!("bytes={offset}-"));
    }
    let response = match request.call() {
        Ok(r) => r,
        // Nothing left past the end of the `.part`: it is complete (or too
        // long, which the checksum will tell).
        Err(ureq::Error::Status(416, _)) if offset > 0 => return Ok(()),
        Err(ureq::Error::Status(code, r)) => {
            let e = anyhow!("{url} answered HTTP {code} {}", r.status_text());
            return Err(if code >= 500 || code == 429 {
                Failure::Retry(e)
            } else {
                Failure::Fatal(e)
            });
        }
        Err(e) => return Err(Failure::Retry(anyhow!("cannot fetch {url}: {e}"))),
    };
    let resumed = response.status() == 206;
    if resumed {
        let expected = format!("bytes {offset}-");
        let range = response.header("Content-Range").unwrap_or("");
        if !range.starts_with(&expected) {
            // The server sent some other piece; start over rather than splice.
            fs::remove_file(part).map_err(|e| {
                Failure::Fatal(anyhow!(e).context(format!("cannot delete {}", part.display())))
            })?;
            return Err(Failure::Retry(anyhow!(
                "{url} answered Range bytes={offset}- with Content-Range {range:?}"
            )));
        }
    }
    let start = if resumed { offset } else { 0 };
    let opened = if resumed {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    };
    let mut out = opened.map_err(|e| {
        Failure::Fatal(anyhow!(e).context(format!("cannot write {}", part.display())))
    })?;
    if let Some(len) = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        bar.set_length(start + len);
    }
    bar.set_position(start);
    let mut body = response.into_reader();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = start;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Retry(anyhow!(
                    "connection to {url} lost after {received} bytes: {e}"
                )))
            }
        };
        out.write_all(&buf[..n]).map_err(|e| {
            Failure::Fatal(anyhow!(e).context(format!("cannot write {}", part.display())))
        })?;
        received += n as u64;
        bar.inc(n as u64);
    }
    out.sync_all()
        .map_err(|e| Failure::Fatal(anyhow!(e).context(format!("cannot write {}", part.display()))))
}

/// Whether we run as root, the only case where apt-get can install anything.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs apt-get non-interactively, its output on our stderr so that stdout
/// stays clean for the command's own results.
fn apt_get(args: &[&str]) -> anyhow::Result<bool> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()))
        .status()
        .with_context(|| format!("cannot run apt-get {}", args.join(" ")))?;
    Ok(status.success())
}

/// Tries Debian's package: only when running as root and `apt-get` exists;
/// runs `apt-get install -y <pkg>` and, if that fails (stale package lists),
/// `apt-get update` then install again. Returns Ok(true) if the Debian dir then
/// holds the files. Output of apt goes to the user's stderr.
pub fn install_debian(ds: &KnownDataset) -> anyhow::Result<bool> {
    let (Some(pkg), Some(dir)) = (ds.debian_package, ds.debian_dir) else {
        return Ok(false);
    };
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_apt || !is_root() {
        return Ok(false);
    }
    eprintln!("{} not found; installing Debian package {pkg}", ds.name);
    if !apt_get(&["install", "-y", pkg])? {
        apt_get(&["update"])?;
        apt_get(&["install", "-y", pkg])?;
    }
    Ok(has_all(ds, Path::new(dir)))
}

/// locate(); if missing: install_debian() unless `$MDPN_NO_APT` is set; else
/// download() into `<data_dir or user cache dir/mdpn>/<name>/`; then locate
/// again. The user gets the data with one command whatever their setup.
pub fn obtain(
    ds: &KnownDataset,
    data_dir: Option<&Path>,
    mirror: Option<&str>,
) -> anyhow::Result<PathBuf> {
    if let Ok(dir) = locate(ds, data_dir) {
        return Ok(dir);
    }
    if env::var_os("MDPN_NO_APT").is_none() {
        match install_debian(ds) {
            Ok(true) => return Ok(locate(ds, data_dir)?),
            Ok(false) => {}
            Err(e) => eprintln!("{e:#}; downloading instead"),
        }
    }
    let root = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => dirs::cache_dir()
            .context("no user cache folder is known here; pass --data-dir DIR")?
            .join("mdpn"),
    };
    let dest = root.join(ds.name);
    eprintln!("downloading {} into {}", ds.name, dest.display());
    download(ds, &dest, mirror, true)?;
    Ok(locate(ds, data_dir)?)
}
