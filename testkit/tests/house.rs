//! The repository's shape, checked on every test run: no source file over 600 lines, and no
//! import circle between the files of `server/src`, `client/src` or `src-tauri/src`.
//!
//! The import graph is read from the source text (no compiler involved): its nodes are files,
//! and a file depends on another when it names an item that the other defines, through a private
//! `use` or a path written in code (`crate::…`, `super::…`). Re-exports (`pub use`) are followed
//! to the file that defines the item, so a facade does not hide who depends on whom; a module
//! declaring its submodules (`mod x;`) is not a dependency. A circle is a strongly connected
//! set of two or more files; a parent and its own child count, as any other pair would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

/// The repository checked: this one, or another checkout named by `PARLEY_HOUSE_ROOT` (to check a
/// branch's tree without building it).
fn repo() -> PathBuf {
    std::env::var_os("PARLEY_HOUSE_ROOT").map_or_else(
        || manifest_dir().parent().unwrap().to_path_buf(),
        PathBuf::from,
    )
}

/// Every file under `dir` whose name ends in one of `exts`, recursively.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !matches!(entry.file_name().to_str(), Some("node_modules" | "target")) {
                files(&path, exts, out);
            }
        } else if exts
            .iter()
            .any(|e| path.to_string_lossy().ends_with(&format!(".{e}")))
        {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_600_lines() {
    let root = repo();
    let mut found = Vec::new();
    for dir in [
        "server/src",
        "client/src",
        "src-tauri/src",
        "protocol/src",
        "testkit/src",
        "tests/src",
        "bench/src",
    ] {
        files(&root.join(dir), &["rs"], &mut found);
    }
    files(&root.join("ui/src"), &["ts", "svelte"], &mut found);
    files(&root.join("sdk/js/src"), &["ts"], &mut found);
    // Generated from the protocol's types (checked current by `bindings_are_current` and
    // `sdk_bindings_are_current`).
    let generated = ["ui/src/lib/bindings.ts", "sdk/js/src/protocol.ts"];
    let mut long: Vec<String> = found
        .iter()
        .filter_map(|path| {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let lines = std::fs::read_to_string(path).ok()?.lines().count();
            (lines > MAX_LINES && !generated.contains(&rel.as_str()))
                .then(|| format!("{rel}: {lines} lines"))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines (split them by what they own):\n{}",
        long.join("\n")
    );
}

#[test]
fn no_import_circles_in_the_crates() {
    let root = repo();
    let mut report = Vec::new();
    for dir in ["server/src", "client/src", "src-tauri/src"] {
        for circle in circles(&root.join(dir)) {
            report.push(format!(
                "{dir}: {}\n    {}",
                circle.files.join(", "),
                circle.why.join("\n    ")
            ));
        }
    }
    assert!(report.is_empty(), "import circles:\n{}", report.join("\n"));
}

/// The areas are services (`chat::Chat`, `docs::Documents`, `accounts::Accounts`,
/// `attachments::Attachments`) that get what they need when the server opens. Only the outer
/// layer (the router and the kinds of connection, the upkeep loops) holds the bundle of
/// them, `AppState`; an area that named it could reach into every other area through it.
#[test]
fn only_the_outer_layer_holds_the_app_state() {
    let src = repo().join("server/src");
    let outer = [
        "lib.rs",
        "maintenance.rs",
        "analytics.rs",
        "http/",
        "chat/session/",
        "docs/conn.rs",
        "docs/proxy.rs",
    ];
    let mut found = Vec::new();
    files(&src, &["rs"], &mut found);
    let mut inside: Vec<String> = found
        .iter()
        .filter_map(|path| {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(path).ok()?;
            let names_it = tokens(&strip(&text)).iter().any(|t| t == "AppState");
            (names_it
                && !outer
                    .iter()
                    .any(|o| rel == *o || (o.ends_with('/') && rel.starts_with(o))))
            .then_some(rel)
        })
        .collect();
    inside.sort();
    assert!(
        inside.is_empty(),
        "these area files name AppState; give the area's service what it needs instead:\n{}",
        inside.join("\n")
    );
}

#[test]
fn the_checker_finds_a_circle_through_a_re_export() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod chat;\nmod ws;\n");
    write("chat/mod.rs", "mod hub;\npub use hub::Hub;\n");
    write(
        "chat/hub.rs",
        "// crate::ws::Writer in a comment is not a use\nuse crate::ws::{self, control::Conn};\npub struct Hub;\n",
    );
    write("ws/mod.rs", "pub mod control;\n");
    write(
        "ws/control.rs",
        "pub struct Conn;\nfn f() { let s = \"crate::chat::Hub\"; crate::chat::Hub; }\n",
    );
    let found: Vec<Vec<String>> = circles(dir.path()).into_iter().map(|c| c.files).collect();
    assert_eq!(
        found,
        vec![
            vec!["chat/hub.rs".to_string(), "ws/control.rs".to_string()],
            vec!["chat/ (area)".to_string(), "ws/ (area)".to_string()],
        ]
    );

    // Without the code path, only the string and the comment name the other side: no circle.
    write(
        "ws/control.rs",
        "pub struct Conn;\nfn f() { let s = \"crate::chat::Hub\"; }\n",
    );
    assert!(circles(dir.path()).is_empty());
}

/// The module path of a file relative to its crate root directory, or `None` for a crate root.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

struct SourceFile {
    rel: String,
    module: Vec<String>,
    /// Paths (absolute, from the crate root) the file's code names.
    uses: Vec<Vec<String>>,
    /// Re-exported names: alias → absolute path.
    reexports: BTreeMap<String, Vec<String>>,
}

/// The circles among the files of one source directory (each crate root under it — `lib.rs`,
/// `main.rs`, `bin/<name>.rs`, `bin/<name>/main.rs` — is a graph of its own).
fn circles(src: &Path) -> Vec<Circle> {
    let mut all = Vec::new();
    files(src, &["rs"], &mut all);
    // Split into crates: bin/<name>/… is a tree of its own; everything else is the library's.
    let mut trees: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for path in all {
        let rel = path.strip_prefix(src).unwrap().to_path_buf();
        let base = match rel.iter().next().and_then(|p| p.to_str()) {
            Some("bin") if rel.components().count() > 2 => {
                src.join("bin").join(rel.iter().nth(1).unwrap())
            }
            Some("bin") => path.clone(),
            // main.rs next to lib.rs is a crate of its own that names the library by its name.
            Some("main.rs") if src.join("lib.rs").exists() => path.clone(),
            _ => src.to_path_buf(),
        };
        trees.entry(base).or_default().push(path);
    }
    let mut found = Vec::new();
    for (base, paths) in trees {
        let sources: Vec<SourceFile> = paths
            .iter()
            .map(|path| {
                let rel = path.strip_prefix(&base).unwrap_or(Path::new("main.rs"));
                let module = module_of(rel);
                let text = std::fs::read_to_string(path).unwrap();
                let (uses, reexports) = paths_named(&strip(&text), &module);
                SourceFile {
                    rel: path
                        .strip_prefix(src)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    module,
                    uses,
                    reexports,
                }
            })
            .collect();
        let edges = graph(&sources);
        found.extend(strongly_connected(&sources, &edges));
        found.extend(area_circles(&sources, &edges));
    }
    found
}

/// The text with comments removed and string and character literals emptied.
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char(c.get(i.wrapping_sub(1)))
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' && (next == Some('\\') || c.get(i + 2) == Some(&'\'')) {
            // A character literal ('a', '\n', '\u{1F600}'); a lifetime has no closing quote.
            i += 1;
            while i < c.len() && c[i] != '\'' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let c: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while ident_char(c.get(i)) {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                out.push(c[i].to_string());
            }
            i += 1;
        }
    }
    out
}

