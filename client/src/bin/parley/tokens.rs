//! `parley tokens` and `parley tokens revoke ID`: the signed-in account's tokens.

use anyhow::{bail, Result};
use parley_client::HttpApi;
use serde_json::json;

use crate::{signed_in, Out, Paths};

pub async fn list(paths: &Paths, out: &Out) -> Result<()> {
    let (session, token) = signed_in(paths)?;
    let server = HttpApi::new(&session.server)?.with_token(&token);
    let list = match server.tokens().await {
        Ok(list) => list,
        Err(parley_client::Error::Server(body)) => bail!("refused: {}", body.message),
        Err(err) => return Err(err.into()),
    };
    for token in list.tokens {
        let scope = token.scope.as_ref().map(|s| {
            let ops: Vec<&str> = s.operations.iter().map(|o| o.as_str()).collect();
            format!("{} in {}", ops.join(","), s.channels.join(","))
        });
        out.line(serde_json::to_value(&token)?, || {
            let mut line = format!(
                "{:>5}  {}{}  created {}  last used {}",
                token.id,
                token.label,
                if token.current { " (this one)" } else { "" },
                token.created_at,
                token.last_used_at.as_deref().unwrap_or("never"),
            );
            if let Some(at) = &token.expires_at {
                line.push_str(&format!("  expires {at}"));
            }
            if let Some(scope) = &scope {
                line.push_str(&format!("  scope {scope}"));
            }
            line
        });
    }
    Ok(())
}

pub async fn revoke(paths: &Paths, out: &Out, id: i64) -> Result<()> {
    let (session, token) = signed_in(paths)?;
    let server = HttpApi::new(&session.server)?.with_token(&token);
    match server.revoke_token(id).await {
        Ok(()) => {}
        Err(parley_client::Error::Server(body)) => bail!("not revoked: {}", body.message),
        Err(err) => return Err(err.into()),
    }
    out.line(json!({"kind": "token_revoked", "id": id}), || {
        format!("token {id} revoked")
    });
    Ok(())
}
