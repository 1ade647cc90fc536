//! The layers of docs/ARCHITECTURE.md, section 2, checked from the source: the core
//! (`crypto`, `wire`, `handshake`, `session` and their shared helpers) imports nothing
//! from the client or the adapters, no two modules import each other, and every public
//! item is exported under one path.
//!
//! The check reads every `crate::` path in the code of `src/` (including
//! `use crate::{a, b::c}` groups, and names re-exported at the crate root), so an import
//! added in any form is seen; comments and doc links are not imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The core and the helpers it shares (errors, limits, versioned state, randomness).
const CORE: &[&str] = &[
    "crypto",
    "wire",
    "handshake",
    "session",
    "error",
    "limits",
    "state",
    "rng",
];
/// What the core must never import.
const ABOVE_CORE: &[&str] = &["client", "device", "store", "transport"];
/// Pairs that import each other today, with the reason they are still allowed. The list
/// may only shrink: a new pair fails the test.
const KNOWN_CYCLES: &[(&str, &str)] = &[];

/// The top-level module a file of `src/` belongs to.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let first = first.unwrap_or_default();
    first.strip_suffix(".rs").map(str::to_owned).unwrap_or(first)
}

/// The top-level modules named by `crate::` paths in `source`.
fn imports(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A group: the names at its top level, up to the matching brace.
            let mut depth = 1;
            let mut name = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && (c == ',' || c.is_whitespace()) {
                    if !name.is_empty() {
                        found.insert(std::mem::take(&mut name));
                    }
                    at_start = true;
                } else if depth == 1 && at_start && (c.is_ascii_alphanumeric() || c == '_') {
                    name.push(c);
                } else if c == ':' || c == '{' {
                    if !name.is_empty() {
                        found.insert(std::mem::take(&mut name));
                    }
                    at_start = false;
                }
            }
            if !name.is_empty() {
                found.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The module behind each name that `src/lib.rs` re-exports (`pub use session::{...}`), so
/// that `crate::PeerSessions` counts as an import of `session`.
fn reexports(root: &Path) -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(root.join("lib.rs")).expect("read lib.rs");
    let tree = module_tree(&BTreeMap::from([("lib.rs".to_owned(), lib)]));
    tree["crate"]
        .iter()
        .filter_map(|(name, public, named)| match named {
            Named::Use(path) if *public && path.len() > 1 => Some((name.clone(), path[0].clone())),
            _ => None,
        })
        .collect()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let reexports = reexports(&root);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = module_of(path.strip_prefix(&root).expect("under src"));
                if module == "lib" {
                    continue;
                }
                let source = std::fs::read_to_string(&path).expect("read file");
                // Code only: a doc link to another layer is not an import.
                let source: String = source
                    .lines()
                    .map(|line| line.split("//").next().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("\n");
                let targets = graph.entry(module.clone()).or_default();
                let named = imports(&source)
                    .into_iter()
                    .map(|name| reexports.get(&name).cloned().unwrap_or(name));
                targets.extend(named.filter(|m| *m != module));
            }
        }
    }
    graph
}

#[test]
fn the_parser_sees_every_form_of_import() {
    let source = "use crate::a::X;\nuse crate::{b, c::{D, E}, f::G};\nlet x = crate::h::y();";
    let found: Vec<String> = imports(source).into_iter().collect();
    assert_eq!(found, ["a", "b", "c", "f", "h"]);
}

#[test]
fn the_core_imports_nothing_above_it() {
    let graph = graph();
    for core in CORE {
        let targets = graph.get(*core).cloned().unwrap_or_default();
        for above in ABOVE_CORE {
            assert!(!targets.contains(*above), "{core} imports {above}");
        }
    }
    // The check is not vacuous: the layers above do import the core.
    assert!(graph["device"].contains("session"));
    assert!(graph["client"].contains("device"));
}

#[test]
fn no_two_modules_import_each_other() {
    let graph = graph();
    let mut cycles = Vec::new();
    for (a, targets) in &graph {
        for b in targets {
            if a < b && graph.get(b).is_some_and(|t| t.contains(a)) {
                cycles.push((a.clone(), b.clone()));
            }
        }
    }
    let known: Vec<(String, String)> = KNOWN_CYCLES
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(
        cycles, known,
        "modules that import each other (docs/ARCHITECTURE.md, section 2)"
    );
}

/// Every file of the repository a reader follows (sources, tests, docs, scripts).
fn repository_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') || name == "target" || name == "corpus" {
            continue;
        }
        if path.is_dir() {
            repository_files(&path, out);
        } else if ["rs", "md", "sh", "toml", "kt", "py"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext))
        {
            out.push(path);
        }
    }
}