/// Expands a `use` tree starting at `toks[*i]` into paths (each with its alias), advancing
/// past it.
fn use_tree(
    toks: &[String],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, String)>,
) {
    let mut path = prefix.to_vec();
    while *i < toks.len() {
        let t = toks[*i].as_str();
        match t {
            "{" => {
                *i += 1;
                while *i < toks.len() && toks[*i] != "}" {
                    use_tree(toks, i, &path, out);
                    if toks.get(*i).map(String::as_str) == Some(",") {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            "::" => *i += 1,
            "*" => {
                *i += 1;
                out.push((path.clone(), "*".into()));
                return;
            }
            "as" => {
                let alias = toks.get(*i + 1).cloned().unwrap_or_default();
                *i += 2;
                out.push((path, alias));
                return;
            }
            "," | ";" | "}" => {
                if let Some(last) = path.last() {
                    let alias = if last == "self" {
                        path.pop();
                        path.last().cloned().unwrap_or_default()
                    } else {
                        last.clone()
                    };
                    out.push((path, alias));
                }
                return;
            }
            _ => {
                path.push(t.to_string());
                *i += 1;
            }
        }
    }
}

/// Makes `path` absolute (from the crate root) if it starts at `crate`, `super` or `self`
/// (`module` being the module the path is written in); other paths name other crates.
fn absolute(path: &[String], module: &[String]) -> Option<Vec<String>> {
    let mut base = module.to_vec();
    let mut rest = path;
    match rest.first()?.as_str() {
        "crate" => {
            base.clear();
            rest = &rest[1..];
        }
        "super" | "self" => {
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

type Named = (Vec<Vec<String>>, BTreeMap<String, Vec<String>>);

/// The absolute paths a file names, and what it re-exports.
fn paths_named(text: &str, module: &[String]) -> Named {
    let toks = tokens(text);
    let mut uses = Vec::new();
    let mut reexports = BTreeMap::new();
    // Inline modules (`mod tests { … }`) shift what `super` and `self` mean inside them.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        match toks[i].as_str() {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if toks.get(i + 2).map(String::as_str) == Some("{") => {
                inline.push((toks[i + 1].clone(), depth));
                depth += 1;
                i += 3;
                continue;
            }
            "use" => {
                let public = i > 0 && (toks[i - 1] == "pub" || toks[i - 1] == ")");
                i += 1;
                let mut tree = Vec::new();
                use_tree(&toks, &mut i, &[], &mut tree);
                for (path, alias) in tree {
                    // In a module with submodules, `use child::X` names the child.
                    let path = match path.first().map(String::as_str) {
                        Some("crate" | "super" | "self") => path,
                        _ => [vec!["self".to_string()], path].concat(),
                    };
                    let Some(abs) = absolute(&path, &here) else {
                        continue;
                    };
                    if public && alias != "*" && inline.is_empty() {
                        reexports.insert(alias, abs);
                    } else {
                        uses.push(abs);
                    }
                }
                continue;
            }
            t if ident_char(t.chars().next().as_ref())
                && toks.get(i + 1).map(String::as_str) == Some("::")
                && (i == 0 || toks[i - 1] != "::") =>
            {
                // A path in code: from the crate root, a parent, or this module (its children).
                let mut path = match t {
                    "crate" | "super" | "self" => vec![t.to_string()],
                    _ => vec!["self".to_string(), t.to_string()],
                };
                let mut j = i + 1;
                while toks.get(j).map(String::as_str) == Some("::")
                    && toks
                        .get(j + 1)
                        .is_some_and(|t| ident_char(t.chars().next().as_ref()))
                {
                    path.push(toks[j + 1].clone());
                    j += 2;
                }
                if let Some(abs) = absolute(&path, &here) {
                    uses.push(abs);
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (uses, reexports)
}

/// Edges between files: index → indices of the files it depends on.
fn graph(sources: &[SourceFile]) -> Vec<BTreeMap<usize, String>> {
    let by_module: BTreeMap<&[String], usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.module.as_slice(), i))
        .collect();
    // The file that defines what `path` names: the longest prefix that is a file, following
    // that file's re-exports (a bounded number of times, so a re-export cycle cannot hang).
    let resolve = |path: &[String]| -> Option<usize> {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let (len, file) = (0..=path.len())
                .rev()
                .find_map(|n| by_module.get(&path[..n]).map(|f| (n, *f)))?;
            match path
                .get(len)
                .and_then(|name| sources[file].reexports.get(name))
            {
                Some(target) => {
                    let mut next = target.clone();
                    next.extend(path[len + 1..].iter().cloned());
                    if next == path {
                        return Some(file);
                    }
                    path = next;
                }
                None => return Some(file),
            }
        }
        None
    };
    sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut to = BTreeMap::new();
            for path in &s.uses {
                // A module using its own submodules owns them; that is not a circle.
                if let Some(t) =
                    resolve(path).filter(|&t| t != i && !sources[t].module.starts_with(&s.module))
                {
                    to.entry(t)
                        .or_insert_with(|| format!("crate::{}", path.join("::")));
                }
            }
            to
        })
        .collect()
}

/// Circles between areas (the crate root's modules), each file counted in its area: the
/// imports between areas must run one way, whichever file of the area they start from.
fn area_circles(sources: &[SourceFile], edges: &[BTreeMap<usize, String>]) -> Vec<Circle> {
    let area = |s: &SourceFile| s.module.first().cloned().unwrap_or_else(|| "(root)".into());
    let names: Vec<String> = sources
        .iter()
        .map(area)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index = |name: &str| names.iter().position(|n| n == name).unwrap();
    let mut area_edges = vec![BTreeMap::new(); names.len()];
    for (from, targets) in edges.iter().enumerate() {
        let a = index(&area(&sources[from]));
        for (&to, why) in targets {
            let b = index(&area(&sources[to]));
            if a != b {
                area_edges[a].insert(b, format!("{} names {why}", sources[from].rel));
            }
        }
    }
    let nodes: Vec<SourceFile> = names
        .iter()
        .map(|n| SourceFile {
            rel: format!("{n}/ (area)"),
            module: vec![n.clone()],
            uses: Vec::new(),
            reexports: BTreeMap::new(),
        })
        .collect();
    strongly_connected(&nodes, &area_edges)
}

/// Tarjan's strongly connected components of two or more files, each sorted by path.
fn strongly_connected(sources: &[SourceFile], edges: &[BTreeMap<usize, String>]) -> Vec<Circle> {
    struct State<'a> {
        edges: &'a [BTreeMap<usize, String>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for w in s.edges[v].keys().copied().collect::<Vec<_>>() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let n = sources.len();
    let mut state = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if state.index[v].is_none() {
            visit(&mut state, v);
        }
    }
    let mut found: Vec<Circle> = state
        .out
        .into_iter()
        .map(|c| {
            let mut files: Vec<String> = c.iter().map(|&i| sources[i].rel.clone()).collect();
            files.sort();
            let mut why = Vec::new();
            for &from in &c {
                for (to, path) in &edges[from] {
                    if c.contains(to) {
                        why.push(format!(
                            "{} → {}: {path}",
                            sources[from].rel, sources[*to].rel
                        ));
                    }
                }
            }
            why.sort();
            Circle { files, why }
        })
        .collect();
    found.sort_by(|a, b| a.files.cmp(&b.files));
    found
}

/// Files that depend on each other in a circle, and the paths that make each dependency.
struct Circle {
    files: Vec<String>,
    why: Vec<String>,
}

/// This package's directory: as cargo gives it to the running test, else as it was at build
/// time. (A build reused from a checkout at another path carries that path in `env!`.)
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    )
}
