//! The server process and its operating system: the open-file limit every connection counts
//! against, and ending with the process that started it (`serve --exit-with-parent`).

/// Raises the soft limit on open files to the hard limit (each connection is a file descriptor,
/// and the usual soft limit of 1024 would refuse connections long before `max_connections`).
/// Returns the soft limit in force afterwards; warns when `max_connections` cannot fit in it.
pub fn raise_open_file_limit(max_connections: usize) -> Option<u64> {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            tracing::warn!(%err, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?.0
        }
    };
    // Room for the database, its WAL, attachments being read or written, and the listener.
    const RESERVED: u64 = 64;
    let needed = (max_connections as u64).saturating_add(RESERVED);
    if limit < needed {
        tracing::warn!(
            open_file_limit = limit,
            max_connections,
            "the open-file limit is below realtime.max_connections (plus {RESERVED} for the \
             server's own files): connections beyond it will fail; raise the hard limit \
             (ulimit -Hn, LimitNOFILE=) or lower max_connections"
        );
    }
    Some(limit)
}

/// The parent process as the server first saw it; read it as early as possible in `main`.
#[derive(Debug, Clone, Copy)]
pub struct Parent(Option<u32>);

impl Parent {
    pub fn current() -> Self {
        #[cfg(unix)]
        {
            Self(rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get() as u32))
        }
        #[cfg(not(unix))]
        {
            Self(None)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParentError {
    #[error("the process that started parley-server has already exited")]
    Gone,
    #[error("cannot ask to be told when the parent process exits: {0}")]
    Unsupported(String),
}

/// Makes the kernel send this process SIGTERM when its parent exits (Linux `PR_SET_PDEATHSIG`),
/// which shuts the server down cleanly. Then checks that the parent is still the one `main` saw:
/// if it exited before the request took effect, the signal will never come, so this fails.
///
/// The signal comes when the *thread* that started the server ends, not only the process: a
/// parent must start the server from a thread that lives as long as it wants the server.
pub fn exit_with_parent(parent: Parent) -> Result<(), ParentError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
            .map_err(|e| ParentError::Unsupported(e.to_string()))?;
        let now = Parent::current();
        // Orphans are adopted by init (pid 1) or by a subreaper, so either tells.
        match (parent.0, now.0) {
            (Some(before), Some(after)) if before == after && after != 1 => Ok(()),
            _ => Err(ParentError::Gone),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = parent;
        Err(ParentError::Unsupported(
            "--exit-with-parent is only supported on Linux".into(),
        ))
    }
}
