//! A real nginx (Debian's package) in front of a server, terminating TLS as docs/deployment.md
//! configures it: WebSocket upgrades passed on `/ws` and `/docs/`, `X-Forwarded-For` appended.
//! Everything it writes (config, pid, temp files) stays in a temporary directory, and its log
//! goes to its stderr.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{tls::ServerCert, START_TIMEOUT};

/// A running nginx; stopped when dropped.
pub struct Nginx {
    child: Child,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The site configuration of docs/deployment.md, for a server at `upstream`. nginx connects to
/// the server from `proxy_bind` (a loopback address a test can tell apart from its own).
pub fn site_config(
    upstream: SocketAddr,
    listen: SocketAddr,
    cert: &ServerCert,
    proxy_bind: IpAddr,
) -> String {
    format!(
        r#"
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen {listen} ssl;
        ssl_certificate     {cert};
        ssl_certificate_key {key};
        client_max_body_size 0;
        location / {{
            proxy_pass http://{upstream};
            proxy_bind {proxy_bind};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
"#,
        cert = cert.cert.display(),
        key = cert.key.display(),
    )
}

impl Nginx {
    /// Starts nginx on a free loopback port in front of `upstream`; ready when it accepts.
    pub async fn start(upstream: SocketAddr, cert: &ServerCert, proxy_bind: IpAddr) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = crate::free_port();
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let prefix = dir.path();
        let temp = |name: &str| -> PathBuf {
            let path = prefix.join(name);
            std::fs::create_dir_all(&path).expect("nginx temp dir");
            path
        };
        // Root runs the workers as root too: they read files in this 0700 directory.
        let user = if rustix::process::geteuid().is_root() {
            "user root;"
        } else {
            ""
        };
        let config = format!(
            r#"
{user}
daemon off;
worker_processes 1;
pid {pid};
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};
{site}
}}
"#,
            pid = prefix.join("nginx.pid").display(),
            body = temp("body").display(),
            proxy = temp("proxy").display(),
            fastcgi = temp("fastcgi").display(),
            uwsgi = temp("uwsgi").display(),
            scgi = temp("scgi").display(),
            site = site_config(upstream, listen, cert, proxy_bind),
        );
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, config).expect("write nginx.conf");
        let child = Command::new(nginx_binary())
            .arg("-e")
            .arg("stderr")
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx (Debian package nginx; scripts/test.sh installs it)");
        let mut nginx = Self {
            child,
            url: format!("https://{listen}"),
            _dir: dir,
        };
        tokio::time::timeout(START_TIMEOUT, async {
            loop {
                if let Some(status) = nginx.child.try_wait().expect("nginx status") {
                    panic!("nginx exited at start: {status}");
                }
                if tokio::net::TcpStream::connect(listen).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("nginx did not start listening in time");
        nginx
    }
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: a graceful stop; the kill after it covers a stuck one.
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
