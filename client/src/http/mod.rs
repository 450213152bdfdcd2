//! The server's HTTP API, typed with [`parley_protocol::api`]: the server check, signing in and
//! out, documents, comments, versions, roles, attachments and upload sessions, profiles,
//! avatars and the people of a workspace. This is the only
//! HTTP code of Parley's clients; the desktop app and the `parley` command line go through it
//! (most often through a [`Client`](crate::Client), which carries one with its token).

mod attachments;
mod docs;
mod people;

use std::time::Duration;

use parley_protocol::{api, ErrorBody, UserRef};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{de::DeserializeOwned, Serialize};

pub use attachments::ChunkAnswer;

use crate::{Error, Result};

/// How long an ordinary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The server check and signing out: quick, or the server is not there.
const QUICK_TIMEOUT: Duration = Duration::from_secs(5);

/// The server's HTTP API at one address, with a session's token or without one (checking a
/// server, signing in, registering). Cheap to clone.
#[derive(Clone)]
pub struct HttpApi {
    server: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl HttpApi {
    /// The API of `server` (`http://host:port`), without a token.
    pub fn new(server: &str) -> Result<Self> {
        let tls = crate::tls::config_for(server)?;
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
            .redirect(no_downgrade())
            .build()
            .map_err(|e| Error::Http(e.to_string()))?;
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            token: None,
            http,
        })
    }

    /// The same API, signed in with `token`.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// `http://host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `GET /healthz`: the server answers and its store is reachable. A 503 is the server's
    /// refusal; anything else that is not 200 means this is not a Parley server.
    pub async fn health(&self) -> Result<api::Health> {
        let response = self
            .call(Method::GET, &["healthz"])?
            .timeout(QUICK_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if status.is_success() {
            return read_json(response).await;
        }
        Err(Error::Http(format!(
            "{} answered {status} (is it a Parley server?)",
            self.server
        )))
    }

    /// `POST /api/login`: a token for the user (`device` labels it in the user's token list).
    pub async fn login(&self, credentials: &api::Credentials) -> Result<api::Session> {
        self.json(
            self.call(Method::POST, &["api", "login"])?
                .json(credentials),
        )
        .await
    }

    /// `POST /api/register` (open registration, or with `credentials.invite` where the server
    /// registers by invitation): the new user's token.
    pub async fn register(&self, credentials: &api::Credentials) -> Result<api::Session> {
        self.json(
            self.call(Method::POST, &["api", "register"])?
                .json(credentials),
        )
        .await
    }

    /// `POST /api/logout`: the server revokes this token.
    pub async fn logout(&self) -> Result<()> {
        let request = self
            .call(Method::POST, &["api", "logout"])?
            .timeout(QUICK_TIMEOUT);
        self.no_content(request).await
    }

    /// `GET /api/me`: who the token signs in.
    pub async fn me(&self) -> Result<UserRef> {
        self.json(self.call(Method::GET, &["api", "me"])?).await
    }

    /// `POST /api/me/password`: changes this account's password; with `sign_out_others`, its
    /// other tokens are revoked. The answer says how many.
    pub async fn change_password(
        &self,
        change: &api::PasswordChange,
    ) -> Result<api::PasswordChanged> {
        self.json(
            self.call(Method::POST, &["api", "me", "password"])?
                .json(change),
        )
        .await
    }

    /// `GET /api/me/tokens`: this account's live tokens (never the tokens themselves).
    pub async fn tokens(&self) -> Result<api::TokenList> {
        self.json(self.call(Method::GET, &["api", "me", "tokens"])?)
            .await
    }

    /// `DELETE /api/me/tokens/{id}`: revokes one of this account's tokens; its sessions close.
    pub async fn revoke_token(&self, id: i64) -> Result<()> {
        let id = id.to_string();
        self.no_content(self.call(Method::DELETE, &["api", "me", "tokens", &id])?)
            .await
    }

    /// A request to the path made of `segments` (each percent-encoded), with the token.
    fn call(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        let mut url = reqwest::Url::parse(&self.server)
            .map_err(|e| Error::Invalid(format!("bad server address {}: {e}", self.server)))?;
        url.path_segments_mut()
            .map_err(|()| Error::Invalid(format!("bad server address {}", self.server)))?
            .pop_if_empty()
            .extend(segments);
        let request = self.http.request(method, url);
        Ok(match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    }

    /// Sends a request; a refusal becomes `Error::Server` with the server's error body.
    async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(refusal(response).await)
        }
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        read_json(self.send(request).await?).await
    }

    async fn no_content(&self, request: RequestBuilder) -> Result<()> {
        self.send(request).await.map(drop)
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        self.json(self.call(method, segments)?.json(body)).await
    }

    fn unreachable(&self, err: reqwest::Error) -> Error {
        crate::tls::classify(&self.server, &err, || {
            Error::Unreachable(format!("cannot reach {}: {err}", self.server))
        })
    }
}

/// Redirects are followed (a proxy sending `http://` to `https://`), but never from `https://`
/// to `http://`: a token must not leave a secure connection for a plain one.
fn no_downgrade() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let from_https = attempt.previous().iter().any(|u| u.scheme() == "https");
        if from_https && attempt.url().scheme() != "https" {
            let to = attempt.url().to_string();
            attempt.error(format!("refused a redirect from https to {to}"))
        } else if attempt.previous().len() > 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T> {
    let status = response.status();
    response
        .json()
        .await
        .map_err(|e| Error::Http(format!("unexpected answer ({status}): {e}")))
}

/// The server's refusal: its error body, or (not Parley answering) the status.
async fn refusal(response: Response) -> Error {
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => Error::Server(body),
        Err(_) => Error::Http(format!("the server answered {status}")),
    }
}

/// `404`: for upload sessions, the server forgot the session.
fn is_not_found(status: StatusCode) -> bool {
    status == StatusCode::NOT_FOUND
}
