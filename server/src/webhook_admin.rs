//! The admin CLI's `parley-server webhook …` commands. Part of the binary (`main.rs`).

use anyhow::{bail, Context};
use parley_server::{
    config::Config,
    store::{AdminStore, NewEndpoint},
    webhooks,
};

use crate::WebhookCommand;

pub(crate) fn webhook_command(config: &Config, cmd: WebhookCommand) -> anyhow::Result<()> {
    let store = AdminStore::open(config)?;
    match cmd {
        WebhookCommand::List => {
            let backlog = store.webhook_backlog()?;
            for hook in store.webhook_endpoints()? {
                let counts = backlog.get(&hook.id).copied().unwrap_or_default();
                let channels = if hook.channels.is_empty() {
                    "every channel".to_owned()
                } else {
                    hook.channels.join(",")
                };
                println!(
                    "{}\t{}\t{}\t{}\t{} ({})\t{} pending, {} dead{}",
                    hook.id,
                    hook.url,
                    hook.events.join(","),
                    channels,
                    hook.source,
                    if hook.disabled { "disabled" } else { "enabled" },
                    counts.pending,
                    counts.dead,
                    hook.last_error
                        .map(|e| format!("\tlast error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
        WebhookCommand::Add {
            url,
            events,
            channels,
            secret,
        } => {
            let secret = secret.unwrap_or_else(webhooks::new_secret);
            webhooks::check_endpoint(&url, &secret, &events, &channels)
                .map_err(|e| anyhow::anyhow!("{}", e.0.message))?;
            let record = store.add_webhook(
                &NewEndpoint {
                    url,
                    secret: secret.clone(),
                    events,
                    channels,
                    source: "api".into(),
                },
                config.webhook_delivery.max_endpoints,
            )?;
            println!("{secret}");
            eprintln!(
                "webhook {} added: {} (a running server starts delivering within {:?})",
                record.id, record.url, config.webhook_delivery.poll_interval
            );
        }
        WebhookCommand::Remove { id } => {
            let declared = store
                .webhook_endpoints()?
                .into_iter()
                .find(|h| h.id == id)
                .with_context(|| format!("no webhook endpoint {id}"))?;
            if declared.source == "config" {
                bail!(
                    "webhook {id} is declared in the configuration ([[webhooks]]): remove it there"
                );
            }
            store.remove_webhook(id)?;
            eprintln!("webhook {id} removed");
        }
        WebhookCommand::Replay { id } => {
            let n = store.replay_webhook(id)?;
            eprintln!("{n} dead deliveries of webhook {id} queued again");
        }
    }
    Ok(())
}
