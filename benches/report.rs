//! Reads the medians criterion wrote for `benches/compare.rs` and prints markdown tables:
//! every workload with its ratios to vodozemac and to the primitive floor, the floors term
//! by term, the primitives, the serialized state sizes and the targets of BENCHMARKS.md.
//!
//! Run after `cargo bench --bench compare`:
//! `cargo bench --bench report [-- CRITERION_DIR]` (default: `target/criterion`).

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Formula, SKIP, floors, ping_pong_floor, state_sizes};

/// The workloads, in the order of the table: `(group, label)`.
fn workloads() -> Vec<(&'static str, String)> {
    vec![
        ("handshake", "handshake (bundle to first message, 16 B)".into()),
        ("one_way_16", "one-way 16 B".into()),
        ("one_way_256", "one-way 256 B".into()),
        ("one_way_4096", "one-way 4 KiB".into()),
        ("ping_pong", "ping-pong 16 B (DH step per message)".into()),
        (
            "out_of_order_skip",
            format!("out of order: decrypt after skipping {SKIP}"),
        ),
        (
            "out_of_order_late",
            "out of order: decrypt a skipped message".into(),
        ),
        ("state_idle", "state: serialize + restore, idle session".into()),
        (
            "state_skipped",
            format!("state: serialize + restore, {SKIP} skipped keys"),
        ),
    ]
}

/// The implementations, in row order: `(bench, label, RNG of its floor)`.
const IMPLS: [(&str, &str, Option<&str>); 5] = [
    ("hemlis_os", "hemlis, `os_rng()`", Some("os")),
    ("hemlis_chacha", "hemlis, `ChaCha20Rng`", Some("chacha")),
    ("hemlis", "hemlis", Some("os")),
    ("vodozemac", "vodozemac", None),
    ("vodozemac_json", "vodozemac, JSON pickle", None),
];

/// One measured row: its median and the values it is compared with, in nanoseconds.
struct Row {
    median: f64,
    vodozemac: Option<f64>,
    floor: Option<f64>,
}

struct Medians {
    root: PathBuf,
}

impl Medians {
    /// The median of `group/bench` in nanoseconds, if criterion wrote it.
    fn get(&self, group: &str, bench: &str) -> Option<f64> {
        let path = self
            .root
            .join(group)
            .join(bench)
            .join("new")
            .join("estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["median"]["point_estimate"].as_f64()
    }

    fn primitive(&self, name: &str, rng: &str) -> Option<f64> {
        let name = match name {
            "rng_24" => format!("rng_{rng}_24"),
            "rng_32" => format!("rng_{rng}_32"),
            other => other.to_string(),
        };
        self.get("primitives", &name)
    }

    fn floor(&self, formula: &Formula, rng: &str) -> Option<f64> {
        formula
            .iter()
            .map(|&(n, p)| self.primitive(p, rng).map(|t| n as f64 * t))
            .sum()
    }

    /// The floor composed and measured in the workload's own group.
    fn composed(&self, group: &str, rng: &str) -> Option<f64> {
        self.get(group, &format!("floor_{rng}"))
            .or_else(|| self.get(group, "floor"))
    }
}

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn opt_time(ns: Option<f64>) -> String {
    ns.map_or_else(|| "n/a".into(), time)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}x", a / b),
        _ => "".into(),
    }
}

fn criterion_dir() -> PathBuf {
    if let Some(arg) = std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        return PathBuf::from(arg);
    }
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

