//! Downloading a known set's official files over HTTP or HTTPS: resumable (`.part` files and
//! Range requests), retried while the link is the problem, and accepted only once the md5
//! matches. HTTPS goes through rustls with the system's certificates, or with those of
//! `$SSL_CERT_FILE` when it is set (a company proxy's own certificate authority).

use std::env;
use std::error::Error as StdError;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::locate::find_file;
use crate::registry::KnownDataset;
use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use crate::verify::md5_of_file;

/// What went wrong with one file, which decides whether another try can help and what the
/// user can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The connection failed or the server is busy (5xx, 429): retried, then resumable.
    Link,
    /// The address cannot be fetched: not `http://` or `https://`, or malformed.
    Address,
    /// The server's certificate is not trusted here.
    Certificate,
    /// The server answered with this error status, which asking again cannot change (4xx).
    Refused(u16),
    /// What arrived is not the official file.
    Checksum,
    /// This machine could not store what arrived.
    Local,
}

impl Problem {
    /// What the user can do about it; `mirror` when the address was theirs (--mirror).
    fn advice(self, mirror: bool) -> Option<&'static str> {
        Some(match self {
            Problem::Link => {
                "Check the network connection, then run the same command again (it resumes what arrived)."
            }
            Problem::Address if mirror => {
                "A mirror (--mirror or $MDPN_MIRROR) must be an http:// or https:// address."
            }
            Problem::Certificate => {
                "HTTPS servers are checked against the system's certificates, or instead against \
                 those of the PEM file named by SSL_CERT_FILE when it is set: if your network (a \
                 company proxy) has its own certificate authority, point SSL_CERT_FILE at a file \
                 that holds it."
            }
            Problem::Refused(404 | 410) if mirror => {
                "The mirror does not have this file: it must serve the official file names \
                 under the address given (--mirror or $MDPN_MIRROR)."
            }
            Problem::Refused(404 | 410) => {
                "The file is gone from its official address: pass a mirror that has it \
                 (--mirror or $MDPN_MIRROR)."
            }
            Problem::Refused(_) => "The server refused the request; asking again will not help.",
            Problem::Address | Problem::Checksum | Problem::Local => return None,
        })
    }
}

/// One file could not be downloaded: the [`Problem`], and the message naming the address.
#[derive(Debug)]
pub struct FetchError {
    pub problem: Problem,
    error: anyhow::Error,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl StdError for FetchError {}

fn fail(problem: Problem, error: anyhow::Error) -> FetchError {
    FetchError { problem, error }
}

/// This machine failed to store or read back the download.
fn local(error: impl Into<anyhow::Error>, what: String) -> FetchError {
    fail(Problem::Local, error.into().context(what))
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
    let mirror = mirror.or(env_mirror.as_deref());
    let bases: Vec<&str> = match mirror {
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
        if file.md5_gz.is_empty() {
            bail!(
                "no checksum is known for {} of {}, so it cannot be downloaded safely; put it in {} by hand",
                file.name,
                ds.name,
                dest.display()
            );
        }
        let gz = if file.gzip {
            format!("{}.gz", file.name)
        } else {
            file.name.to_string()
        };
        let target = dest.join(&gz);
        let mut failures = Vec::new();
        for base in &bases {
            let url = format!("{}/{gz}", base.trim_end_matches('/'));
            match fetch_file(&url, &target, file.md5_gz, progress) {
                Ok(()) => break,
                Err(e) => failures.push(e),
            }
        }
        if failures.len() == bases.len() {
            let mut message = format!("could not download {gz} of {}:", ds.name);
            for failure in &failures {
                message += &format!("\n  {failure}");
            }
            let mut advice: Vec<&str> = failures
                .iter()
                .filter_map(|f| f.problem.advice(mirror.is_some()))
                .collect();
            advice.dedup();
            for line in advice {
                message += &format!("\n{line}");
            }
            if let Some(pkg) = ds.debian_package {
                message += &format!("\nOr install it with `sudo apt-get install {pkg}`.");
            }
            bail!(message);
        }
    }
    Ok(())
}

/// How many times one file is requested before giving up on a flaky link.
const ATTEMPTS: u32 = 3;

/// Downloads `url` into `dest`, through `<dest>.part` so that a half file never
/// carries the final name. An existing `.part` is resumed with an HTTP Range
/// request; a failing link (see [`Problem::Link`]) is retried, resuming, for 3 tries in all;
/// any other problem is reported at once. The file is renamed into place only once its md5
/// equals `expected_md5`; on a mismatch the `.part` is deleted, since resuming it could never
/// succeed.
pub fn fetch_file(
    url: &str,
    dest: &Path,
    expected_md5: &str,
    progress: bool,
) -> Result<(), FetchError> {
    let mut part = dest.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| local(e, format!("cannot create {}", parent.display())))?;
    }
    let mut agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60));
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if https {
        agent = agent.tls_config(trusted_tls()?);
    }
    let agent = agent.build();
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
            Err(e) if e.problem == Problem::Link && attempt < ATTEMPTS => {
                bar.suspend(|| eprintln!("{e}; retrying ({attempt}/{ATTEMPTS})"));
                thread::sleep(Duration::from_millis(500 * u64::from(attempt)));
                attempt += 1;
            }
            Err(e) => {
                bar.abandon();
                if e.problem != Problem::Link {
                    return Err(e);
                }
                let kept = match fs::metadata(&part) {
                    Ok(meta) if meta.len() > 0 => format!(
                        "; the {} bytes that arrived are kept in {}",
                        meta.len(),
                        part.display()
                    ),
                    _ => String::new(),
                };
                let error = anyhow!("{:#}; gave up after {ATTEMPTS} tries{kept}", e.error);
                return Err(fail(Problem::Link, error));
            }
        }
    }
    bar.finish_and_clear();
    let (found, _) = md5_of_file(&part).map_err(|e| fail(Problem::Local, e))?;
    if found != expected_md5 {
        fs::remove_file(&part).map_err(|e| {
            local(
                e,
                format!("cannot delete the bad download {}", part.display()),
            )
        })?;
        return Err(fail(
            Problem::Checksum,
            anyhow!(
                "{url} sent a file with the wrong checksum: expected md5 {expected_md5}, found \
                 {found}. The download was deleted; try again, or use another mirror (--mirror \
                 or $MDPN_MIRROR)"
            ),
        ));
    }
    fs::rename(&part, dest).map_err(|e| {
        local(
            e,
            format!("cannot rename {} to {}", part.display(), dest.display()),
        )
    })
}

