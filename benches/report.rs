//! Reads the medians criterion wrote for `benches/compare.rs` and prints markdown tables:
//! every workload with its ratios to vodozemac and to the primitive floor, the floors term
//! by term, the primitives, the serialized state sizes, the durable workloads and the
//! targets of BENCHMARKS.md; and draws the durable per-message cost against the number of
//! sessions in the store as an SVG (`benches/sessions.svg`).
//!
//! Run after `cargo bench --bench compare`:
//! `cargo bench --bench report [-- CRITERION_DIR]` (default: `target/criterion`).

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Formula, SKIP, criterion_dir as default_criterion_dir, floors, ping_pong_floor, state_sizes};

/// Sessions per store of the durable groups (`benches/durable/mod.rs`).
const SESSIONS: [usize; 3] = [1, 1_000, 100_000];

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
    ("hemlis_fast", "hemlis, `fast_rng()`", Some("fast")),
    ("hemlis", "hemlis", Some("os")),
    ("vodozemac", "vodozemac", None),
    ("vodozemac_json", "vodozemac, JSON pickle", None),
];

/// One measured row: its median and the values it is compared with, in nanoseconds.
struct Row {
    median: f64,
    vodozemac: Option<f64>,
    /// The floor summed from the group `primitives`.
    floor: Option<f64>,
    /// The floor composed and measured in the row's own group.
    composed: Option<f64>,
}

struct Medians {
    root: PathBuf,
}

impl Medians {
    /// The median of `group/bench` in nanoseconds, if criterion wrote it.
    fn get(&self, group: &str, bench: &str) -> Option<f64> {
        self.get_with_interval(group, bench).map(|(median, _, _)| median)
    }

