//! A real `nats-server -js` for the scale-out tests: loopback, a port the test chooses (workers
//! may be started before the server, and a restart must come back on the same port), the given
//! store folder (a restart with the same folder keeps the streams). Killed when dropped, so a
//! failed assertion leaves nothing running.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().expect("its address").port()
}

/// The URL of a server on `port`.
pub fn nats_url(port: u16) -> String {
    format!("nats://127.0.0.1:{port}")
}

pub struct NatsServer(Child);

impl NatsServer {
    /// Starts the server and waits (up to 20 s) until it listens.
    pub fn start(port: u16, store: &Path) -> Self {
        let store = store.to_str().expect("the store folder's path is UTF-8");
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd", store])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is not installed: run scripts/setup.sh (Debian package nats-server)");
        let server = Self(child);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "nats-server did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    pub fn kill(mut self) {
        self.0.kill().expect("kill nats-server");
        self.0.wait().expect("wait for nats-server");
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