/// TLS that trusts the system's certificates, or instead those of `$SSL_CERT_FILE` (a PEM
/// file) and `$SSL_CERT_DIR` when set, as OpenSSL does. Read for each file, so that the
/// variables in effect at that moment count.
fn trusted_tls() -> Result<Arc<rustls::ClientConfig>, FetchError> {
    let certificates = rustls_native_certs::load_native_certs().map_err(|e| {
        fail(
            Problem::Certificate,
            anyhow!(e).context(
                "cannot read the trusted certificates (the system's, or those of SSL_CERT_FILE \
                 and SSL_CERT_DIR when set)",
            ),
        )
    })?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(certificates);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            fail(
                Problem::Certificate,
                anyhow!(e).context("cannot set up TLS"),
            )
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why a request got no response, as a [`Problem`]: a certificate or an address is reported
/// at once, the rest is the link.
fn transport_problem(url: &str, error: &ureq::Transport) -> FetchError {
    if let Some(cert) = certificate_error(error) {
        if ca_used_as_end_entity(cert) {
            return fail(
                Problem::Certificate,
                anyhow!(
                    "cannot fetch {url}: the server's certificate is not trusted ({cert}): it is \
                     a certificate authority's own certificate (a self-signed one made with \
                     `openssl req -x509` is marked as one), which cannot also be the server's. \
                     Make the server a leaf certificate signed by that authority (`openssl x509 \
                     -req -CA ca.pem -CAkey ca.key ...` on a request for its name), serve that, \
                     and keep SSL_CERT_FILE pointing at the authority's certificate"
                ),
            );
        }
        return fail(
            Problem::Certificate,
            anyhow!("cannot fetch {url}: the server's certificate is not trusted ({cert})"),
        );
    }
    match error.kind() {
        ureq::ErrorKind::UnknownScheme => fail(
            Problem::Address,
            anyhow!("cannot fetch {url}: only http:// and https:// addresses can be downloaded"),
        ),
        ureq::ErrorKind::InvalidUrl => fail(
            Problem::Address,
            anyhow!("cannot fetch {url}: not a valid address ({error})"),
        ),
        _ => {
            // ureq's message starts with the address, which ours already names.
            let text = error.to_string();
            let text = text.strip_prefix(&format!("{url}: ")).unwrap_or(&text);
            fail(Problem::Link, anyhow!("cannot fetch {url}: {text}"))
        }
    }
}

/// Whether `error` is webpki's `CaUsedAsEndEntity`: the server sent a CA certificate (one that
/// a trusted file holds, typically) as its own, which curl accepts and webpki does not.
fn ca_used_as_end_entity(error: &rustls::Error) -> bool {
    matches!(error, rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
        if other.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity))
}

/// The TLS certificate error somewhere in the causes of `error`, if any. An I/O error hides its
/// inner error from `source()`, so it is opened by hand.
fn certificate_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>()
        {
            return Some(tls);
        }
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    None
}

/// One request for `url`, appending to `part` from where it ends.
fn fetch_once(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    bar: &ProgressBar,
) -> Result<(), FetchError> {
    let offset = match fs::metadata(part) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(local(e, format!("cannot read {}", part.display()))),
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
            let busy = code >= 500 || code == 429;
            return Err(fail(
                if busy {
                    Problem::Link
                } else {
                    Problem::Refused(code)
                },
                e,
            ));
        }
        Err(ureq::Error::Transport(t)) => return Err(transport_problem(url, &t)),
    };
    let resumed = response.status() == 206;
    if resumed {
        let expected = format!("bytes {offset}-");
        let range = response.header("Content-Range").unwrap_or("");
        if !range.starts_with(&expected) {
            // The server sent some other piece; start over rather than splice.
            fs::remove_file(part)
                .map_err(|e| local(e, format!("cannot delete {}", part.display())))?;
            return Err(fail(
                Problem::Link,
                anyhow!("{url} answered Range bytes={offset}- with Content-Range {range:?}"),
            ));
        }
    }
    let start = if resumed { offset } else { 0 };
    let opened = if resumed {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    };
    let cannot_write = |e: io::Error| local(e, format!("cannot write {}", part.display()));
    let mut out = opened.map_err(cannot_write)?;
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
                return Err(fail(
                    Problem::Link,
                    anyhow!("connection to {url} lost after {received} bytes: {e}"),
                ))
            }
        };
        out.write_all(&buf[..n]).map_err(cannot_write)?;
        received += n as u64;
        bar.inc(n as u64);
    }
    out.sync_all().map_err(cannot_write)
}