    /// The median of `group/bench` and the bounds of its 95 % confidence interval, in ns.
    fn get_with_interval(&self, group: &str, bench: &str) -> Option<Estimate> {
        let path = self
            .root
            .join(group)
            .join(bench)
            .join("new")
            .join("estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let median = &json["median"];
        Some((
            median["point_estimate"].as_f64()?,
            median["confidence_interval"]["lower_bound"].as_f64()?,
            median["confidence_interval"]["upper_bound"].as_f64()?,
        ))
    }

    fn primitive(&self, name: &str, rng: &str) -> Option<f64> {
        let name = match name {
            "rng_24" => format!("rng_{rng}_24"),
            "rng_32" => format!("rng_{rng}_32"),
            "rng_48" => format!("rng_{rng}_48"),
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
    match std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        Some(arg) => PathBuf::from(arg),
        None => default_criterion_dir(),
    }
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
         (benches `floor_os`, `floor_fast`), a cross-check measured next to the row.\n"
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
                    composed,
                },
            );
        }
    }

    println!("\n## Floors, term by term\n");
    println!("`n x primitive (median)`; the RNG terms are shown for `os_rng()` / `fast_rng()`.\n");
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
                        opt_time(m.primitive(p, "fast"))
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
            opt_time(m.floor(formula, "fast"))
        );
    }
    let trial = m.primitive("open_fail_header_40", "os");
    println!(
        "- ping-pong with the failed trial of HKr that section 6.5's order implies: + 1 x \
         open_fail_header_40 ({}) = {} / {}",
        opt_time(trial),
        opt_time(m.floor(&ping_pong_floor(), "os").zip(trial).map(|(a, b)| a + b)),
        opt_time(m.floor(&ping_pong_floor(), "fast").zip(trial).map(|(a, b)| a + b)),
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

    let durable = durable_rows(&m);
    print_durable(&durable);

    println!("\n## Targets\n");
    println!(
        "Floor targets are checked against the floor measured in the workload's own group \
         (`composed floor`: the same machine state as the row); the ratio to the floor summed \
         from `primitives`, measured minutes apart, follows as a cross-check.\n"
    );
    println!("| target | hemlis, `os_rng()` | hemlis, `fast_rng()` |\n|---|---|---|");
    let check = |value: Option<f64>, limit: f64| match value {
        Some(v) if v <= limit => format!("met ({v:.2}x)"),
        Some(v) => format!("**missed** ({v:.2}x)"),
        None => "n/a".into(),
    };
    let versus = |g: &str, b: &str| measured.get(&(g, b)).and_then(|r| Some(r.median / r.vodozemac?));
    let composed = |g: &str, b: &str| measured.get(&(g, b)).and_then(|r| Some(r.median / r.composed?));
    let summed = |g: &str, b: &str| measured.get(&(g, b)).and_then(|r| Some(r.median / r.floor?));
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
            if against_vodozemac {
                check(versus(group, bench), limit)
            } else {
                let cross = summed(group, bench).map_or(String::new(), |v| format!("; summed floor {v:.2}x"));
                format!("{}{cross}", check(composed(group, bench), limit))
            }
        };
        println!("| {what} | {} | {} |", f("hemlis_os"), f("hemlis_fast"));
    }
    println!(
        "| handshake vs vodozemac (reported) | {} | {} |",
        versus("handshake", "hemlis_os").map_or("n/a".into(), |v| format!("{v:.2}x")),
        versus("handshake", "hemlis_fast").map_or("n/a".into(), |v| format!("{v:.2}x")),
    );
    let idle = sizes
        .iter()
        .filter(|(what, _)| what.starts_with("hemlis") && !what.contains("skipped"))
        .map(|(_, bytes)| *bytes)
        .max()
        .unwrap_or(0);
    let verdict = if idle <= 512 { "met" } else { "**missed**" };
    println!("| idle session at most 512 bytes | {verdict} ({idle} bytes, largest idle state) | (same) |");
    let ends = |get: Series| {
        durable
            .first()
            .and_then(get)
            .zip(durable.last().and_then(get))
            .filter(|_| durable.len() == SESSIONS.len())
    };
    let growth = |get: Series| ends(get).map(|(one, most)| most.0 / one.0);
    println!(
        "| durable: {} sessions within 1.1x of 1 session (CPU time) | (not run) | {} |",
        thousands(SESSIONS[2]),
        check(growth(|d| d.cpu), 1.1)
    );
    println!(
        "| durable: the same, stores on tmpfs (CPU time without fsync) | (not run) | {} |",
        check(growth(|d| d.tmpfs), 1.1)
    );
    println!(
        "| durable: the same in wall-clock time (reported) | (not run) | {} |",
        growth(|d| d.wall).map_or("n/a".into(), |v| format!("{v:.2}x"))
    );
    let rates = |get: Series| {
        ends(get).map_or("n/a".into(), |(one, most)| {
            format!("{} / {}", per_second(one.0), per_second(most.0))
        })
    };
    println!(
        "| durable: messages per second, 1 / {} sessions: CPU; tmpfs CPU; wall-clock | (not run) | {}; {}; {} |",
        thousands(SESSIONS[2]),
        rates(|d| d.cpu),
        rates(|d| d.tmpfs),
        rates(|d| d.wall),
    );

    let svg_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join("sessions.svg");
    if durable.iter().any(|d| d.cpu.is_some() || d.wall.is_some()) {
        match std::fs::write(&svg_path, sessions_svg(&durable)) {
            Ok(()) => eprintln!("wrote {}", svg_path.display()),
            Err(e) => eprintln!("could not write {}: {e}", svg_path.display()),
        }
    }
}

/// `n` with thousands separators.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Messages per second at a median of `ns` nanoseconds per message.
fn per_second(ns: f64) -> String {
    thousands((1e9 / ns).round() as usize)
}

/// A median with the bounds of its 95 % confidence interval, in nanoseconds.
type Estimate = (f64, f64, f64);

/// One line of a plot panel: legend, colour, and `(sessions, estimate)` points.
type Line<'a> = (&'a str, &'a str, Vec<(usize, Estimate)>);

/// Picks one series (CPU or wall-clock time) of a durable row.
type Series = fn(&Durable) -> Option<Estimate>;

/// One durable size: the medians (and 95 % intervals) of a message in CPU and wall-clock
/// time, and what `compare` recorded of the set-up.
struct Durable {
    sessions: usize,
    cpu: Option<Estimate>,
    tmpfs: Option<Estimate>,
    wall: Option<Estimate>,
    setup: serde_json::Value,
}

