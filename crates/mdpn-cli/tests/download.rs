//! Finding and fetching datasets, against a real HTTP and HTTPS server on loopback and
//! Debian's real Fashion-MNIST files.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use flate2::read::GzDecoder;
use md5::{Digest, Md5};
use mdpn_data::apt::install_debian;
use mdpn_data::download::{download, fetch_file};
use mdpn_data::locate::{find_file, locate, search_dirs, NotFound};
use mdpn_data::obtain::obtain;
use mdpn_data::registry::{known, Format, KnownDataset, KnownFile, FASHION_MNIST};
use mdpn_data::verify::verify;
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tempfile::TempDir;

use crate::common::{gzip, mdpn, program};

const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// What the server should send for one path.
struct Route {
    body: Vec<u8>,
    /// Send only this many bytes of the body, then hang up (first request only).
    drop_first_after: Option<usize>,
}

/// One request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    range: Option<String>,
    status: u16,
    sent: usize,
}

/// A tiny HTTP/1.1 server on 127.0.0.1, plain or over TLS, that serves `routes`, honours
/// `Range: bytes=N-` and can hang up mid-body; it closes every connection
/// after one response.
struct Server {
    base: String,
    log: Arc<Mutex<Vec<Seen>>>,
    /// Connections accepted, also those whose TLS handshake the client broke off.
    connections: Arc<AtomicUsize>,
}

impl Server {
    fn start(routes: Vec<(&str, Route)>) -> Server {
        Server::listen(routes, None)
    }

    /// The server over HTTPS, with a self-signed certificate for 127.0.0.1 made here; also
    /// gives that certificate as PEM, for a client to trust.
    fn start_https(routes: Vec<(&str, Route)>) -> (Server, String) {
        Server::start_https_as(routes, rcgen::IsCa::NoCa)
    }