#[test]
fn no_file_cites_a_document_that_is_not_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    repository_files(root, &mut files);
    assert!(files.len() > 50, "the walk found the repository");
    // Split so that this file does not name what it looks for.
    let needle = ["DESIGN", " section"].concat();
    let cited: Vec<_> = files
        .iter()
        .filter(|path| std::fs::read_to_string(path).is_ok_and(|text| text.contains(&needle)))
        .collect();
    assert!(
        cited.is_empty(),
        "cite a document of the repository instead: {cited:?}"
    );
}

// One export path per public item (docs/ARCHITECTURE.md, section 2): the module tree of
// `src/` is read from the source (`mod`, `use` and item declarations at the top level of
// each module), every public name is followed from the crate root, and each item must be
// reached by exactly one path. A private module's `pub` items count only where they are
// re-exported.

/// The tokens of Rust source: words, `::`, and single other characters; comments are
/// dropped and every string or character literal is one `""` token.
fn tokens(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push("\"\"".to_owned());
        } else if c == '\'' {
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push("\"\"".to_owned());
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push("\"\"".to_owned());
            } else {
                // A lifetime.
                i += 1;
                out.push("'".to_owned());
            }
        } else if word(c) {
            let start = i;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let raw = (text == "r" || text == "br") && matches!(chars.get(i), Some('"' | '#'));
            if raw {
                let mut hashes = 0;
                while chars.get(i) == Some(&'#') {
                    hashes += 1;
                    i += 1;
                }
                if chars.get(i) == Some(&'"') {
                    i += 1;
                    while i < chars.len() {
                        let closes =
                            chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#'));
                        i += 1;
                        if closes {
                            i += hashes;
                            break;
                        }
                    }
                    out.push("\"\"".to_owned());
                }
                // Otherwise a raw identifier (`r#type`): the word follows as its own token.
            } else if text == "b" && matches!(chars.get(i), Some('"' | '\'')) {
                // A byte string or byte: the literal follows.
            } else {
                out.push(text);
            }
        } else if c == ':' && next == Some(':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// What a declaration at the top level of a module names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    /// An item defined there (a struct, enum, trait, type, function, constant, static).
    Item,
    /// A module, by its path from `crate`.
    Module(String),
    /// What a `use` path names, resolved later.
    Use(Vec<String>),
}

/// One name a module declares: the name, whether it is `pub` (unrestricted), what it names.
type Decl = (String, bool, Named);

/// The declarations of every module, by its path from `crate` (`crate::store::backend`).
type Tree = BTreeMap<String, Vec<Decl>>;

/// The module tree of the files (paths relative to `src/`, with `/`), from `lib.rs`.
fn module_tree(files: &BTreeMap<String, String>) -> Tree {
    let mut tree = Tree::new();
    if let Some(lib) = files.get("lib.rs") {
        let toks = tokens(lib);
        let mut i = 0;
        parse_module(&toks, &mut i, "crate", "", files, &mut tree);
    }
    tree
}

/// Reads the declarations of module `id` (whose child files live in `dir`) up to the end of
/// the tokens or the `}` that closes an inline module.
fn parse_module(
    toks: &[String],
    i: &mut usize,
    id: &str,
    dir: &str,
    files: &BTreeMap<String, String>,
    tree: &mut Tree,
) {
    tree.entry(id.to_owned()).or_default();
    let at = |k: usize| toks.get(k).map(String::as_str).unwrap_or("");
    while *i < toks.len() && at(*i) != "}" {
        // Attributes, inner or outer.
        if at(*i) == "#" {
            *i += 1;
            if at(*i) == "!" {
                *i += 1;
            }
            skip_balanced(toks, i);
            continue;
        }
        let mut public = false;
        if at(*i) == "pub" {
            *i += 1;
            if at(*i) == "(" {
                skip_balanced(toks, i);
            } else {
                public = true;
            }
        }
        loop {
            let modifier = matches!(at(*i), "async" | "unsafe" | "default")
                || (at(*i) == "const" && at(*i + 1) == "fn")
                || (at(*i) == "extern" && matches!(at(*i + 1), "\"\"" | "fn"));
            if !modifier {
                break;
            }
            *i += if at(*i) == "extern" && at(*i + 1) == "\"\"" {
                2
            } else {
                1
            };
        }
        let mut decls = Vec::new();
        match at(*i) {
            "mod" => {
                let name = at(*i + 1).to_owned();
                let child = format!("{id}::{name}");
                let child_dir = format!("{dir}{name}/");
                if at(*i + 2) == "{" {
                    *i += 3;
                    parse_module(toks, i, &child, &child_dir, files, tree);
                    *i += 1;
                } else {
                    *i += 3;
                    let file = [format!("{dir}{name}.rs"), format!("{dir}{name}/mod.rs")]
                        .into_iter()
                        .find(|f| files.contains_key(f));
                    if let Some(file) = file {
                        let child_toks = tokens(&files[&file]);
                        let mut j = 0;
                        parse_module(&child_toks, &mut j, &child, &child_dir, files, tree);
                    } else {
                        tree.entry(child.clone()).or_default();
                    }
                }
                decls.push((name, public, Named::Module(child)));
            }
            "use" => {
                *i += 1;
                let start = *i;
                while *i < toks.len() && at(*i) != ";" {
                    *i += 1;
                }
                let mut j = 0;
                let mut leaves = Vec::new();
                use_leaves(&toks[start..*i], &mut j, &[], &mut leaves);
                *i += 1;
                for (path, alias) in leaves {
                    if path.last().is_some_and(|s| s == "*") {
                        assert!(!public, "a glob re-export in {id} hides its paths");
                        continue;
                    }
                    let name = alias.or_else(|| path.last().cloned()).unwrap_or_default();
                    if name != "_" {
                        decls.push((name, public, Named::Use(path)));
                    }
                }
            }
            "struct" | "enum" | "union" | "trait" | "type" | "fn" | "const" | "static" => {
                let mut k = *i + 1;
                if at(k) == "mut" {
                    k += 1;
                }
                decls.push((at(k).to_owned(), public, Named::Item));
                skip_item(toks, i);
            }
            ";" => *i += 1,
            _ => skip_item(toks, i),
        }
        tree.entry(id.to_owned()).or_default().extend(decls);
    }
}

