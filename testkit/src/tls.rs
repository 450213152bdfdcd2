//! Certificates for TLS tests: a private certificate authority made fresh for each test, and
//! server certificates it signs for loopback (`127.0.0.1`, `::1`, `localhost`), written as PEM
//! files in a temporary directory. Clients trust the CA through `PARLEY_CA_FILE` = [`TestCa::ca_file`].

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A throwaway CA and the files it wrote.
pub struct TestCa {
    dir: tempfile::TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
    issued: usize,
}

/// A server certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The certificate, DER, for fingerprints.
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).expect("write CA");
        Self {
            dir,
            issuer,
            issued: 0,
        }
    }

    /// The CA's certificate (what `PARLEY_CA_FILE` names).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new server certificate for the loopback names, in new files.
    pub fn issue(&mut self) -> ServerCert {
        self.issue_for(&["127.0.0.1", "::1", "localhost"])
    }

    /// A new server certificate for `names` (host names or addresses), in new files.
    pub fn issue_for(&mut self, names: &[&str]) -> ServerCert {
        self.issued += 1;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params.distinguished_name.push(
            DnType::CommonName,
            format!("parley test server {}", self.issued),
        );
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let cert_path = self.dir.path().join(format!("server-{}.pem", self.issued));
        let key_path = self.dir.path().join(format!("server-{}.key", self.issued));
        // The chain a server sends: its certificate, then the CA's.
        std::fs::write(&cert_path, format!("{}{}", cert.pem(), self.issuer.pem()))
            .expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        ServerCert {
            cert: cert_path,
            key: key_path,
            der: cert.der().to_vec(),
        }
    }
}

/// A rustls client configuration that trusts `ca` (and nothing else).
pub fn rustls_client(ca: &Path) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read CA") {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A reqwest client that trusts `ca` (and nothing else).
pub fn http_client(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(rustls::ClientConfig::clone(&rustls_client(ca)))
        .build()
        .expect("TLS client")
}
