//! TLS for `https://` and `wss://` servers, one rustls configuration for both the HTTP API
//! (reqwest) and the WebSockets (tokio-tungstenite), so the two can never disagree about whom
//! to trust. Trusted: the operating system's certificate store, plus the PEM certificates in
//! the file `PARLEY_CA_FILE` names (a team's own CA, or a server's self-signed certificate).
//!
//! A server can instead be **pinned** ([`pin`]): its certificate is then trusted when, and only
//! when, its SHA-256 fingerprint is the pinned one, whoever signed it. That is how a workspace
//! hosted from the desktop app on a LAN is joined: its invite link carries the fingerprint of the
//! certificate the host's app made, and joining pins it (trust on first use of the link).
//!
//! A certificate that does not verify is an error naming the server and what was wrong
//! ([`describe`]); Parley never retries over plain HTTP.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock, RwLock},
};

use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{ServerName, UnixTime},
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{pem::PemObject, CertificateDer};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite;

use crate::{Error, Result};

/// The environment variable naming extra PEM certificates to trust.
pub const CA_FILE_ENV: &str = "PARLEY_CA_FILE";

/// Largest `PARLEY_CA_FILE` read.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// The configuration for `server` (`https://host:port`): its pinned certificate's, or
/// [`client_config`].
pub fn config_for(server: &str) -> Result<Arc<ClientConfig>> {
    let pinned = pins()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&origin(server))
        .cloned();
    match pinned {
        Some(config) => Ok(config),
        None => client_config(),
    }
}

/// Trusts `server`'s certificate by its fingerprint (`sha256:` and 64 hex digits, as
/// [`fingerprint`] writes it) from now on in this process, instead of by its issuer.
pub fn pin(server: &str, fingerprint: &str) -> Result<()> {
    let digest = parse_fingerprint(fingerprint)?;
    let verifier = Arc::new(Pinned {
        digest,
        provider: provider(),
    });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    pins()
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(origin(server), Arc::new(config));
    Ok(())
}

/// A certificate's fingerprint as Parley shows and pins it: `sha256:` and the lowercase hex
/// SHA-256 of its DER encoding.
pub fn fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

pub(crate) fn parse_fingerprint(text: &str) -> Result<[u8; 32]> {
    let bad = || {
        Error::Invalid(format!(
            "{text:?} is not a certificate fingerprint (sha256: and 64 hex digits)"
        ))
    };
    let hex_part = text
        .trim()
        .strip_prefix("sha256:")
        .ok_or_else(bad)?
        .replace(':', "");
    let bytes = hex::decode(hex_part.to_ascii_lowercase()).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// `https://Host:443/path` → `https://host:443`: what pins are keyed by.
fn origin(server: &str) -> String {
    match reqwest::Url::parse(server) {
        Ok(url) => format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default().to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => server.trim_end_matches('/').to_ascii_lowercase(),
    }
}

fn pins() -> &'static RwLock<HashMap<String, Arc<ClientConfig>>> {
    static PINS: OnceLock<RwLock<HashMap<String, Arc<ClientConfig>>>> = OnceLock::new();
    PINS.get_or_init(Default::default)
}