/// Skips a bracketed group that starts at `i`: `(...)`, `[...]` or `{...}`.
fn skip_balanced(toks: &[String], i: &mut usize) {
    let mut depth = 0;
    while *i < toks.len() {
        match toks[*i].as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            _ => {}
        }
        *i += 1;
        if depth == 0 {
            break;
        }
    }
}

/// Skips an item: up to a `;` outside brackets or the `}` that closes its body.
fn skip_item(toks: &[String], i: &mut usize) {
    let mut depth = 0;
    while *i < toks.len() {
        match toks[*i].as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" => depth -= 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    *i += 1;
                    return;
                }
            }
            ";" if depth == 0 => {
                *i += 1;
                return;
            }
            _ => {}
        }
        *i += 1;
    }
}

/// The leaves of a use tree (`a::{b, c::d as e, self}`): each path and its alias.
fn use_leaves(
    toks: &[String],
    j: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let at = |k: usize| toks.get(k).map(String::as_str).unwrap_or("");
    let mut path = prefix.to_vec();
    if at(*j) == "::" {
        *j += 1;
    }
    loop {
        match at(*j) {
            "{" => {
                *j += 1;
                while *j < toks.len() && at(*j) != "}" {
                    use_leaves(toks, j, &path, out);
                    if at(*j) == "," {
                        *j += 1;
                    }
                }
                *j += 1;
                return;
            }
            "" => return,
            segment => {
                if segment != "self" || path.is_empty() {
                    path.push(segment.to_owned());
                }
                *j += 1;
                if at(*j) == "::" {
                    *j += 1;
                    continue;
                }
                let alias = (at(*j) == "as").then(|| at(*j + 1).to_owned());
                if alias.is_some() {
                    *j += 2;
                }
                out.push((path, alias));
                return;
            }
        }
    }
}

/// What a path names, seen from module `from`: `item crate::a::X`, `mod crate::a`, or
/// `extern path` for another crate's.
fn resolve(tree: &Tree, from: &str, path: &[String], depth: usize) -> String {
    assert!(depth < 32, "a cycle of imports at {from}: {path:?}");
    let mut module = from.to_owned();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            module = "crate".to_owned();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                module = module
                    .rsplit_once("::")
                    .map(|(m, _)| m.to_owned())
                    .unwrap_or(module);
                rest = &rest[1..];
            }
        }
        // Not a name of the module (`pub use rand_core;` names the crate, not itself).
        Some(first)
            if !tree[from]
                .iter()
                .any(|(name, _, named)| name == first && *named != Named::Use(vec![first.to_owned()])) =>
        {
            return format!("extern {}", path.join("::"));
        }
        _ => {}
    }
    let mut target = format!("mod {module}");
    for (k, segment) in rest.iter().enumerate() {
        let Some(current) = target.strip_prefix("mod ").map(str::to_owned) else {
            // A path into an item (an enum's variant): the item and the rest.
            return format!("{target}::{}", rest[k..].join("::"));
        };
        // A definition before an import of the same name: `use thiserror::Error` brings a
        // derive macro, another namespace than the `Error` enum beside it.
        let decl = tree.get(&current).and_then(|decls| {
            decls
                .iter()
                .filter(|(name, _, _)| name == segment)
                .min_by_key(|(_, _, named)| matches!(named, Named::Use(_)))
        });
        let Some((name, _, named)) = decl else {
            panic!("{segment} is not declared in {current} (path {path:?} from {from})");
        };
        target = match named {
            Named::Item => format!("item {current}::{name}"),
            Named::Module(child) => format!("mod {child}"),
            Named::Use(to) => resolve(tree, &current, to, depth + 1),
        };
    }
    target
}

