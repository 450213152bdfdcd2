//! A real Caddy (Debian's package, 2.6) in front of a server, terminating TLS with the site
//! block of docs/deployment.md: WebSocket upgrades (`/ws`, `/docs/`) and `X-Forwarded-For`
//! are Caddy's defaults, `flush_interval -1` sends live frames at once. The test's own bits
//! are the certificate (`tls`), the loopback `bind`, and global options that keep Caddy to a
//! temporary directory: no admin endpoint, no automatic HTTPS, no trust-store installs, its
//! storage, `HOME` and XDG directories there. Its log goes to its stderr.
//!
//! Caddy 2.6 cannot choose the address it connects to the server from (the `local_address`
//! of its HTTP transport came in 2.7), so it connects from 127.0.0.1: tests trust that address
//! and connect to Caddy from another loopback address to tell client and proxy apart.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{tls::ServerCert, START_TIMEOUT};

/// A running Caddy; stopped (and reaped) when dropped.
pub struct Caddy {
    child: Child,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// The site block of docs/deployment.md for the site `address` in front of `upstream`. With
/// `cert` (a test), Caddy listens on loopback only and serves that certificate; without, the
/// block is exactly the documented one (Caddy gets the certificate itself).
pub fn site_config(address: &str, upstream: &str, cert: Option<&ServerCert>) -> String {
    let test_only = match cert {
        Some(cert) => format!(
            "\tbind 127.0.0.1\n\ttls {} {}\n",
            cert.cert.display(),
            cert.key.display()
        ),
        None => String::new(),
    };
    // Tabs: Caddy warns about a Caddyfile that `caddy fmt` would change.
    format!(
        "{address} {{\n\
         {test_only}\
         \treverse_proxy {upstream} {{\n\
         \t\t# Live frames are sent at once, never held in a buffer.\n\
         \t\tflush_interval -1\n\
         \t}}\n\
         }}\n"
    )
}

/// The whole Caddyfile of a test: global options that keep Caddy to `dir`, then the site.
fn caddyfile(dir: &Path, listen: SocketAddr, upstream: SocketAddr, cert: &ServerCert) -> String {
    format!(
        "{{\n\
         \tadmin off\n\
         \tauto_https off\n\
         \tskip_install_trust\n\
         \tstorage file_system {storage}\n\
         }}\n\
         \n\
         {site}",
        storage = dir.join("storage").display(),
        site = site_config(
            &format!("https://{listen}"),
            &upstream.to_string(),
            Some(cert)
        ),
    )
}

impl Caddy {
    /// Starts Caddy on a free loopback port in front of `upstream`, serving `cert` (whose
    /// file holds the chain up to the test CA); ready once it answers an HTTPS request.
    pub async fn start(upstream: SocketAddr, cert: &ServerCert) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let listen = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let config = dir.path().join("Caddyfile");
        std::fs::write(&config, caddyfile(dir.path(), listen, upstream, cert))
            .expect("write Caddyfile");
        let child = Command::new(caddy_binary())
            .arg("run")
            .arg("--config")
            .arg(&config)
            .args(["--adapter", "caddyfile"])
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start caddy (Debian package caddy; scripts/test.sh installs it)");
        let mut caddy = Self {
            child,
            url: format!("https://{listen}"),
            addr: listen,
            _dir: dir,
        };
        // The certificate file holds the CA too: trusting its certificates trusts the chain.
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(&crate::tls::rustls_client(
                &cert.cert,
            )))
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .expect("TLS client");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = caddy.child.try_wait().expect("caddy status") {
                panic!("caddy exited at start: {status}");
            }
            // Any answer (even the upstream's) means Caddy listens and completes handshakes.
            match client.get(format!("{}/healthz", caddy.url)).send().await {
                Ok(_) => return caddy,
                Err(err) if Instant::now() > deadline => {
                    panic!("caddy did not answer HTTPS within {START_TIMEOUT:?}: {err}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

fn caddy_binary() -> PathBuf {
    ["/usr/bin/caddy", "/usr/local/bin/caddy"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("caddy"))
}

impl Drop for Caddy {
    fn drop(&mut self) {
        // SIGTERM: a graceful stop; the kill after it covers a stuck one.
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