    /// [`Server::start_https`] with a certificate that is (`openssl req -x509`'s) or is not a
    /// certificate authority's.
    fn start_https_as(routes: Vec<(&str, Route)>, ca: rcgen::IsCa) -> (Server, String) {
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("names");
        params.is_ca = ca;
        let key_pair = rcgen::KeyPair::generate().expect("key");
        let made = rcgen::CertifiedKey {
            cert: params
                .self_signed(&key_pair)
                .expect("self-signed certificate"),
            key_pair,
        };
        let key = PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key.into())
        .expect("server certificate");
        let server = Server::listen(routes, Some(Arc::new(config)));
        (server, made.cert.pem())
    }

    fn listen(routes: Vec<(&str, Route)>, tls: Option<Arc<ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", listener.local_addr().expect("local addr"));
        let routes: HashMap<String, Route> = routes
            .into_iter()
            .map(|(p, r)| (p.to_string(), r))
            .collect();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&connections);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepted.fetch_add(1, Ordering::SeqCst);
                // A client that gives up is its own test's concern.
                let _ = match &tls {
                    None => serve_plain(stream, &routes, &seen),
                    Some(config) => serve_tls(stream, config, &routes, &seen),
                };
            }
        });
        Server {
            base,
            log,
            connections,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("server log").clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve_plain(
    mut stream: TcpStream,
    routes: &HashMap<String, Route>,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    respond(&mut stream, routes, log)?;
    stream.shutdown(Shutdown::Both)
}

/// One exchange over TLS, ended with a close_notify: the client sees a clean end of stream
/// where the plain server hangs up.
fn serve_tls(
    stream: TcpStream,
    config: &Arc<ServerConfig>,
    routes: &HashMap<String, Route>,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let conn = ServerConnection::new(Arc::clone(config)).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(conn, stream);
    respond(&mut tls, routes, log)?;
    tls.conn.send_close_notify();
    tls.flush()?;
    tls.sock.shutdown(Shutdown::Both)
}

fn respond(
    stream: &mut (impl Read + Write),
    routes: &HashMap<String, Route>,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    // A GET has no body: nothing the reader took ahead is lost.
    drop(reader);
    let first = !log
        .lock()
        .expect("server log")
        .iter()
        .any(|s| s.path == path);
    let record = |status, sent| {
        log.lock().expect("server log").push(Seen {
            path: path.clone(),
            range: range.clone(),
            status,
            sent,
        })
    };
    let Some(route) = routes.get(&path) else {
        record(404, 0);
        let body = "no such file";
        return write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    let len = route.body.len();
    let start = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(spec) => spec
            .trim_end_matches('-')
            .parse::<usize>()
            .expect("test client sends bytes=N-"),
        None => 0,
    };
    if start >= len && start > 0 {
        record(416, 0);
        return write!(
            stream,
            "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
    let (status, extra) = if range.is_some() {
        (
            206,
            format!("Content-Range: bytes {start}-{}/{len}\r\n", len - 1),
        )
    } else {
        (200, String::new())
    };
    let reason = if status == 206 {
        "Partial Content"
    } else {
        "OK"
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        len - start
    )?;
    let body = &route.body[start..];
    let sent = match route.drop_first_after {
        Some(cut) if first => cut.min(body.len()),
        _ => body.len(),
    };
    record(status, sent);
    stream.write_all(&body[..sent])?;
    stream.flush()
}

/// Deterministic, incompressible-looking bytes.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    format!("{:x}", Md5::digest(data))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A made-up dataset whose files are `raw` contents, served gzipped (gzip is
/// deterministic, so `gzip(raw)` on the server matches `md5_gz`); leaked because `KnownDataset` holds `'static` data, as the real ones do.
fn test_dataset(name: &str, files: &[(&str, &[u8])], urls: Vec<String>) -> &'static KnownDataset {
    let known: Vec<KnownFile> = files
        .iter()
        .map(|(file, raw)| KnownFile {
            name: leak(file.to_string()),
            md5_gz: leak(md5_hex(&gzip(raw))),
            md5_raw: leak(md5_hex(raw)),
            raw_len: raw.len() as u64,
            gzip: true,
            older_md5: &[],
        })
        .collect();
    let urls: Vec<&'static str> = urls.into_iter().map(leak).collect();
    let name = leak(name.to_string());
    let ds = KnownDataset {
        name,
        folder: name,
        format: Format::Idx(&[]),
        normalisation: (0.0, 1.0),
        debian_package: None,
        debian_dir: None,
        urls: Box::leak(urls.into_boxed_slice()),
        files: Box::leak(known.into_boxed_slice()),
    };
    Box::leak(Box::new(ds))
}

fn part_of(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

fn debian_dir() -> &'static Path {
    let dir = Path::new(DEBIAN_DIR);
    assert!(
        dir.is_dir(),
        "{DEBIAN_DIR} is missing: install Debian's Fashion-MNIST with \
         `sudo apt-get install dataset-fashion-mnist` to run this test"
    );
    dir
}

#[test]
fn fetch_file_downloads_and_verifies() {
    let data = bytes(300_000, 1);
    let server = Server::start(vec![(
        "/plain.bin",
        Route {
            body: data.clone(),
            drop_first_after: None,
        },
    )]);
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join("sub").join("plain.bin");
    fetch_file(&server.url("/plain.bin"), &dest, &md5_hex(&data), true).expect("download");
    assert_eq!(fs::read(&dest).expect("downloaded file"), data);
    assert!(!part_of(&dest).exists(), ".part left behind");
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].range.as_deref(), seen[0].status), (None, 200));
}

#[test]
fn fetch_file_resumes_existing_part() {
    let data = bytes(300_000, 2);
    let server = Server::start(vec![(
        "/resume.bin",
        Route {
            body: data.clone(),
            drop_first_after: None,
        },
    )]);
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join("resume.bin");
    fs::write(part_of(&dest), &data[..100_000]).expect("write .part");
    fetch_file(&server.url("/resume.bin"), &dest, &md5_hex(&data), false).expect("resume");
    assert_eq!(fs::read(&dest).expect("downloaded file"), data);
    assert!(!part_of(&dest).exists(), ".part left behind");
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].range.as_deref(), Some("bytes=100000-"));
    assert_eq!((seen[0].status, seen[0].sent), (206, 200_000));
}