/// Every public path of every item, module and re-exported crate reachable from the root.
fn public_paths(files: &BTreeMap<String, String>) -> BTreeMap<String, Vec<String>> {
    fn walk(
        tree: &Tree,
        module: &str,
        prefix: &str,
        seen: &mut Vec<String>,
        out: &mut BTreeMap<String, Vec<String>>,
    ) {
        for (name, public, named) in &tree[module] {
            if !*public {
                continue;
            }
            let target = match named {
                Named::Item => format!("item {module}::{name}"),
                Named::Module(child) => format!("mod {child}"),
                Named::Use(to) => resolve(tree, module, to, 0),
            };
            let path = format!("{prefix}::{name}");
            out.entry(target.clone()).or_default().push(path.clone());
            if let Some(child) = target.strip_prefix("mod ")
                && !seen.iter().any(|m| m == child)
            {
                seen.push(child.to_owned());
                walk(tree, child, &path, seen, out);
                seen.pop();
            }
        }
    }
    let tree = module_tree(files);
    let mut out = BTreeMap::new();
    walk(&tree, "crate", "hemlis", &mut vec!["crate".to_owned()], &mut out);
    out
}

/// The files of `src/`, by their path relative to it.
fn source_files() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&root).expect("under src");
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                files.insert(name, std::fs::read_to_string(&path).expect("read file"));
            }
        }
    }
    files
}

/// The paths that name one thing twice or more.
fn exported_twice(paths: &BTreeMap<String, Vec<String>>) -> Vec<(&String, &Vec<String>)> {
    paths.iter().filter(|(_, p)| p.len() > 1).collect()
}

#[test]
fn the_path_check_sees_a_duplicate_and_follows_private_modules() {
    let files: BTreeMap<String, String> = [
        (
            "lib.rs",
            "pub mod a;\nmod b;\npub use a::X;\npub use b::{Y, c::Z as W};\n",
        ),
        (
            "a.rs",
            "/// X.\npub struct X;\nimpl X {\n    pub fn f() -> [u8; 2] { [b'{', 0] }\n}\n",
        ),
        (
            "b/mod.rs",
            "pub mod c;\npub use c::Z;\npub struct Y;\npub(crate) fn h() {}\n\
             #[cfg(test)]\nmod tests {\n    pub fn t() { let _ = \"}\"; }\n}\n",
        ),
        ("b/c.rs", "pub enum Z {\n    A,\n}\n"),
    ]
    .into_iter()
    .map(|(name, text)| (name.to_owned(), text.to_owned()))
    .collect();
    let paths = public_paths(&files);
    let flat: Vec<(&str, Vec<&str>)> = paths
        .iter()
        .map(|(target, p)| (target.as_str(), p.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        flat,
        [
            ("item crate::a::X", vec!["hemlis::a::X", "hemlis::X"]),
            ("item crate::b::Y", vec!["hemlis::Y"]),
            ("item crate::b::c::Z", vec!["hemlis::W"]),
            ("mod crate::a", vec!["hemlis::a"]),
        ]
    );
    assert_eq!(exported_twice(&paths).len(), 1);
}

#[test]
fn every_public_item_is_exported_under_one_path() {
    let paths = public_paths(&source_files());
    let twice = exported_twice(&paths);
    assert!(
        twice.is_empty(),
        "exported under more than one path (docs/ARCHITECTURE.md, section 2): {twice:#?}"
    );
    // The check is not vacuous: it reaches the root, the public modules and the re-exports.
    let all: BTreeSet<&str> = paths.values().flatten().map(String::as_str).collect();
    for expected in [
        "hemlis::Client",
        "hemlis::Session",
        "hemlis::Store",
        "hemlis::Transport",
        "hemlis::IdentityKey",
        "hemlis::store::Table",
        "hemlis::transport::RelayState",
        "hemlis::wire::Reader",
        "hemlis::kat::kdf_rk",
        "hemlis::rand_core",
    ] {
        assert!(all.contains(expected), "{expected} not found in {all:#?}");
    }
}
