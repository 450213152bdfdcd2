//! The session token goes to the OS keyring when a Secret Service runs (here: gnome-keyring
//! in a private D-Bus session), never to a file; `logout` removes it.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::*;

#[tokio::test]
async fn the_token_lives_in_the_keyring_when_one_runs() {
    let server = TestServer::start(RELAXED).await;
    server.register("alice").await;
    let home = tempfile::tempdir().unwrap();
    let parley = workspace_binary("parley");
    let script = format!(
        r#"set -e
export XDG_DATA_HOME="$HOME/data" XDG_CONFIG_HOME="$HOME/config" XDG_RUNTIME_DIR="$HOME/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
eval "$(echo '' | gnome-keyring-daemon --unlock --components=secrets)"
echo 'correct horse' | {parley} login {url} --user alice --password-stdin
echo "files: $(ls "$PARLEY_HOME/config")"
{parley} channels > /dev/null && echo "channels: ok"
{parley} logout
{parley} channels 2>&1 || echo "after logout: refused"
"#,
        parley = parley.display(),
        url = server.url()
    );
    let output = tokio::time::timeout(
        TIMEOUT,
        tokio::process::Command::new("dbus-run-session")
            .args(["--", "sh", "-c", &script])
            .env("HOME", home.path())
            .env("PARLEY_HOME", home.path().join("parley"))
            .env_remove("PARLEY_NO_KEYRING")
            .env_remove("PARLEY_TOKEN")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("timed out")
    .expect("dbus-run-session and gnome-keyring-daemon are installed by scripts/test.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("signed in to"), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains("no keyring service"),
        "fell back to a file: {stderr}"
    );
    assert!(
        stdout.contains("files: session.json\n"),
        "a token file was written: {stdout}"
    );
    assert!(stdout.contains("channels: ok"), "{stdout}\n{stderr}");
    assert!(stdout.contains("signed out alice"), "{stdout}");
    assert!(stdout.contains("not signed in"), "{stdout}");
}
