//! The admin CLI's commands for people: `parley-server invite …` and the `user` commands
//! beyond `add` (list, disable, enable, delete, reset-code). Part of the binary (`main.rs`).

use anyhow::{bail, Context};
use parley_server::{
    accounts::{invites, people},
    config::Config,
    store::{self, AdminStore, UserRecord},
};

use crate::{InviteCommand, UserCommand};

fn user_named(store: &AdminStore, name: &str) -> anyhow::Result<UserRecord> {
    store
        .user_by_name(name)?
        .with_context(|| format!("no user {name:?}"))
}

fn date(ms: i64) -> String {
    store::format_ts(ms)
}

pub(crate) fn invite_command(config: &Config, cmd: InviteCommand) -> anyhow::Result<()> {
    let store = AdminStore::open(config)?;
    match cmd {
        InviteCommand::Create { uses, expires, by } => {
            let by = match by {
                Some(name) => user_named(&store, &name)?,
                None => store.first_admin()?.context(
                    "there is no admin to make the invite: create one with `user add --admin`, \
                     or name the inviter with --by NAME",
                )?,
            };
            let (code, invite) =
                invites::new_invite(&config.accounts, &by, uses, expires.as_deref())?;
            let record = store.create_invite(&invite)?;
            println!("{code}");
            eprintln!(
                "invite {} by {}: {} use(s), expires {}",
                record.id,
                by.name,
                record.uses_left,
                date(record.expires_at)
            );
        }
        InviteCommand::List => {
            for invite in store.live_invites()? {
                println!(
                    "{}\tby {}\t{} use(s) left\texpires {}",
                    invite.id,
                    invite.created_by.name,
                    invite.uses_left,
                    date(invite.expires_at)
                );
            }
        }
        InviteCommand::Revoke { id } => {
            if !store.revoke_invite(id)? {
                bail!("no live invite {id}");
            }
            eprintln!("invite {id} revoked");
        }
    }
    Ok(())
}

pub(crate) fn user_command(
    config: &Config,
    store: &AdminStore,
    cmd: UserCommand,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add { .. } => bail!("handled by main"),
        UserCommand::List => {
            let mut after = 0;
            loop {
                let page = store.accounts(after, people::MAX_USERS_PAGE)?;
                let Some(last) = page.last() else { break };
                after = last.user.id;
                for account in &page {
                    let user = &account.user;
                    println!(
                        "{}\t{}\t{}{}{}",
                        user.id,
                        user.name,
                        user.display_name.as_deref().unwrap_or("-"),
                        if user.is_admin { "\tadmin" } else { "" },
                        if account.disabled { "\tdisabled" } else { "" },
                    );
                }
            }
        }
        UserCommand::Disable { name } => {
            let user = user_named(store, &name)?;
            let revoked = store.set_disabled(user.id, true)?;
            eprintln!(
                "disabled {} ({} token(s) revoked; a running server closes their sessions \
                 within server.token_check_interval)",
                user.name,
                revoked.len()
            );
        }
        UserCommand::Enable { name } => {
            let user = user_named(store, &name)?;
            store.set_disabled(user.id, false)?;
            eprintln!("enabled {}", user.name);
        }
        UserCommand::Delete { name } => {
            let user = user_named(store, &name)?;
            store.delete_user(user.id)?;
            eprintln!(
                "deleted {} (their messages stay, as by \"deleted user\")",
                user.name
            );
        }
        UserCommand::ResetCode { name } => {
            let user = user_named(store, &name)?;
            let (code, hash) = invites::new_code(people::RESET_PREFIX);
            let expires_at =
                store::now_ms().saturating_add(people::reset_expiry_ms(&config.accounts));
            store.set_reset_code(user.id, &hash, expires_at)?;
            println!("{code}");
            eprintln!("reset code for {} expires {}", user.name, date(expires_at));
        }
    }
    Ok(())
}