fn durable_rows(m: &Medians) -> Vec<Durable> {
    let setups: serde_json::Value = std::fs::read(m.root.join("durable_setup.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    SESSIONS
        .iter()
        .map(|&n| Durable {
            sessions: n,
            cpu: m.get_with_interval(&format!("durable_{n}"), "hemlis_fast"),
            tmpfs: m.get_with_interval(&format!("durable_tmpfs_{n}"), "hemlis_fast"),
            wall: m.get_with_interval(&format!("durable_wall_{n}"), "hemlis_fast"),
            setup: setups[n.to_string()].clone(),
        })
        .collect()
}

fn print_durable(rows: &[Durable]) {
    println!("\n## Durable: a message between two clients, each store holding n sessions\n");
    println!(
        "`a.send_to(b)` + `b.receive()` + `b.mark_read` through `SqliteStore` (WAL, \
         `synchronous = FULL`) and `InMemoryRelay`, `fast_rng()`. `tmpfs`: the same stores copied \
         to `/dev/shm`, where fsync costs nothing. `x 1`: the median over the median with one \
         session per store.\n"
    );
    println!(
        "| sessions per store | CPU time per message | messages/s (CPU) | x 1 | CPU time, tmpfs | \
         x 1 | wall-clock per message | messages/s (wall) | x 1 | set-up | both stores on disk |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = |get: Series| rows.first().and_then(get).map(|c| c.0);
    let (base_cpu, base_tmpfs, base_wall) = (base(|r| r.cpu), base(|r| r.tmpfs), base(|r| r.wall));
    for r in rows {
        let cell = |x: Option<Estimate>, base: Option<f64>| match x {
            Some((median, _, _)) => (time(median), per_second(median), ratio(Some(median), base)),
            None => ("n/a".into(), "n/a".into(), String::new()),
        };
        let (cpu, cpu_rate, cpu_x) = cell(r.cpu, base_cpu);
        let (tmpfs, _, tmpfs_x) = cell(r.tmpfs, base_tmpfs);
        let (wall, wall_rate, wall_x) = cell(r.wall, base_wall);
        let setup = r.setup["setup_seconds"]
            .as_f64()
            .map_or("n/a".into(), |s| format!("{s:.1} s"));
        let disk = r.setup["disk_bytes"]
            .as_f64()
            .map_or("n/a".into(), |b| format!("{:.1} MB", b / 1e6));
        println!(
            "| {} | {cpu} | {cpu_rate} | {cpu_x} | {tmpfs} | {tmpfs_x} | {wall} | {wall_rate} | {wall_x} \
             | {setup} | {disk} |",
            thousands(r.sessions)
        );
    }
}

/// The durable per-message cost against the sessions in each store, hand-written SVG: two
/// panels (CPU time, on disk and on a tmpfs; wall-clock time), each with its own scale from
/// zero, a logarithmic x axis, the medians with their 95 % confidence intervals, the
/// messages per second, and the target (1.1x the one-session median) as a dashed line.
fn sessions_svg(rows: &[Durable]) -> String {
    const W: f64 = 900.0;
    const H: f64 = 440.0;
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">hemlis: one message \
         (send + receive + mark read) between two clients, SQLite stores, in-memory relay</text>\n",
        W / 2.0
    ));
    let points = |get: Series| -> Vec<(usize, Estimate)> {
        rows.iter()
            .filter_map(|r| get(r).map(|e| (r.sessions, e)))
            .collect()
    };
    panel(
        &mut out,
        0.0,
        "CPU time per message",
        &[
            ("store on disk (fsync)", "#1f77b4", points(|r| r.cpu)),
            ("store on tmpfs (fsync free)", "#2ca02c", points(|r| r.tmpfs)),
        ],
    );
    panel(
        &mut out,
        450.0,
        "wall-clock time per message",
        &[("store on disk (fsync)", "#d62728", points(|r| r.wall))],
    );
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">sessions in each store (log scale); \
         points: medians, bars: 95 % intervals, labels: messages per second; \
         dashed: 1.1x the median with 1 session</text>\n</svg>\n",
        W / 2.0,
        H - 12.0
    ));
    out
}

