//! Opening a page in headless Chromium for the tests, with every way off the machine watched.
//!
//! Chromium is pointed at a proxy of ours on loopback that records whatever reaches it and
//! answers 502, and its resolver maps every host name to "not found": a request that honours
//! the proxy is caught (and counted), one that tried to go around it fails DNS. Loopback
//! itself is taken out of the bypass list so even `127.0.0.1` goes through the proxy.
//!
//! The resolver rule must exclude the proxy's own address: `MAP * ~NOTFOUND` alone also maps
//! `127.0.0.1`, the proxy cannot be reached, every request fails before it is seen, and a
//! test would count zero requests whatever the page did.
//!
//! Chromium 156 headless reaches for a few Google hosts by itself, even for a blank page and
//! with `--disable-background-networking --disable-component-update` (see
//! [`CHROMIUM_INTERNAL_HOSTS`]). Those requests are kept apart in
//! [`BrowserRun::chromium_internal`], and only while the page does not name the host, so a
//! page that loads from one of them is still caught.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a page did in the browser.
#[derive(Debug)]
pub struct BrowserRun {
    /// The DOM after load (and after the page's load script ran).
    pub dom: String,
    /// The screenshot was written and starts with the PNG signature.
    pub screenshot_is_png: bool,
    /// Request lines the proxy received (`GET http://host/ HTTP/1.1`, `CONNECT host:443 …`),
    /// or a note for a connection that sent none. Chromium's own background requests are not
    /// here but in `chromium_internal`.
    pub requests: Vec<String>,
    /// Requests to [`CHROMIUM_INTERNAL_HOSTS`] by a page that does not name them.
    pub chromium_internal: Vec<String>,
    /// Wall time of both browser runs.
    pub elapsed: Duration,
}

/// A browser run taking longer than this is hung, not slow.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Hosts headless Chromium 156 contacts with nothing loaded: `update.googleapis.com`
/// (component/extension update check, not stopped by `--disable-component-update`),
/// `accounts.google.com` (a sign-in connection) and `clients2.google.com` (network time, which
/// `--disable-features=NetworkTimeServiceQuerying` stops; listed in case a build ignores it).
/// Seen on a blank `<title>` page with this module's flags.
pub const CHROMIUM_INTERNAL_HOSTS: [&str; 3] = ["update.googleapis.com", "accounts.google.com", "clients2.google.com"];

/// `html` opened from `file://` twice: once to screenshot it to `png`, once to dump its DOM.
pub fn open_in_chromium(html: &Path, png: &Path) -> Result<BrowserRun, String> {
    let chromium = find_on_path(&["chromium", "chromium-browser"]).ok_or_else(|| {
        "chromium is not on PATH: the report page test needs it. Install it with \
         `sudo apt-get install chromium` (scripts/setup.sh does this)"
            .to_string()
    })?;
    let html = html.canonicalize().map_err(|e| format!("{}: {e}", html.display()))?;
    let text = std::fs::read_to_string(&html).map_err(|e| format!("{}: {e}", html.display()))?;
    let url = format!("file://{}", html.display());
    let proxy = Proxy::start()?;
    let profile = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let started = Instant::now();
    let _ = std::fs::remove_file(png);
    let shot = [format!("--screenshot={}", png.display()), url.clone()];
    run(&chromium, &proxy, &profile.path().join("shot"), &shot)?;
    // The virtual time budget lets the load event (and so the page's script) run before the
    // DOM is dumped; headless dumps as soon as the document is parsed otherwise.
    let dump = ["--virtual-time-budget=3000".to_string(), "--dump-dom".to_string(), url];
    let dom = run(&chromium, &proxy, &profile.path().join("dom"), &dump)?;
    let elapsed = started.elapsed();
    let screenshot_is_png = std::fs::read(png).is_ok_and(|b| b.starts_with(PNG_MAGIC));
    let (chromium_internal, requests) = proxy.stop().into_iter().partition(|r| is_chromium_internal(r, &text));
    Ok(BrowserRun { dom, screenshot_is_png, requests, chromium_internal, elapsed })
}

/// Whether `request` (a proxy request line) went to a Chromium-internal host that `page` does
/// not mention: a page naming the host anywhere could have caused it, so it stays suspect.
fn is_chromium_internal(request: &str, page: &str) -> bool {
    request_host(request).is_some_and(|h| CHROMIUM_INTERNAL_HOSTS.contains(&h) && !page.contains(h))
}

/// The host of `CONNECT host:port HTTP/1.1` or `GET http://host[:port]/path HTTP/1.1`.
fn request_host(request: &str) -> Option<&str> {
    let target = request.split_whitespace().nth(1)?;
    let authority = target.split_once("://").map_or(target, |(_, rest)| rest);
    let authority = authority.split('/').next()?;
    authority.rsplit_once(':').map_or(Some(authority), |(host, _)| Some(host))
}

fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    names.iter().flat_map(|n| dirs.iter().map(move |d| d.join(n))).find(|p| p.is_file())
}

/// One headless run with `args` after the common flags; its stdout.
fn run(chromium: &Path, proxy: &Proxy, profile: &Path, args: &[String]) -> Result<String, String> {
    let out_dir = profile.with_extension("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    // Files, not pipes: the DOM carries the players' audio inline and would fill a pipe
    // while we wait for the process.
    let (stdout, stderr) = (out_dir.join("stdout"), out_dir.join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut child = Command::new(chromium)
        .args(common_flags(proxy.port, profile))
        .args(args)
        .stdin(Stdio::null())
        .stdout(file(&stdout)?)
        .stderr(file(&stderr)?)
        .spawn()
        .map_err(|e| format!("{}: {e}", chromium.display()))?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| format!("waiting for chromium: {e}"))? {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("chromium {args:?} did not finish in {RUN_TIMEOUT:?}"));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    if !status.success() {
        return Err(format!("chromium {args:?} exited with {status}:\n{}", read(&stderr)));
    }
    Ok(read(&stdout))
}

fn common_flags(port: u16, profile: &Path) -> Vec<String> {
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-default-apps",
        "--window-size=1280,1800",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--disable-features=NetworkTimeServiceQuerying",
    ];
    let mut v: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    v.push(format!("--proxy-server=http://127.0.0.1:{port}"));
    v.push(format!("--user-data-dir={}", profile.display()));
    v
}

/// The recording proxy: accepts on loopback in a thread until stopped.
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Proxy {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("proxy bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("proxy addr: {e}"))?.port();
        let (seen, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let line = conn.map_or_else(|e| format!("(accept failed: {e})"), answer);
                if let Ok(mut v) = s.lock() {
                    v.push(line);
                }
            }
        });
        Ok(Self { port, seen, stop, thread })
    }

    /// Everything recorded. The accept loop is woken by one last connection of our own, which
    /// it sees after the stop flag and so does not record.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let _ = self.thread.join();
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// The request line of one connection, answered with a 502 so the client gives up at once.
fn answer(mut conn: TcpStream) -> String {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let read = conn.try_clone().map(|c| BufReader::new(c).read_line(&mut line));
    let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    match read {
        Ok(Ok(n)) if n > 0 => line.trim_end().to_string(),
        _ => "(connection that sent no request line)".into(),
    }
}
