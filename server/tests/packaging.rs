//! The server's Debian package and systemd unit: `systemd-analyze verify` accepts the unit
//! (packaging/parley-server.service), and scripts/package-server-deb.sh builds a package with the
//! binary, the unit, and the configuration as a conffile whose data_dir is the unit's
//! StateDirectory. Needs systemd-analyze and dpkg-deb (scripts/common.sh installs them).
#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use parley_testkit::workspace_binary;

/// Packaging copies a ~100 MB debug binary: generous on a loaded machine.
const WAIT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    // As cargo gives it when the test runs: a build reused from a checkout at another path
    // carries that path in `env!`.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from);
    dir.parent().unwrap().to_owned()
}

async fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(WAIT, child)
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish in time"))
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unit() -> String {
    std::fs::read_to_string(repo().join("packaging/parley-server.service")).unwrap()
}

#[tokio::test]
async fn the_unit_file_verifies_and_runs_the_server_hardened() {
    let unit = unit();
    for line in [
        "ExecStart=/usr/bin/parley-server serve --config /etc/parley/parley.toml",
        "User=parley-server",
        "StateDirectory=parley",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line:?} in the unit");
    }
    // verify checks that ExecStart's program exists: point it at the binary built here.
    let binary = workspace_binary("parley-server");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parley-server.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/parley-server", binary.to_str().unwrap()),
    )
    .unwrap();
    let out = run("systemd-analyze", &["verify", path.to_str().unwrap()], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("parley-server.service"),
        "verify has something to say: {stderr}"
    );
    // And the command line is one the binary accepts.
    let config = dir.path().join("parley.toml");
    std::fs::write(&config, "").unwrap();
    run(
        binary.to_str().unwrap(),
        &["serve", "--config", config.to_str().unwrap(), "--help"],
        &[],
    )
    .await;
}

#[tokio::test]
async fn the_debian_package_has_the_server_the_unit_and_its_conffile() {
    let dir = tempfile::tempdir().unwrap();
    let binary = workspace_binary("parley-server");
    let script = repo().join("scripts/package-server-deb.sh");
    let out = run(
        script.to_str().unwrap(),
        &[binary.to_str().unwrap(), dir.path().to_str().unwrap()],
        &[("DEB_COMPRESSION", "none")],
    )
    .await;
    let deb = PathBuf::from(text(&out).trim());
    assert!(deb.is_file(), "{deb:?}");
    let deb = deb.to_str().unwrap();
    assert!(
        deb.ends_with(&format!(
            "parley-server_{}_{}.deb",
            env!("CARGO_PKG_VERSION"),
            text(&run("dpkg", &["--print-architecture"], &[]).await).trim()
        )),
        "{deb}"
    );

    let contents = text(&run("dpkg-deb", &["-c", deb], &[]).await);
    for (file, mode) in [
        ("./usr/bin/parley-server", "-rwxr-xr-x root/root"),
        (
            "./lib/systemd/system/parley-server.service",
            "-rw-r--r-- root/root",
        ),
        ("./etc/parley/parley.toml", "-rw-r--r-- root/root"),
    ] {
        assert!(
            contents
                .lines()
                .any(|l| l.starts_with(mode) && l.ends_with(file)),
            "no {file} ({mode}) in:\n{contents}"
        );
    }
    let info = text(&run("dpkg-deb", &["-I", deb], &[]).await);
    for field in [
        "Package: parley-server",
        "Depends: adduser",
        "conffiles",
        "postinst",
    ] {
        assert!(info.contains(field), "no {field} in:\n{info}");
    }
    let conffiles = text(&run("dpkg-deb", &["-I", deb, "conffiles"], &[]).await);
    assert_eq!(conffiles.trim(), "/etc/parley/parley.toml");

    // The maintainer scripts are valid shell; the postinst makes the user and the directory.
    let control = dir.path().join("control");
    run("dpkg-deb", &["-e", deb, control.to_str().unwrap()], &[]).await;
    for script in ["postinst", "prerm", "postrm"] {
        run("sh", &["-n", control.join(script).to_str().unwrap()], &[]).await;
    }
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system --group"), "{postinst}");
    assert!(
        postinst.contains("install -d -m 0750 -o parley-server -g parley-server /var/lib/parley"),
        "{postinst}"
    );

    // The packaged files are the repository's, and the configuration loads with the unit's
    // StateDirectory as its data directory.
    let root = dir.path().join("root");
    run("dpkg-deb", &["-x", deb, root.to_str().unwrap()], &[]).await;
    assert_eq!(
        std::fs::read_to_string(root.join("lib/systemd/system/parley-server.service")).unwrap(),
        unit()
    );
    let config = parley_server::config::Config::load(
        Some(&root.join("etc/parley/parley.toml")),
        std::iter::empty(),
    )
    .unwrap();
    assert_eq!(config.data_dir(), Path::new("/var/lib/parley"));
    let packaged = root.join("usr/bin/parley-server");
    let version = text(&run(packaged.to_str().unwrap(), &["--version"], &[]).await);
    assert_eq!(
        version.trim(),
        format!("parley-server {}", env!("CARGO_PKG_VERSION"))
    );
}
