//! The layers of docs/ARCHITECTURE.md, section 2, checked from the source: the core
//! (`crypto`, `wire`, `handshake`, `session` and their shared helpers) imports nothing
//! from the client or the adapters, and no two modules import each other.
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
    let mut map = BTreeMap::new();
    for line in lib.lines() {
        let Some(path) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        for name in rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !name.is_empty() {
                map.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    map
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