fn main() {
    let m = Medians {
        root: criterion_dir(),
    };
    if m.get("primitives", "kdf_ck").is_none() {
        eprintln!(
            "no criterion results under {}: run `cargo bench --bench compare` first",
            m.root.display()
        );
    }

    let formulas: BTreeMap<&str, Formula> = floors().into_iter().collect();
    println!("## Medians\n");
    println!(
        "`x vodozemac` is the hemlis median over vodozemac's (below 1.00: hemlis is faster). \
         `floor` is the sum of the medians of the workload's primitive operations (group \
         `primitives`, formulas below) with the row's RNG, and `x floor` the median over it. \
         `composed floor` is the same operations run back to back inside the workload's group \
         (benches `floor_os`, `floor_chacha`), a cross-check measured next to the row.\n"
    );
    println!(
        "| workload | implementation | median | x vodozemac | floor | x floor | composed floor | x composed |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut measured: BTreeMap<(&str, &str), Row> = BTreeMap::new();
    for (group, label) in workloads() {
        let vodozemac = m.get(group, "vodozemac");
        let formula = formulas.get(group);
        for (bench, impl_label, rng) in IMPLS {
            let Some(median) = m.get(group, bench) else {
                continue;
            };
            let (floor, composed) = match (formula, rng) {
                (Some(f), Some(rng)) => (m.floor(f, rng), m.composed(group, rng)),
                _ => (None, None),
            };
            let versus = if bench.starts_with("hemlis") {
                vodozemac
            } else {
                None
            };
            println!(
                "| {label} | {impl_label} | {} | {} | {} | {} | {} | {} |",
                time(median),
                ratio(Some(median), versus),
                floor.map_or_else(String::new, time),
                ratio(Some(median), floor),
                composed.map_or_else(String::new, time),
                ratio(Some(median), composed),
            );
            measured.insert(
                (group, bench),
                Row {
                    median,
                    vodozemac: versus,
                    floor,
                },
            );
        }
    }

    println!("\n## Floors, term by term\n");
    println!("`n x primitive (median)`; the RNG terms are shown for `os_rng()` / `ChaCha20Rng`.\n");
    for (group, label) in workloads() {
        let Some(formula) = formulas.get(group) else {
            continue;
        };
        let terms: Vec<String> = formula
            .iter()
            .map(|(n, p)| {
                let t = if p.starts_with("rng_") {
                    format!(
                        "{} / {}",
                        opt_time(m.primitive(p, "os")),
                        opt_time(m.primitive(p, "chacha"))
                    )
                } else {
                    opt_time(m.primitive(p, "os"))
                };
                format!("{n} x {p} ({t})")
            })
            .collect();
        println!(
            "- **{label}** (`{group}`): {} = **{} / {}**",
            terms.join(" + "),
            opt_time(m.floor(formula, "os")),
            opt_time(m.floor(formula, "chacha"))
        );
    }
    let trial = m.primitive("open_fail_header_40", "os");
    println!(
        "- ping-pong with the failed trial of HKr that section 6.5's order implies: + 1 x \
         open_fail_header_40 ({}) = {} / {}",
        opt_time(trial),
        opt_time(m.floor(&ping_pong_floor(), "os").zip(trial).map(|(a, b)| a + b)),
        opt_time(
            m.floor(&ping_pong_floor(), "chacha")
                .zip(trial)
                .map(|(a, b)| a + b)
        ),
    );

    println!("\n## Primitives\n");
    println!("| primitive | median |\n|---|---:|");
    if let Ok(dir) = std::fs::read_dir(m.root.join("primitives")) {
        let mut names: Vec<String> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "report")
            .collect();
        names.sort();
        for name in names {
            if let Some(t) = m.get("primitives", &name) {
                println!("| {name} | {} |", time(t));
            }
        }
    }

    println!("\n## Serialized state sizes\n");
    println!("| state | bytes |\n|---|---:|");
    let sizes = state_sizes();
    for (what, bytes) in &sizes {
        println!("| {what} | {bytes} |");
    }

    println!("\n## Targets\n");
    println!("| target | hemlis, `os_rng()` | hemlis, `ChaCha20Rng` |\n|---|---|---|");
    let check = |value: Option<f64>, limit: f64| match value {
        Some(v) if v <= limit => format!("met ({v:.2}x)"),
        Some(v) => format!("**missed** ({v:.2}x)"),
        None => "n/a".into(),
    };
    let versus = |g: &str, b: &str| measured.get(&(g, b)).and_then(|r| Some(r.median / r.vodozemac?));
    let floor = |g: &str, b: &str| measured.get(&(g, b)).and_then(|r| Some(r.median / r.floor?));
    let targets = [
        (
            "one-way 256 B at least 2.5x faster than vodozemac (<= 0.40x)",
            "one_way_256",
            0.40,
            true,
        ),
        (
            "one-way 256 B within 1.25x of the floor",
            "one_way_256",
            1.25,
            false,
        ),
        ("ping-pong within 1.05x of the floor", "ping_pong", 1.05, false),
        ("handshake within 1.15x of the floor", "handshake", 1.15, false),
    ];
    for (what, group, limit, against_vodozemac) in targets {
        let f = |bench: &str| {
            let value = if against_vodozemac {
                versus(group, bench)
            } else {
                floor(group, bench)
            };
            check(value, limit)
        };
        println!("| {what} | {} | {} |", f("hemlis_os"), f("hemlis_chacha"));
    }
    println!(
        "| handshake vs vodozemac (reported) | {} | {} |",
        versus("handshake", "hemlis_os").map_or("n/a".into(), |v| format!("{v:.2}x")),
        versus("handshake", "hemlis_chacha").map_or("n/a".into(), |v| format!("{v:.2}x")),
    );
    let idle = sizes
        .iter()
        .filter(|(what, _)| what.starts_with("hemlis") && !what.contains("skipped"))
        .map(|(_, bytes)| *bytes)
        .max()
        .unwrap_or(0);
    let verdict = if idle <= 512 { "met" } else { "**missed**" };
    println!("| idle session at most 512 bytes | {verdict} ({idle} bytes, largest idle state) | (same) |");
}
