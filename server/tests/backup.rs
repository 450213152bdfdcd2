//! `parley-server backup` and `restore` on the real binary: a backup taken while clients keep
//! sending holds every message acknowledged before it began and every attachment its database
//! refers to; a restore refuses a damaged backup, a data directory a server runs on, and one
//! that holds data (unless `--force`, which moves that data aside).
#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::Output,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use parley_testkit::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How long a backup or restore may take on a loaded machine.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `parley-server --config … --data <data> <args>` (as the kit's `admin` does, but waited
/// for with a timeout, and on any data directory).
async fn admin_on(server: &TestServer, data: &Path, args: &[&str]) -> Output {
    let child = tokio::process::Command::new(workspace_binary("parley-server"))
        .arg("--config")
        .arg(server.config_path())
        .arg("--data")
        .arg(data)
        .args(args)
        .env("PARLEY_LOG", "warn")
        .env("PARLEY_WORKSPACE_FIRST_CHANNEL", "")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(ADMIN_TIMEOUT, child)
        .await
        .unwrap_or_else(|_| panic!("parley-server {args:?} did not finish in time"))
        .unwrap()
}

async fn admin(server: &TestServer, args: &[&str]) -> Output {
    admin_on(server, server.data_dir(), args).await
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

async fn upload(server: &TestServer, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let send = server
        .http()
        .post(format!("{}/api/attachments?name={name}", server.url()))
        .bearer_auth(token)
        .body(bytes)
        .send();
    let resp = tokio::time::timeout(TIMEOUT, send).await.unwrap().unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    resp.json().await.unwrap()
}

async fn download(server: &TestServer, token: &str, id: &Value) -> (u16, Vec<u8>) {
    let get = server
        .http()
        .get(format!("{}/api/attachments/{id}", server.url()))
        .bearer_auth(token)
        .send();
    let resp = tokio::time::timeout(TIMEOUT, get).await.unwrap().unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

/// What the senders saw: texts acknowledged before the backup began, and how many in all.
#[derive(Default)]
struct Acked {
    before_backup: Vec<String>,
    total: usize,
    /// Of them, client 0's (each with an attachment).
    with_files: usize,
}

/// One of the clients: sends up to `count` messages to `general` (each of client 0's with a
/// freshly uploaded attachment), each acknowledged before the next, until told to stop.
async fn sender(
    server: Arc<TestServer>,
    client: usize,
    count: usize,
    backup_started: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
    progress: tokio::sync::watch::Sender<(usize, usize)>,
) {
    let token = server.register(&format!("sender{client}")).await;
    let mut ws = server.connect(Some(&token)).await;
    ws.ok(json!({"type": "channel_join", "channel": "general"}))
        .await;
    for n in 0..count {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let text = format!("c{client}-m{n}");
        let mut op = json!({"type": "send", "channel": "general", "text": text, "client_id": text});
        if client == 0 {
            let file = upload(
                &server,
                &token,
                "f.txt",
                format!("file {text}").into_bytes(),
            )
            .await;
            op["attachments"] = json!([file["id"]]);
        }
        ws.ok(op).await;
        // Read after the acknowledgement: false means it arrived before the backup started.
        let before = !backup_started.load(Ordering::SeqCst);
        let mut acked = acked.lock().unwrap();
        if before {
            acked.before_backup.push(text);
        }
        acked.total += 1;
        if client == 0 {
            acked.with_files += 1;
        }
        progress.send_replace((acked.total, acked.with_files));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_message_acknowledged_before_it() {
    let server = Arc::new(
        TestServer::builder()
            .config(RELAXED)
            .sqlite()
            .start_process()
            .await,
    );
    let owner = server.register("owner").await;
    let mut ws = server.connect(Some(&owner)).await;
    ws.ok(json!({"type": "channel_create", "channel": "general"}))
        .await;

    let backup_started = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let (progress, mut seen) = tokio::sync::watch::channel((0usize, 0usize));
    let senders: Vec<_> = (0..5)
        .map(|client| {
            tokio::spawn(sender(
                Arc::clone(&server),
                client,
                2_000,
                Arc::clone(&backup_started),
                Arc::clone(&stop),
                Arc::clone(&acked),
                progress.clone(),
            ))
        })
        .collect();
    drop(progress);

    // Some messages in, attachments among them (client 0 may start last: each sender
    // registers first), then the backup while they keep coming.
    tokio::time::timeout(
        TIMEOUT,
        seen.wait_for(|&(n, with_files)| n >= 100 && with_files >= 3),
    )
    .await
    .expect("100 messages, 3 with attachments, acknowledged in time")
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    backup_started.store(true, Ordering::SeqCst);
    let at_start = seen.borrow().0;
    let out = admin(&server, &["backup", path_str(&backup)]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let at_end = seen.borrow().0;
    // More are acknowledged after the backup ended: it ran under load, and the server went on.
    tokio::time::timeout(TIMEOUT, seen.wait_for(|(n, _)| *n >= at_end + 50))
        .await
        .expect("messages still acknowledged after the backup")
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    for task in senders {
        tokio::time::timeout(TIMEOUT, task)
            .await
            .expect("a sender stopped in time")
            .unwrap();
    }
    let before: Vec<String> = acked.lock().unwrap().before_backup.clone();
    assert!(before.len() >= 100, "{} before the backup", before.len());
    eprintln!(
        "acknowledged: {} before the backup, {at_start}..{at_end} while it ran",
        before.len()
    );
    let mut server = Arc::into_inner(server).expect("the senders let go of the server");
    assert!(server.stop().await.success());

    // The backup is private and says what it holds.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&backup), 0o700);
        assert_eq!(mode(&backup.join("parley.db")), 0o600);
        assert_eq!(mode(&backup.join("backup.json")), 0o600);
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(backup.join("backup.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], 1);
    assert!(manifest["schema_version"].as_u64().unwrap() >= 14);
    assert_eq!(manifest["missing_attachments"], json!([]));
    assert!(manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"].as_str().unwrap().starts_with("attachments/")));

    // Restored into a fresh data directory, a server has every one of them.
    let restored = TestServer::builder()
        .config(RELAXED)
        .sqlite()
        .admin_first(&["restore", path_str(&backup)], None)
        .start_process()
        .await;
    let history = restored.history(&owner, "general").await;
    let texts: std::collections::HashSet<&str> = history
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = before
        .iter()
        .filter(|t| !texts.contains(t.as_str()))
        .collect();
    assert!(lost.is_empty(), "lost in the restore: {lost:?}");
    // Every attachment the restored database refers to is there, byte for byte.
    let mut attachments = 0;
    for message in &history {
        for file in message["attachments"].as_array().into_iter().flatten() {
            let (status, bytes) = download(&restored, &owner, &file["id"]).await;
            assert_eq!(status, 200, "attachment of {}", message["text"]);
            assert_eq!(
                bytes,
                format!("file {}", message["text"].as_str().unwrap()).into_bytes()
            );
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                file["sha256"].as_str().unwrap()
            );
            attachments += 1;
        }
    }
    assert!(attachments > 0, "client 0's messages carry attachments");
}

/// A server with a message and an attachment, and a backup of it in a temporary directory.
async fn server_with_backup() -> (TestServer, String, tempfile::TempDir, PathBuf) {
    let server = TestServer::builder()
        .config(RELAXED)
        .sqlite()
        .start_process()
        .await;
    let token = server.register("alice").await;
    let mut ws = server.connect(Some(&token)).await;
    ws.ok(json!({"type": "channel_create", "channel": "general"}))
        .await;
    let file = upload(&server, &token, "a.txt", b"kept".to_vec()).await;
    ws.ok(json!({"type": "send", "channel": "general", "text": "in the backup", "client_id": "b1", "attachments": [file["id"]]}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    let out = admin(&server, &["backup", path_str(&backup)]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    (server, token, dir, backup)
}

#[tokio::test]
async fn restore_refuses_a_damaged_backup() {
    let (server, _token, dir, backup) = server_with_backup().await;
    let target = dir.path().join("target");
    // One byte flipped in the database copy.
    let db = backup.join("parley.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&db, &bytes).unwrap();
    let out = admin_on(&server, &target, &["restore", path_str(&backup)]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "the backup is damaged: parley.db: its sha256 does not match the one in backup.json"
        ),
        "{}",
        stderr(&out)
    );
    // Nothing was installed.
    assert!(!target.join("parley.db").exists());
    bytes[at] ^= 0x01;
    std::fs::write(&db, &bytes).unwrap();

    // An attachment file that is gone.
    let attachments = backup.join("attachments");
    let prefix = std::fs::read_dir(&attachments)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let file = std::fs::read_dir(&prefix)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::rename(&file, dir.path().join("kept-aside")).unwrap();
    let out = admin_on(&server, &target, &["restore", path_str(&backup)]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the file is missing"),
        "{}",
        stderr(&out)
    );
    std::fs::rename(dir.path().join("kept-aside"), &file).unwrap();

    // A directory that is not a backup, and a manifest that is not one.
    let out = admin_on(&server, &target, &["restore", path_str(dir.path())]).await;
    assert!(
        stderr(&out).contains("is not a Parley backup: it has no backup.json"),
        "{}",
        stderr(&out)
    );
    let manifest = backup.join("backup.json");
    let good = std::fs::read(&manifest).unwrap();
    let mut text: Value = serde_json::from_slice(&good).unwrap();
    text["files"][0]["path"] = json!("../escape.db");
    std::fs::write(&manifest, text.to_string()).unwrap();
    let out = admin_on(&server, &target, &["restore", path_str(&backup)]).await;
    assert!(
        stderr(&out).contains("lists a file a backup does not hold: \"../escape.db\""),
        "{}",
        stderr(&out)
    );
    let mut text: Value = serde_json::from_slice(&good).unwrap();
    text["schema_version"] = json!(10_000);
    std::fs::write(&manifest, text.to_string()).unwrap();
    let out = admin_on(&server, &target, &["restore", path_str(&backup)]).await;
    assert!(
        stderr(&out).contains("is at schema version 10000, newer than this parley-server"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&manifest, &good).unwrap();

    // Intact again, it restores.
    let out = admin_on(&server, &target, &["restore", path_str(&backup)]).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn restore_refuses_a_running_servers_directory_and_data_without_force() {
    let (mut server, token, dir, backup) = server_with_backup().await;
    // A second backup into the first one's directory is refused.
    let out = admin(&server, &["backup", path_str(&backup)]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not empty: give a new or empty directory"),
        "{}",
        stderr(&out)
    );

    // While the server runs, even --force is refused, and nothing changes.
    let out = admin(&server, &["restore", "--force", path_str(&backup)]).await;
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("is in use by another parley-server")
            && text.contains(&format!("pid {}", server.pid())),
        "{text}"
    );

    // Stopped, the directory still holds data: refused without --force.
    let mut ws = server.connect(Some(&token)).await;
    ws.ok(json!({"type": "send", "channel": "general", "text": "after the backup", "client_id": "b2"}))
        .await;
    assert!(server.stop().await.success());
    let out = admin(&server, &["restore", path_str(&backup)]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already holds Parley data; restore --force moves it aside"),
        "{}",
        stderr(&out)
    );

    // With --force: the old data moves to a timestamped directory beside it, the backup is in.
    let out = admin(&server, &["restore", "--force", path_str(&backup)]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stderr(&out);
    let aside = text
        .lines()
        .find_map(|l| l.strip_prefix("moved the previous data to "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no aside directory in {text}"));
    let name = aside.file_name().unwrap().to_str().unwrap().to_owned();
    let data_name = server.data_dir().file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("{data_name}.before-restore-")),
        "{name}"
    );
    assert_eq!(aside.parent(), server.data_dir().parent());
    assert!(aside.join("parley.db").is_file());
    assert!(aside.join("attachments").is_dir());
    // The config file kept in the data directory is not Parley data: it stays.
    assert!(server.config_path().is_file());
    server.start_again().await;
    let texts = server.history_texts(&token, "general").await;
    std::fs::remove_dir_all(&aside).unwrap();
    assert_eq!(texts, ["in the backup"]);
    drop(dir);
}
