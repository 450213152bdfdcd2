//! A document replica the editor has open, bridged to its Y.Doc: remote updates, other
//! people's awareness and connection changes go up to the UI on the `open_doc` channel (local
//! updates come down through the `doc_update` command).

use parley_client::{docs::ReplicaEvent, DocReplica};
use tauri::ipc::Channel;

use crate::{
    error::CmdResult,
    types::{AppError, DocPush},
};

/// An open document: its replica, the observer of its updates and the task relaying its
/// awareness. Dropping it stops all three.
pub struct OpenDoc {
    replica: DocReplica,
    relay: tokio::task::JoinHandle<()>,
}

/// The key of the update observer the bridge puts on a replica's document.
const OBSERVER: &str = "parley-app-bridge";

impl Drop for OpenDoc {
    fn drop(&mut self) {
        self.relay.abort();
        let _ = self.replica.doc().unobserve_update_v1(OBSERVER);
    }
}

impl OpenDoc {
    /// Bridges `replica` to the editor: from now on every update not made through the bridge,
    /// every awareness update and connection change is pushed on `on_push`.
    pub fn bridge(replica: DocReplica, on_push: Channel<DocPush>) -> CmdResult<Self> {
        let push = on_push.clone();
        let local = yrs::Origin::from(parley_client::docs::LOCAL_ORIGIN);
        replica
            .doc()
            .observe_update_v1(OBSERVER, move |txn, event| {
                if txn.origin() != Some(&local) {
                    let _ = push.send(DocPush::Update {
                        update: event.update.clone(),
                    });
                }
            })
            .map_err(AppError::internal)?;
        let mut events = replica.events();
        let push = on_push.clone();
        let _ = push.send(DocPush::Connected {
            connected: replica.is_connected(),
        });
        let relay = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ReplicaEvent::Awareness(update)) => {
                        let _ = push.send(DocPush::Awareness { update });
                    }
                    Ok(ReplicaEvent::Connected(connected)) => {
                        let _ = push.send(DocPush::Connected { connected });
                    }
                    Ok(ReplicaEvent::Renamed(name)) => {
                        let _ = push.send(DocPush::Renamed { name });
                    }
                    // The editor stops: the document was deleted, or access was lost.
                    Ok(ReplicaEvent::Gone(reason)) => {
                        let _ = push.send(DocPush::Gone { reason });
                        return;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Self { replica, relay })
    }

    pub fn replica(&self) -> &DocReplica {
        &self.replica
    }
}