#[test]
fn fetch_file_retries_after_dropped_connection() {
    let data = bytes(400_000, 3);
    let server = Server::start(vec![(
        "/flaky.bin",
        Route {
            body: data.clone(),
            drop_first_after: Some(150_000),
        },
    )]);
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join("flaky.bin");
    fetch_file(&server.url("/flaky.bin"), &dest, &md5_hex(&data), false).expect("retry");
    assert_eq!(fs::read(&dest).expect("downloaded file"), data);
    assert!(!part_of(&dest).exists(), ".part left behind");
    assert_resumed(&server.seen(), 150_000, data.len());
}

/// The requests of one download cut off after `cut` of `len` bytes, then resumed with a Range
/// request where it broke.
fn assert_resumed(seen: &[Seen], cut: usize, len: usize) {
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[0].range.as_deref(), seen[0].sent), (None, cut));
    assert_eq!(
        seen[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    assert_eq!((seen[1].status, seen[1].sent), (206, len - cut));
}

#[test]
fn fetch_file_rejects_wrong_checksum() {
    let good = bytes(200_000, 4);
    let bad = bytes(200_000, 5);
    let server = Server::start(vec![(
        "/bad.bin",
        Route {
            body: bad.clone(),
            drop_first_after: None,
        },
    )]);
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join("bad.bin");
    let url = server.url("/bad.bin");
    let err = fetch_file(&url, &dest, &md5_hex(&good), false).expect_err("bad checksum");
    let msg = format!("{err:#}");
    let (expected, found) = (md5_hex(&good), md5_hex(&bad));
    for needle in [url.as_str(), expected.as_str(), found.as_str()] {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    assert!(!dest.exists(), "bad file kept under its final name");
    assert!(!part_of(&dest).exists(), "bad .part kept");
}

#[test]
fn fetch_file_reports_missing_url() {
    let server = Server::start(vec![]);
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join("missing.bin");
    let url = server.url("/missing.bin");
    let err = fetch_file(&url, &dest, &md5_hex(b""), false).expect_err("404");
    let msg = format!("{err:#}");
    assert!(msg.contains(&url) && msg.contains("404"), "{msg}");
    assert!(!dest.exists() && !part_of(&dest).exists());
    assert_eq!(server.seen().len(), 1, "a 404 is not worth retrying");
}

#[test]
fn download_fetches_only_missing_files_and_falls_back_to_next_url() {
    let (raw_a, raw_b) = (bytes(50_000, 6), bytes(70_000, 7));
    let route = |raw: &[u8]| Route {
        body: gzip(raw),
        drop_first_after: None,
    };
    let server = Server::start(vec![
        ("/mirror/a.gz", route(&raw_a)),
        ("/mirror/b.gz", route(&raw_b)),
    ]);
    let ds = test_dataset(
        "mdpn-test-fallback",
        &[("a", &raw_a), ("b", &raw_b)],
        vec![server.url("/gone/"), server.url("/mirror")],
    );
    assert!(
        std::env::var_os("MDPN_MIRROR").is_none(),
        "unset MDPN_MIRROR to run this test: it overrides the dataset's URLs"
    );
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join(ds.name);
    fs::create_dir_all(&dest).expect("mkdir");
    fs::write(dest.join("a"), &raw_a).expect("write a");

    download(ds, &dest, None, false).expect("download");

    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/gone/b.gz", "/mirror/b.gz"], "only b is missing");
    assert_eq!(locate(ds, Some(tmp.path())).expect("located"), dest);
    assert_eq!(find_file(&dest, "b"), Some(dest.join("b.gz")));
    for file in ds.files {
        let path = find_file(&dest, file.name).expect("file present");
        assert!(verify(file, &path).expect("verify"), "{}", path.display());
    }
}

#[test]
fn download_reports_every_failed_url() {
    let server = Server::start(vec![(
        "/wrong/x.gz",
        Route {
            body: gzip(b"not the data"),
            drop_first_after: None,
        },
    )]);
    let ds = test_dataset("mdpn-test-fail", &[("x", b"the data")], vec![]);
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join(ds.name);
    let mirror = server.url("/wrong/");
    let err = download(ds, &dest, Some(&mirror), false).expect_err("wrong content");
    let msg = format!("{err:#}");
    let url = server.url("/wrong/x.gz");
    for needle in [url.as_str(), ds.files[0].md5_gz, "--mirror"] {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    let left: Vec<_> = fs::read_dir(&dest).expect("dest").collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn obtain_downloads_once_then_finds_local_copy() {
    let raw = bytes(30_000, 8);
    let server = Server::start(vec![(
        "/m/only.gz",
        Route {
            body: gzip(&raw),
            drop_first_after: None,
        },
    )]);
    let ds = test_dataset("mdpn-test-obtain", &[("only", &raw)], vec![]);
    assert!(
        !install_debian(ds).expect("no package"),
        "no package to try"
    );
    let tmp = TempDir::new().expect("temp dir");
    let mirror = server.url("/m");
    let dir = obtain(ds, Some(tmp.path()), Some(&mirror)).expect("obtain");
    assert_eq!(dir, tmp.path().join(ds.name));
    let mut gz = Vec::new();
    GzDecoder::new(fs::File::open(dir.join("only.gz")).expect("downloaded"))
        .read_to_end(&mut gz)
        .expect("gunzip");
    assert_eq!(gz, raw);
    assert_eq!(
        obtain(ds, Some(tmp.path()), Some(&mirror)).expect("again"),
        dir
    );
    assert_eq!(server.seen().len(), 1, "second obtain must not download");
}

#[test]
fn find_file_prefers_raw_over_gz() {
    let tmp = TempDir::new().expect("temp dir");
    let dir = tmp.path();
    assert_eq!(find_file(dir, "f"), None);
    fs::write(dir.join("f.gz"), b"gz").expect("write");
    assert_eq!(find_file(dir, "f"), Some(dir.join("f.gz")));
    fs::write(dir.join("f"), b"raw").expect("write");
    assert_eq!(find_file(dir, "f"), Some(dir.join("f")));
    fs::create_dir(dir.join("d")).expect("mkdir");
    assert_eq!(find_file(dir, "d"), None, "a folder is not a file");
}

/// The only test that touches `$MDPN_DATA`, which is process-wide.
#[test]
fn search_order_and_mdpn_data() {
    let tmp = TempDir::new().expect("temp dir");
    let (arg, env_root) = (tmp.path().join("arg"), tmp.path().join("env"));
    std::env::set_var("MDPN_DATA", &env_root);
    let dirs = search_dirs(&FASHION_MNIST, Some(&arg));
    let mut expected = vec![
        arg.join("fashion-mnist"),
        arg.clone(),
        env_root.join("fashion-mnist"),
        PathBuf::from("data/fashion-mnist"),
    ];
    expected.extend(dirs::cache_dir().map(|c| c.join("mdpn/fashion-mnist")));
    expected.push(PathBuf::from(DEBIAN_DIR));
    assert_eq!(dirs, expected);

    let ds = test_dataset("mdpn-test-order", &[("p", b"p"), ("q", b"q")], vec![]);
    let fill = |root: &Path| {
        let dir = root.join(ds.name);
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("p"), b"p").expect("write");
        fs::write(dir.join("q.gz"), b"q").expect("write");
        dir
    };
    let env_dir = fill(&env_root);
    assert_eq!(
        locate(ds, Some(&arg)),
        Ok(env_dir),
        "env used when arg empty"
    );
    let arg_dir = fill(&arg);
    assert_eq!(locate(ds, Some(&arg)), Ok(arg_dir.clone()), "arg wins");
    fs::remove_file(arg_dir.join("q.gz")).expect("rm");
    assert_eq!(
        locate(ds, Some(&arg)),
        Ok(env_root.join(ds.name)),
        "an incomplete folder is skipped"
    );
    assert_eq!(
        search_dirs(ds, None).last(),
        Some(&Path::new("/usr/share/datasets").join(ds.name)),
        "sets without a Debian package are still looked for where Debian would put them"
    );
    std::env::remove_var("MDPN_DATA");
    assert_eq!(
        search_dirs(ds, Some(&arg))[2],
        PathBuf::from("data").join(ds.name)
    );
}

#[test]
fn not_found_says_where_it_looked_and_what_to_do() {
    let ds = test_dataset("mdpn-test-absent", &[("z", b"z")], vec![]);
    let tmp = TempDir::new().expect("temp dir");
    let err = locate(ds, Some(tmp.path())).expect_err("absent");
    assert_eq!(err.dataset, ds.name);
    assert_eq!(err.looked[0], tmp.path().join(ds.name));
    assert!(err.looked.contains(&PathBuf::from("data").join(ds.name)));
    let msg = err.to_string();
    assert!(
        msg.contains(&tmp.path().join(ds.name).display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("mdpn download mdpn-test-absent"), "{msg}");

    let err = NotFound {
        dataset: "fashion-mnist".into(),
        looked: vec![PathBuf::from("/nowhere/a"), PathBuf::from("/nowhere/b")],
    };
    let msg = err.to_string();
    let mut needles = vec![
        "/nowhere/a",
        "/nowhere/b",
        "sudo apt-get install dataset-fashion-mnist",
        "mdpn download fashion-mnist",
    ];
    needles.extend(FASHION_MNIST.files.iter().map(|f| f.name));
    for needle in needles {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(boxed.to_string().contains("not found"));
}

#[test]
fn known_lists_fashion_mnist() {
    let ds = known("fashion-mnist").expect("fashion-mnist is known");
    assert_eq!(ds, &FASHION_MNIST);
    assert_eq!(ds.files.len(), 4);
    for f in ds.files {
        for md5 in [f.md5_gz, f.md5_raw] {
            assert!(md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    assert!(known("mnist-but-not").is_none());
}

#[test]
fn verify_accepts_debian_fashion_mnist() {
    let dir = debian_dir();
    for file in FASHION_MNIST.files {
        let path = find_file(dir, file.name).unwrap_or_else(|| {
            panic!(
                "{} missing from {DEBIAN_DIR}: reinstall dataset-fashion-mnist",
                file.name
            )
        });
        assert!(verify(file, &path).expect("verify"), "{}", path.display());
    }

    // Raw copies are checked through md5_raw, and a damaged one is refused.
    let labels = &FASHION_MNIST.files[3];
    assert_eq!(labels.name, "t10k-labels-idx1-ubyte");
    let gz = find_file(dir, labels.name).expect("labels");
    let mut raw = Vec::new();
    GzDecoder::new(fs::File::open(&gz).expect("open"))
        .read_to_end(&mut raw)
        .expect("gunzip");
    let tmp = TempDir::new().expect("temp dir");
    let copy = tmp.path().join(labels.name);
    fs::write(&copy, &raw).expect("write");
    assert!(verify(labels, &copy).expect("verify raw"));
    raw[100] ^= 1;
    fs::write(&copy, &raw).expect("write");
    assert!(!verify(labels, &copy).expect("verify damaged"));
    let truncated = tmp.path().join("truncated.gz");
    let whole = fs::read(&gz).expect("read");
    fs::write(&truncated, &whole[..whole.len() / 2]).expect("write");
    assert!(!verify(labels, &truncated).expect("verify truncated gz"));
    assert!(!verify(&FASHION_MNIST.files[2], &gz).expect("wrong file"));
    assert!(
        verify(labels, &tmp.path().join("nope")).is_err(),
        "missing file"
    );
}

/// A data set of one archive kept under its own name (no `.gz`), like MedMNIST's `.npz`.
fn archive_dataset(
    name: &str,
    file: &str,
    body: &[u8],
    older: &[u8],
    url: String,
) -> &'static KnownDataset {
    let files = vec![KnownFile {
        name: leak(file.to_string()),
        md5_gz: leak(md5_hex(body)),
        md5_raw: "",
        raw_len: 0,
        gzip: false,
        older_md5: Box::leak(vec![leak(md5_hex(older))].into_boxed_slice()),
    }];
    let name = leak(name.to_string());
    Box::leak(Box::new(KnownDataset {
        name,
        folder: name,
        format: Format::MedMnist(&mdpn_data::medmnist::MEDMNIST[6]),
        normalisation: (0.5, 0.5),
        debian_package: None,
        debian_dir: None,
        urls: Box::leak(vec![leak(url)].into_boxed_slice()),
        files: Box::leak(files.into_boxed_slice()),
    }))
}

#[test]
fn archives_download_under_their_own_name_and_older_releases_verify() {
    let body = bytes(120_000, 11);
    let older = bytes(1000, 12);
    let server = Server::start(vec![(
        "/files/breastmnist.npz",
        Route {
            body: body.clone(),
            drop_first_after: None,
        },
    )]);
    let ds = archive_dataset(
        "breastmnist",
        "breastmnist.npz",
        &body,
        &older,
        server.url("/files/"),
    );
    let tmp = TempDir::new().expect("temp dir");
    let dest = tmp.path().join("breastmnist");
    download(ds, &dest, None, false).expect("download");
    let path = dest.join("breastmnist.npz");
    assert_eq!(fs::read(&path).expect("downloaded"), body);
    assert!(!dest.join("breastmnist.npz.gz").exists());
    assert!(verify(&ds.files[0], &path).expect("verify"));
    let old = tmp.path().join("old.npz");
    fs::write(&old, &older).expect("write");
    assert!(verify(&ds.files[0], &old).expect("older release"));
    fs::write(&old, b"neither").expect("write");
    assert!(!verify(&ds.files[0], &old).expect("other bytes"));
    assert_eq!(locate(ds, Some(tmp.path())), Ok(dest));
}

#[test]
fn mdpn_download_resumes_and_refuses_a_wrong_checksum() {
    // The real registry entry: whatever a mirror sends that is not the official file is refused.
    let body = bytes(300_000, 13);
    let server = Server::start(vec![(
        "/mirror/breastmnist.npz",
        Route {
            body: body.clone(),
            drop_first_after: Some(100_000),
        },
    )]);
    let tmp = TempDir::new().expect("temp dir");
    let root = tmp.path().to_str().unwrap();
    let out = mdpn(&[
        "download",
        "breastmnist",
        "--data-dir",
        root,
        "--mirror",
        &server.url("/mirror"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a wrong file must fail: {stderr}");
    assert!(
        stderr.contains("wrong checksum") && stderr.contains("750601b1f35ba3300ea97c75c52ff8f6"),
        "{stderr}"
    );
    assert!(stderr.contains(&md5_hex(&body)), "{stderr}");
    let folder = tmp.path().join("breastmnist");
    assert!(
        !folder.join("breastmnist.npz").exists(),
        "bad file under the final name"
    );
    assert!(
        !folder.join("breastmnist.npz.part").exists(),
        "bad .part kept"
    );
    // The dropped connection was resumed where it broke, not restarted.
    assert_resumed(&server.seen(), 100_000, body.len());

    // A .part left by an earlier run is resumed; $MDPN_MIRROR works like --mirror.
    fs::write(folder.join("breastmnist.npz.part"), &body[..50_000]).expect("write .part");
    let mut cmd = program();
    cmd.args(["download", "breastmnist", "--data-dir", root])
        .env("MDPN_MIRROR", server.url("/mirror"));
    let out = cmd.output().expect("run mdpn");
    assert!(!out.status.success());
    let last = server.seen().pop().expect("a request");
    assert_eq!(last.range.as_deref(), Some("bytes=50000-"));

    let out = mdpn(&["download", "no-such-set"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("unknown data set `no-such-set`"),
        "{stderr}"
    );
    let out = mdpn(&["download", "fer2013", "--data-dir", root]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no download address"),
        "{stderr}"
    );
}

/// The only test that sets `$SSL_CERT_FILE` in this process, and the only one here that
/// fetches over HTTPS in-process (spawned programs get their own, see [`mdpn`]).
#[test]
fn fetch_file_over_https_trusts_ssl_cert_file_resumes_and_verifies() {
    let data = bytes(300_000, 21);
    let route = |drop_first_after| Route {
        body: data.clone(),
        drop_first_after,
    };
    let (server, pem) = Server::start_https(vec![
        ("/tls.bin", route(Some(120_000))),
        ("/again.bin", route(None)),
    ]);
    let tmp = TempDir::new().expect("temp dir");
    let cert = tmp.path().join("loopback-ca.pem");
    fs::write(&cert, pem).expect("write certificate");
    std::env::set_var("SSL_CERT_FILE", &cert);

    // Cut off mid-body, retried from where it broke with a Range request, checked by md5.
    let dest = tmp.path().join("tls.bin");
    fetch_file(&server.url("/tls.bin"), &dest, &md5_hex(&data), false).expect("https download");
    assert_eq!(fs::read(&dest).expect("downloaded file"), data);
    assert!(!part_of(&dest).exists(), ".part left behind");
    assert_resumed(&server.seen(), 120_000, data.len());

    // A .part left by an earlier run is resumed over HTTPS too.
    let dest = tmp.path().join("again.bin");
    fs::write(part_of(&dest), &data[..50_000]).expect("write .part");
    fetch_file(&server.url("/again.bin"), &dest, &md5_hex(&data), false).expect("resume");
    assert_eq!(fs::read(&dest).expect("downloaded file"), data);
    let last = server.seen().pop().expect("a request");
    assert_eq!(last.range.as_deref(), Some("bytes=50000-"));
    assert_eq!((last.status, last.sent), (206, 250_000));

    // The md5 is checked: the bytes that came over TLS hash to what the server holds.
    let other = tmp.path().join("other.bin");
    let err = fetch_file(&server.url("/again.bin"), &other, &md5_hex(b"x"), false)
        .expect_err("wrong checksum");
    let msg = err.to_string();
    assert!(
        msg.contains("wrong checksum") && msg.contains(&md5_hex(&data)),
        "{msg}"
    );
    std::env::remove_var("SSL_CERT_FILE");
}

/// `mdpn download breastmnist --mirror MIRROR` into `root`, trusting `ssl_cert_file` if given:
/// whether it succeeded, and its stderr.
fn download_breastmnist(root: &Path, mirror: &str, ssl_cert_file: Option<&Path>) -> (bool, String) {
    let root = root.to_str().expect("UTF-8 temp path");
    let mut cmd = program();
    cmd.args([
        "download",
        "breastmnist",
        "--data-dir",
        root,
        "--mirror",
        mirror,
    ]);
    if let Some(file) = ssl_cert_file {
        cmd.env("SSL_CERT_FILE", file);
    }
    let out = cmd.output().expect("run mdpn");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A failure reported at once: not retried, and without the advice of a network failure.
fn assert_not_retried(stderr: &str) {
    assert!(
        !stderr.contains("retrying") && !stderr.contains("Check the network"),
        "{stderr}"
    );
}

#[test]
fn mdpn_download_over_https_trusts_ssl_cert_file() {
    // As `mdpn_download_resumes_and_refuses_a_wrong_checksum`, over HTTPS: the body arrives
    // whole (its md5 is reported), across a dropped connection resumed with a Range request.
    let body = bytes(300_000, 22);
    let (server, pem) = Server::start_https(vec![(
        "/mirror/breastmnist.npz",
        Route {
            body: body.clone(),
            drop_first_after: Some(100_000),
        },
    )]);
    let tmp = TempDir::new().expect("temp dir");
    let cert = tmp.path().join("loopback-ca.pem");
    fs::write(&cert, pem).expect("write certificate");
    let root = tmp.path().join("data");
    let (ok, stderr) = download_breastmnist(&root, &server.url("/mirror"), Some(&cert));
    assert!(!ok, "a wrong file must fail: {stderr}");
    assert!(
        stderr.contains("wrong checksum") && stderr.contains(&md5_hex(&body)),
        "{stderr}"
    );
    assert!(!stderr.contains("certificate"), "{stderr}");
    assert_resumed(&server.seen(), 100_000, body.len());
    assert!(!root.join("breastmnist/breastmnist.npz").exists());
}

/// A self-signed CA certificate (as `openssl req -x509` makes them) served as the server's own
/// and trusted through SSL_CERT_FILE is refused by webpki (`CaUsedAsEndEntity`): the message
/// says what that means and what to do, at once.
#[test]
fn mdpn_download_explains_a_ca_certificate_served_as_the_servers() {
    let ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let (server, pem) = Server::start_https_as(
        vec![(
            "/mirror/breastmnist.npz",
            Route {
                body: bytes(1000, 24),
                drop_first_after: None,
            },
        )],
        ca,
    );
    let tmp = TempDir::new().expect("temp dir");
    let cert = tmp.path().join("self-signed-ca.pem");
    fs::write(&cert, pem).expect("write certificate");
    let (ok, stderr) = download_breastmnist(
        &tmp.path().join("data"),
        &server.url("/mirror"),
        Some(&cert),
    );
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("CaUsedAsEndEntity")
            && stderr.contains("a certificate authority's own certificate")
            && stderr.contains("leaf certificate signed by that authority"),
        "{stderr}"
    );
    assert_not_retried(&stderr);
    assert_eq!(server.connections(), 1);
}

#[test]
fn mdpn_download_refuses_an_untrusted_certificate_at_once() {
    let (server, _) = Server::start_https(vec![(
        "/mirror/breastmnist.npz",
        Route {
            body: bytes(1000, 23),
            drop_first_after: None,
        },
    )]);
    let tmp = TempDir::new().expect("temp dir");
    let root = tmp.path().join("data");
    let mirror = server.url("/mirror");
    let untrusted = |(ok, stderr): (bool, String)| {
        assert!(!ok, "{stderr}");
        assert!(
            stderr.contains("certificate is not trusted") && stderr.contains("SSL_CERT_FILE"),
            "{stderr}"
        );
        assert_not_retried(&stderr);
    };
    // The system's certificates do not include one made by the test.
    untrusted(download_breastmnist(&root, &mirror, None));
    assert_eq!(
        server.connections(),
        1,
        "a certificate error is not retried"
    );
    // Nor does an SSL_CERT_FILE of another authority: the file replaces the system's.
    let other =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let cert = tmp.path().join("other-ca.pem");
    fs::write(&cert, other.cert.pem()).expect("write certificate");
    untrusted(download_breastmnist(&root, &mirror, Some(&cert)));
    assert_eq!(server.connections(), 2);
    assert!(server.seen().is_empty(), "no request got through");
    assert!(!root.join("breastmnist/breastmnist.npz.part").exists());
    // An SSL_CERT_FILE that cannot be read is said so, before connecting.
    let missing = tmp.path().join("missing.pem");
    let (ok, stderr) = download_breastmnist(&root, &mirror, Some(&missing));
    assert!(
        !ok && stderr.contains("cannot read the trusted certificates"),
        "{stderr}"
    );
    assert_eq!(server.connections(), 2);
}

#[test]
fn mdpn_download_reports_a_bad_address_or_a_missing_file_at_once() {
    let tmp = TempDir::new().expect("temp dir");
    let (ok, stderr) = download_breastmnist(tmp.path(), "ftp://127.0.0.1:9/files", None);
    assert!(!ok, "{stderr}");
    for needle in [
        "ftp://127.0.0.1:9/files/breastmnist.npz",
        "only http:// and https:// addresses",
        "must be an http:// or https:// address",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
    assert_not_retried(&stderr);

    // A mirror without the file: one request, and the advice says so.
    let server = Server::start(vec![]);
    let (ok, stderr) = download_breastmnist(tmp.path(), &server.url("/empty"), None);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("HTTP 404") && stderr.contains("mirror does not have this file"),
        "{stderr}"
    );
    assert_not_retried(&stderr);
    assert_eq!(server.seen().len(), 1, "a 404 is not retried");
}
