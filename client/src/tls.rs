//! TLS for `https://` and `wss://` servers, one rustls configuration for both the HTTP API
//! (reqwest) and the WebSockets (tokio-tungstenite), so the two can never disagree about whom
//! to trust. Trusted: the operating system's certificate store, plus the PEM certificates in
//! the file `PARLEY_CA_FILE` names (a team's own CA, or a server's self-signed certificate).
//!
//! A certificate that does not verify is an error naming the server and what was wrong
//! ([`describe`]); Parley never retries over plain HTTP.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{pem::PemObject, CertificateDer};
use tokio_tungstenite::tungstenite;

use crate::{Error, Result};

/// The environment variable naming extra PEM certificates to trust.
pub const CA_FILE_ENV: &str = "PARLEY_CA_FILE";

/// Largest `PARLEY_CA_FILE` read.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

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
            client_config().map_err(|e| WsConnectError::Other(e.to_string()))?,
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
