//! Hosting on the local network: the certificate the app makes once for its hosted server
//! (rcgen, ECDSA P-256, kept in `<server data>/tls/`), its fingerprint (what invite links carry
//! and joiners pin: no authority vouches for it), and the addresses others can reach this
//! computer at (shown as the join address, and allowed as `Host`s).

use std::path::{Path, PathBuf};

use rustls_pki_types::{pem::PemObject, CertificateDer};

use crate::types::AppError;

/// The hosts a hosted server answers to (`server.allowed_hosts`; the port is not compared).
pub const LOOPBACK_HOSTS: &str = r#"["127.0.0.1","localhost","[::1]"]"#;

/// The hosted server's certificate files and fingerprint.
#[derive(Debug, Clone)]
pub struct HostCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub fingerprint: String,
}

fn failed(what: &str, err: impl std::fmt::Display) -> AppError {
    AppError::new("host_failed", format!("{what}: {err}"))
}

/// The certificate of `data` (made on first use, then kept: joiners have pinned it, so a new
/// one would lock them out).
pub fn certificate(data: &Path) -> Result<HostCertificate, AppError> {
    let dir = data.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert.exists() || !key.exists() {
        parley_client::files::private_dir(&dir).map_err(|e| failed("certificate folder", e))?;
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        names.extend(host_names());
        names.extend(lan_addresses().iter().map(|ip| ip.to_string()));
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| failed("cannot make a certificate", e))?;
        write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
        write_private(&cert, generated.cert.pem().as_bytes())?;
    }
    let pem = std::fs::read(&cert).map_err(|e| failed("cannot read the certificate", e))?;
    let der = CertificateDer::from_pem_slice(&pem)
        .map_err(|e| failed("the hosted server's certificate is damaged", e))?;
    Ok(HostCertificate {
        cert,
        key,
        fingerprint: parley_client::tls::fingerprint(der.as_ref()),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    parley_client::files::private_file(path).map_err(|e| failed("cannot write", e))?;
    std::fs::write(path, bytes).map_err(|e| failed(&path.display().to_string(), e))
}

/// This computer's own addresses on its networks: IPv4 ones that are not loopback or
/// link-local, in a stable order.
pub fn lan_addresses() -> Vec<std::net::IpAddr> {
    let mut addresses: Vec<std::net::IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|interface| interface.ip())
        .filter(|ip| match ip {
            std::net::IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local(),
            std::net::IpAddr::V6(_) => false,
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// This computer's name, and `NAME.local` (mDNS), as others on the LAN may know it.
pub fn host_names() -> Vec<String> {
    let uname = rustix::system::uname();
    let name = uname
        .nodename()
        .to_string_lossy()
        .trim()
        .to_ascii_lowercase();
    if name.is_empty() || name == "localhost" {
        return Vec::new();
    }
    vec![format!("{name}.local"), name]
}

/// Where others join: `https://ADDRESS:PORT` for each LAN address.
pub fn join_urls(port: u16) -> Vec<String> {
    lan_addresses()
        .into_iter()
        .map(|ip| format!("https://{ip}:{port}"))
        .collect()
}

/// Whether `url` names this computer only (127.0.0.0/8, `::1`, `localhost`): a link to it
/// works for other accounts on this computer, not for other computers.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(host) = tauri::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// `server.allowed_hosts` for a LAN-hosted server: loopback, this computer's names and
/// addresses.
pub fn allowed_hosts() -> String {
    let mut hosts: Vec<String> = vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()];
    hosts.extend(host_names());
    hosts.extend(lan_addresses().iter().map(|ip| ip.to_string()));
    serde_json::to_string(&hosts).unwrap_or_else(|_| LOOPBACK_HOSTS.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_made_once_and_kept() {
        let data = tempfile::tempdir().unwrap();
        let first = certificate(data.path()).unwrap();
        assert!(first.fingerprint.starts_with("sha256:"));
        let again = certificate(data.path()).unwrap();
        assert_eq!(
            first.fingerprint, again.fingerprint,
            "a new one would lock joiners out"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The server accepts the pair.
        assert!(parley_server_accepts(&first));
    }

    fn parley_server_accepts(cert: &HostCertificate) -> bool {
        let pem = std::fs::read(&cert.key).unwrap();
        rustls_pki_types::PrivateKeyDer::from_pem_slice(&pem).is_ok()
    }

    #[test]
    fn loopback_urls_are_told_apart() {
        for url in [
            "http://127.0.0.1:7878",
            "https://127.8.0.1",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://192.168.1.4:7878",
            "https://chat.example.org",
            "not a url",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn allowed_hosts_is_a_json_list_with_loopback() {
        let hosts: Vec<String> = serde_json::from_str(&allowed_hosts()).unwrap();
        assert!(hosts.contains(&"127.0.0.1".to_owned()));
        assert!(!hosts.iter().any(|h| h.is_empty()));
    }
}
