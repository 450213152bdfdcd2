//! Every command the app registers is listed in build.rs (so it gets a permission), granted by
//! exactly one domain's permission set (permissions/<domain>.toml, named after its module in
//! `commands`), and nothing else is: the UI cannot call a command nobody reviewed.

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(manifest_dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn commands_permissions_and_capabilities_agree() {
    let lib = read("src/lib.rs");
    let start =
        lib.find("generate_handler![").expect("generate_handler") + "generate_handler![".len();
    let handler = &lib[start..];
    let handler = &handler[..handler.find(']').expect("end of the handler list")];
    let registered: BTreeSet<(String, String)> = handler
        .split(',')
        .filter_map(|item| {
            let path = item.trim().strip_prefix("commands::")?;
            let (domain, name) = path.split_once("::")?;
            Some((domain.to_owned(), name.to_owned()))
        })
        .collect();
    assert!(registered.len() > 30, "{registered:?}");

    let build = read("build.rs");
    let listed: BTreeSet<String> = build
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect();
    let names: BTreeSet<String> = registered.iter().map(|(_, n)| n.clone()).collect();
    assert_eq!(
        listed, names,
        "build.rs's command list differs from generate_handler!"
    );

    for domain in registered.iter().map(|(d, _)| d).collect::<BTreeSet<_>>() {
        let set = read(&format!("permissions/{domain}.toml"));
        let granted: BTreeSet<String> = set
            .split('"')
            .filter_map(|s| s.strip_prefix("allow-"))
            .map(|s| s.replace('-', "_"))
            .collect();
        let expected: BTreeSet<String> = registered
            .iter()
            .filter(|(d, _)| d == domain)
            .map(|(_, n)| n.clone())
            .collect();
        assert_eq!(granted, expected, "permissions/{domain}.toml");
        let capability = read(&format!("capabilities/{domain}.json"));
        assert!(
            capability.contains(&format!("\"permissions\": [\"{domain}\"]")),
            "capabilities/{domain}.json must grant exactly the {domain} set"
        );
    }
}

/// This package's directory: as cargo gives it to the running test, else as it was at build
/// time. (A build reused from a checkout at another path carries that path in `env!`.)
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    )
}