/// One panel of [`sessions_svg`], 450 wide, its left edge at `x0`: one line per series
/// `(legend, colour, points)`.
fn panel(out: &mut String, x0: f64, title: &str, series: &[Line<'_>]) {
    const H: f64 = 440.0;
    let (left, right, top, bottom) = (x0 + 75.0, x0 + 430.0, 60.0, H - 95.0);
    let top_value = series
        .iter()
        .flat_map(|(_, _, points)| points)
        .map(|(_, (_, _, hi))| *hi)
        .fold(0.0f64, f64::max)
        * 1.25;
    if top_value <= 0.0 {
        return;
    }
    // A round tick step: 1, 2 or 5 times a power of ten, at most eight ticks.
    let power = 10f64.powf((top_value / 5.0).log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|k| k * power)
        .find(|s| top_value / s <= 8.0)
        .unwrap_or(10.0 * power);
    let y_max = (top_value / step).ceil() * step;
    let (unit, scale) = if y_max >= 2e6 { ("ms", 1e6) } else { ("µs", 1e3) };
    let max_log = (SESSIONS[SESSIONS.len() - 1] as f64).log10();
    let x = |n: usize| left + 20.0 + (n.max(1) as f64).log10() / max_log * (right - left - 40.0);
    let y = |v: f64| bottom - v / y_max * (bottom - top);
    let mut add = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    add(format!(
        r#"<text x="{:.1}" y="46" text-anchor="middle" font-size="13">{title} ({unit})</text>"#,
        (left + right) / 2.0
    ));
    let mut tick = 0.0;
    while tick <= y_max + step / 2.0 {
        let ty = y(tick);
        add(format!(
            r##"<line x1="{left:.1}" y1="{ty:.1}" x2="{right:.1}" y2="{ty:.1}" stroke="#e4e4e4"/>"##
        ));
        add(format!(
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            ty + 4.0,
            trim(tick / scale)
        ));
        tick += step;
    }
    for &n in &SESSIONS {
        let tx = x(n);
        add(format!(
            r##"<line x1="{tx:.1}" y1="{top:.1}" x2="{tx:.1}" y2="{bottom:.1}" stroke="#e4e4e4"/>"##
        ));
        add(format!(
            r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 18.0,
            thousands(n)
        ));
    }
    add(format!(
        r##"<path d="M{left:.1} {top:.1} V{bottom:.1} H{right:.1}" fill="none" stroke="#333"/>"##
    ));
    for (k, (legend, color, points)) in series.iter().enumerate() {
        let ly = bottom + 38.0 + 16.0 * k as f64;
        add(format!(
            r#"<line x1="{left:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{ly:.1}">{legend}</text>"#,
            ly - 4.0,
            left + 24.0,
            ly - 4.0,
            left + 30.0
        ));
        if let Some((1, (base, _, _))) = points.first() {
            let ty = y(1.1 * base);
            add(format!(
                r#"<line x1="{left:.1}" y1="{ty:.1}" x2="{right:.1}" y2="{ty:.1}" stroke="{color}" stroke-dasharray="6 4" opacity="0.7"/>"#
            ));
        }
        let path: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(j, (n, (m, _, _)))| format!("{}{:.1} {:.1}", if j == 0 { "M" } else { "L" }, x(*n), y(*m)))
            .collect();
        add(format!(
            r#"<path d="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            path.join(" ")
        ));
        for (j, (n, (m, lo, hi))) in points.iter().enumerate() {
            let (px, py) = (x(*n), y(*m));
            // Labels below the interval (the target line is above), kept inside the panel.
            let anchor = match j {
                0 => "start",
                j if j + 1 == points.len() => "end",
                _ => "middle",
            };
            add(format!(
                r#"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.5"/>"#,
                y(*lo),
                y(*hi)
            ));
            add(format!(
                r#"<circle cx="{px:.1}" cy="{py:.1}" r="4" fill="{color}"/>"#
            ));
            add(format!(
                r#"<text y="{:.1}" text-anchor="{anchor}" fill="{color}"><tspan x="{tx:.1}">{}</tspan><tspan x="{tx:.1}" dy="14">{}/s</tspan></text>"#,
                y(*lo) + 16.0,
                time(*m),
                per_second(*m),
                tx = px + if j == 0 { -6.0 } else { 6.0 },
            ));
        }
    }
}

/// A tick label: no trailing zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