/// Accepts exactly the certificate with the pinned digest; the handshake's signatures are
/// still checked, so only the holder of that certificate's key gets through.
#[derive(Debug)]
struct Pinned {
    digest: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if Sha256::digest(end_entity.as_ref()).as_slice() == self.digest {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The process's configuration: built once (reading the system store costs a few
/// milliseconds), from the environment as it was at first use.
pub fn client_config() -> Result<Arc<ClientConfig>> {
    static CONFIG: OnceLock<std::result::Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let extra = std::env::var_os(CA_FILE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
            build(extra.as_deref()).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(Error::Invalid)
}

/// A configuration trusting the system store and the certificates in `extra_ca`.
pub fn build(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    // Unreadable entries of the system store are skipped: one bad file there must not stop
    // every connection.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca {
        let added = add_pem_file(&mut roots, path)?;
        tracing::debug!(path = %path.display(), added, "trusting extra certificates");
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Adds every certificate of a PEM file; an unreadable file, or one without a certificate,
/// is an error naming it (a mistyped `PARLEY_CA_FILE` must not look like an untrusted server).
fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<usize> {
    use std::io::Read;
    let bad = |what: String| Error::Invalid(format!("{CA_FILE_ENV} {}: {what}", path.display()));
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| bad(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(bad("larger than 4 MiB".into()));
    }
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad("none of its certificates could be used".into()));
    }
    Ok(added)
}

/// When `err`'s causes include a TLS failure, a sentence for a person: which server, what was
/// wrong with its certificate, and what to do about it.
pub(crate) fn describe(server: &str, err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(sentence(server, tls));
        }
        if let Some(tungstenite::error::TlsError::Rustls(tls)) =
            e.downcast_ref::<tungstenite::error::TlsError>()
        {
            return Some(sentence(server, tls));
        }
        // reqwest wraps the handshake's failure in io::Errors, whose `source` skips the error
        // they wrap: step into them instead.
        cause = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn sentence(server: &str, err: &rustls::Error) -> String {
    use rustls::{CertificateError as C, Error as E};
    let why = match err {
        E::InvalidCertificate(C::UnknownIssuer) => {
            "its certificate is not signed by an authority this computer trusts \
             (for a private or self-signed certificate, name its CA file in PARLEY_CA_FILE)"
                .to_owned()
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "its certificate is for another host name".to_owned()
        }
        E::InvalidCertificate(C::ApplicationVerificationFailure) => {
            "its certificate is not the one pinned for it when this computer joined \
             (the workspace's certificate was replaced, or someone is in between)"
                .to_owned()
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "its certificate has expired".to_owned()
        }
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "its certificate is not valid yet (is this computer's clock right?)".to_owned()
        }
        E::InvalidCertificate(other) => format!("its certificate was refused ({other:?})"),
        other => format!("the secure connection failed ({other})"),
    };
    format!("cannot trust {server}: {why}")
}

/// The error for a failed connection: a certificate problem as [`Error::Certificate`], anything
/// else as `otherwise`.
pub(crate) fn classify(
    server: &str,
    err: &(dyn std::error::Error + 'static),
    otherwise: impl FnOnce() -> Error,
) -> Error {
    match describe(server, err) {
        Some(message) => Error::Certificate(message),
        None => otherwise(),
    }
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket: `wss://` with [`client_config`], `ws://` plain. A certificate failure's
/// message is from [`describe`], naming `server`.
pub(crate) async fn connect_ws(
    server: &str,
    request: tungstenite::handshake::client::Request,
) -> std::result::Result<(WsStream, tungstenite::handshake::client::Response), WsConnectError> {
    let connector = if request.uri().scheme_str() == Some("wss") {
        Some(tokio_tungstenite::Connector::Rustls(
            config_for(server).map_err(|e| WsConnectError::Other(e.to_string()))?,
        ))
    } else {
        None
    };
    tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector)
        .await
        .map_err(|err| match err {
            tungstenite::Error::Http(response) => WsConnectError::Http(response),
            other => match describe(server, &other) {
                Some(message) => WsConnectError::Certificate(message),
                None => WsConnectError::Other(other.to_string()),
            },
        })
}

/// Why a WebSocket could not be opened.
pub(crate) enum WsConnectError {
    /// The server answered the upgrade with an HTTP error.
    Http(Box<tungstenite::http::Response<Option<Vec<u8>>>>),
    /// Its certificate did not verify ([`describe`]).
    Certificate(String),
    Other(String),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_the_form_they_are_written() {
        let written = fingerprint(b"certificate");
        assert!(written.starts_with("sha256:") && written.len() == 7 + 64);
        assert_eq!(
            parse_fingerprint(&written).unwrap().as_slice(),
            Sha256::digest(b"certificate").as_slice()
        );
        // Colon-separated and upper case, as other tools print them.
        let colons = written.as_bytes()[7..]
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert!(parse_fingerprint(&format!("sha256:{colons}")).is_ok());
        for bad in ["", "sha256:", "md5:abcd", "sha256:zz", &written[..20]] {
            assert!(parse_fingerprint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pins_are_keyed_by_origin() {
        assert_eq!(origin("https://Host.LAN:7878/"), "https://host.lan:7878");
        assert_eq!(origin("https://host.lan"), "https://host.lan:443");
        assert_eq!(
            origin("https://192.168.1.5:7878/ws"),
            "https://192.168.1.5:7878"
        );
    }
}
