//! `parley login`, `parley logout` and `parley passwd`: a token from the server, kept in the OS keyring (or a
//! private file where none runs), and the session file that says which server and user.

use anyhow::{bail, Result};
use parley_client::{credentials, HttpApi};
use parley_protocol::api;
use serde_json::json;

use crate::{signed_in, Out, Paths, Session};

/// Signs in with an existing token (a bot's, from `parley-server token create`): the server
/// says whose it is, or refuses it.
pub async fn login_with_token(paths: &Paths, out: &Out, url: &str, token: &str) -> Result<()> {
    if token.is_empty() {
        bail!("no token on standard input");
    }
    let server = HttpApi::new(url)?;
    let user = match server.with_token(token).me().await {
        Ok(user) => user,
        Err(parley_client::Error::Server(body)) => bail!("token refused: {}", body.message),
        Err(parley_client::Error::Http(answer)) => bail!("token refused: {answer}"),
        Err(err) => return Err(err.into()),
    };
    let server = server.server().to_owned();
    remember(paths, out, server, user.name, token)
}

pub async fn login(paths: &Paths, out: &Out, url: &str, user: &str, password: &str) -> Result<()> {
    let server = HttpApi::new(url)?;
    let credentials = api::Credentials {
        name: user.to_owned(),
        password: password.to_owned(),
        display_name: None,
        device: Some("parley-cli".into()),
        invite: None,
    };
    let session = match server.login(&credentials).await {
        Ok(session) => session,
        Err(parley_client::Error::Server(body)) => bail!("sign-in refused: {}", body.message),
        Err(parley_client::Error::Http(answer)) => bail!("sign-in refused: {answer}"),
        Err(err) => return Err(err.into()),
    };
    let server = server.server().to_owned();
    remember(paths, out, server, session.user.name, &session.token)
}

/// Registers `user` with the invite of `link` (at `via` when given), pinning the link's
/// certificate fingerprint first, and signs in.
pub async fn accept_invite(
    paths: &Paths,
    out: &Out,
    link: &str,
    via: Option<&str>,
    user: &str,
    password: &str,
) -> Result<()> {
    let invite = parley_client::invite::InviteLink::parse(link)?;
    let url = via.unwrap_or(&invite.server);
    if let Some(fingerprint) = &invite.fingerprint {
        parley_client::tls::pin(url, fingerprint)?;
        out.note(
            json!({"kind": "pinned", "server": url, "fingerprint": fingerprint}),
            &format!("trusting the certificate {fingerprint} for {url} (from the invite link)"),
        );
    }
    let server = HttpApi::new(url)?;
    let credentials = api::Credentials {
        name: user.to_owned(),
        password: password.to_owned(),
        display_name: None,
        device: Some("parley-cli".into()),
        invite: Some(invite.code.clone()),
    };
    let session = match server.register(&credentials).await {
        Ok(session) => session,
        Err(parley_client::Error::Server(body)) => bail!("registration refused: {}", body.message),
        Err(err) => return Err(err.into()),
    };
    let server = server.server().to_owned();
    remember_pinned(
        paths,
        out,
        server,
        session.user.name,
        &session.token,
        invite.fingerprint,
    )
}

/// Creates an account (`POST /api/register`, with an invite where the server needs one) and
/// keeps its token as `login` does.
pub async fn register(
    paths: &Paths,
    out: &Out,
    url: &str,
    credentials: &api::Credentials,
) -> Result<()> {
    let server = HttpApi::new(url)?;
    let session = match server.register(credentials).await {
        Ok(session) => session,
        Err(parley_client::Error::Server(body)) => {
            bail!("registration refused: {} ({})", body.message, body.code)
        }
        Err(parley_client::Error::Http(answer)) => bail!("registration refused: {answer}"),
        Err(err) => return Err(err.into()),
    };
    let server = server.server().to_owned();
    remember(paths, out, server, session.user.name, &session.token)
}

/// Keeps the token (keyring, else a private file) and the session, and says so.
fn remember(paths: &Paths, out: &Out, server: String, name: String, token: &str) -> Result<()> {
    remember_pinned(paths, out, server, name, token, None)
}

fn remember_pinned(
    paths: &Paths,
    out: &Out,
    server: String,
    name: String,
    token: &str,
    fingerprint: Option<String>,
) -> Result<()> {
    let stored = credentials::save(&server, &name, token, &paths.config)?;
    parley_client::files::private_dir(&paths.config)?;
    std::fs::write(
        paths.session_file(),
        serde_json::to_string(&Session {
            server: server.clone(),
            user: name.clone(),
            fingerprint,
        })?,
    )?;
    let (where_, warning) = match &stored {
        credentials::Stored::Keyring => ("keyring".to_owned(), None),
        credentials::Stored::File(path) => (
            path.display().to_string(),
            Some(format!(
                "no keyring service is running: the token is in {} (readable only by you)",
                path.display()
            )),
        ),
    };
    if let Some(warning) = &warning {
        out.note(
            json!({"kind": "warning", "warning": warning}),
            &format!("warning: {warning}"),
        );
    }
    out.line(
        json!({"kind": "signed_in", "server": server, "user": name, "token_store": where_}),
        || format!("signed in to {server} as {name}"),
    );
    Ok(())
}

/// Changes the signed-in account's password (`POST /api/me/password`).
pub async fn passwd(
    paths: &Paths,
    out: &Out,
    current: &str,
    new: &str,
    sign_out_others: bool,
) -> Result<()> {
    let (session, token) = signed_in(paths)?;
    let server = HttpApi::new(&session.server)?.with_token(&token);
    let change = api::PasswordChange {
        current_password: current.to_owned(),
        new_password: new.to_owned(),
        sign_out_others,
    };
    let changed = match server.change_password(&change).await {
        Ok(changed) => changed,
        Err(parley_client::Error::Server(body)) => bail!("not changed: {}", body.message),
        Err(err) => return Err(err.into()),
    };
    out.line(
        json!({"kind": "password_changed", "user": session.user, "signed_out": changed.signed_out}),
        || match changed.signed_out {
            0 => "password changed".to_owned(),
            n => format!("password changed; {n} other session(s) signed out"),
        },
    );
    Ok(())
}

pub async fn logout(paths: &Paths, out: &Out) -> Result<()> {
    let (session, token) = signed_in(paths)?;
    let revoked = match HttpApi::new(&session.server) {
        Ok(server) => server.with_token(&token).logout().await.is_ok(),
        Err(_) => false,
    };
    credentials::delete(&session.server, &session.user, &paths.config);
    let _ = std::fs::remove_file(paths.session_file());
    out.line(
        json!({"kind": "signed_out", "user": session.user, "revoked_on_server": revoked}),
        || {
            if revoked {
                format!("signed out {}", session.user)
            } else {
                format!(
                    "signed out {} here (the server could not be reached to revoke the token)",
                    session.user
                )
            }
        },
    );
    Ok(())
}
