//! `parley-bench`: drives a `parley-server` it starts itself (port 0, temporary data dir) over
//! real WebSockets and prints a table plus one JSON line per scenario. See docs/benchmarks.md.

mod cache;
mod chart;
mod client;
mod cluster;
mod docs;
mod docs_paced;
mod fanout;
mod reference;
mod scenarios;
mod stats;
mod target;

use std::{path::PathBuf, time::Duration};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::{fanout::FanoutParams, stats::Report};

#[derive(Parser)]
#[command(name = "parley-bench", about = "Load benchmark for parley-server")]
struct Cli {
    /// The parley-server binary (default: next to this executable).
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// Draw fan-out latency and throughput against subscriber count into this SVG.
    #[arg(long, global = true)]
    chart: Option<PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// N authenticated connections, each subscribed to K channels: connect rate, RSS growth.
    Connections {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        #[arg(long, default_value_t = 3)]
        channels: usize,
        /// How long the connections sit idle before each reading of the server's memory: an
        /// idle connection's writer parks after a second without frames (server/src/ws/writer.rs).
        #[arg(long, default_value_t = 3000)]
        settle_ms: u64,
    },
    /// S subscribers, P publishers: deliveries/s, latency, loss; beside the raw reference.
    Fanout(FanoutArgs),
    /// C concurrent senders as fast as acks return, group commit and one commit per message.
    Durable {
        #[arg(long, default_value_t = 100)]
        senders: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// R subscribed clients resume with `since` at once after a server restart.
    Resume {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        backlog: u32,
    },
    /// Replay an editing trace through a document (one writer, one observer) beside a local
    /// yrs Doc and the reference Yjs server; memory per open idle document.
    Docs {
        /// Only the first N transactions of the trace.
        #[arg(long)]
        limit: Option<usize>,
        /// Documents opened for the memory figure.
        #[arg(long, default_value_t = 1000)]
        idle_docs: usize,
        /// The trace (josephg/editing-traces format, gzipped JSON).
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Documents edited at a typing pace: each writer sends one update per keystroke, each in
    /// its own frame, `rate` a second.
    DocsPaced {
        #[arg(long, default_value_t = 100)]
        docs: usize,
        #[arg(long, default_value_t = 2)]
        writers: usize,
        #[arg(long, default_value_t = 1)]
        observers: usize,
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// parley-client's cache and outbox: search over N cached messages, opening a channel of M,
    /// queueing and draining the outbox.
    Cache {
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        #[arg(long, default_value_t = 100_000)]
        channel_messages: usize,
        #[arg(long, default_value_t = 2000)]
        outbox: usize,
    },
    /// Several nodes on PostgreSQL + Redis against one: fan-out over the nodes, durable acked
    /// sends, a resume storm (PostgreSQL and Redis are started from Debian's packages).
    Cluster {
        /// Comma-separated node counts; one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,3")]
        nodes: Vec<usize>,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Fan-out messages (one publisher).
        #[arg(long, default_value_t = 500)]
        messages: u32,
        /// Fan-out messages per second (0 = as fast as acks return).
        #[arg(long, default_value_t = 0)]
        rate: u32,
        #[arg(long, default_value_t = 60)]
        senders: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Clients of the resume storm, each resuming `backlog` events.
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        backlog: u32,
    },
    /// Internal: run the raw reference server (started by `fanout`).
    #[command(hide = true)]
    ServeReference,
    /// Every scenario with the parameters of the targets in docs/benchmarks.md.
    All {
        /// Seconds-long run of every scenario (the test suite's smoke run).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Args, Clone)]
struct FanoutArgs {
    /// Comma-separated subscriber counts; one run each.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    subscribers: Vec<usize>,
    #[arg(long, default_value_t = 1)]
    publishers: u32,
    /// Messages per publisher.
    #[arg(long, default_value_t = 500)]
    messages: u32,
    /// Messages per second across all publishers (0 = unlimited).
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Padding bytes per message.
    #[arg(long, default_value_t = 64)]
    pad: usize,
    /// Batch window of a second Parley run whose subscribers connect with `batch_ms`
    /// (0 = no batched run).
    #[arg(long, default_value_t = 50)]
    batch_ms: u32,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    raise_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if matches!(cli.scenario, Scenario::ServeReference) {
        return runtime.block_on(reference::serve_forever());
    }
    runtime.block_on(run(cli))
}

/// Thousands of sockets, ours and the servers' (which inherit the limit). As root the hard
/// limit can be raised too; otherwise the soft limit goes up to the hard one.
fn raise_file_limit() {
    const WANT: u64 = 262_144;
    if rlimit::setrlimit(rlimit::Resource::NOFILE, WANT, WANT).is_err() {
        let _ = rlimit::increase_nofile_limit(WANT);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let binary = match cli.server_bin {
        Some(path) => path,
        None => target::default_server_binary()?,
    };
    let mut reports: Vec<Report> = Vec::new();
    let mut fanout_reports: Vec<Report> = Vec::new();
    let emit = |report: &Report| {
        println!("{}", report.table_row());
        println!("{}", report.json_line());
    };
    match cli.scenario {
        Scenario::Connections {
            connections,
            channels,
            settle_ms,
        } => {
            let settle = std::time::Duration::from_millis(settle_ms);
            reports.extend(scenarios::connections(&binary, connections, channels, settle).await?);
        }
        Scenario::Fanout(args) => {
            for subscribers in &args.subscribers {
                let params = FanoutParams {
                    subscribers: *subscribers,
                    publishers: args.publishers,
                    messages: args.messages,
                    rate: args.rate,
                    pad: args.pad,
                    batch_ms: args.batch_ms,
                };
                fanout_reports.extend(fanout::fanout(&binary, params).await?);
            }
        }
        Scenario::Durable { senders, seconds } => {
            let duration = Duration::from_secs(seconds);
            reports.push(scenarios::durable(&binary, senders, duration, false).await?);
            reports.push(scenarios::durable(&binary, senders, duration, true).await?);
        }
        Scenario::Resume { clients, backlog } => {
            reports.push(scenarios::resume(&binary, clients, backlog).await?);
        }
        Scenario::Docs {
            limit,
            idle_docs,
            trace,
        } => {
            let params = docs::DocsParams {
                limit,
                idle_docs,
                trace: trace.unwrap_or_else(docs::default_trace),
            };
            reports.extend(docs::docs(&binary, params).await?);
        }
        Scenario::DocsPaced {
            docs,
            writers,
            observers,
            rate,
            seconds,
            trace,
        } => {
            let params = docs_paced::PacedParams {
                docs,
                writers,
                observers,
                rate,
                seconds,
                trace: trace.unwrap_or_else(docs::default_trace),
            };
            reports.extend(docs_paced::docs_paced(&binary, params).await?);
        }
        Scenario::Cache {
            messages,
            channel_messages,
            outbox,
        } => {
            let params = cache::CacheParams {
                messages,
                channel_messages,
                outbox,
            };
            reports.extend(cache::cache(&binary, params).await?);
        }
        Scenario::Cluster {
            nodes,
            subscribers,
            messages,
            rate,
            senders,
            seconds,
            clients,
            backlog,
        } => {
            let params = cluster::ClusterParams {
                nodes,
                subscribers,
                messages,
                rate,
                senders,
                seconds,
                clients,
                backlog,
            };
            reports.extend(cluster::cluster(&binary, params).await?);
        }
        Scenario::ServeReference => {} // handled in main
        Scenario::All { quick } => {
            let (conns, subs, messages, seconds, resumers) = if quick {
                (50, vec![10, 50], 50, 1, 20)
            } else {
                (10_000, vec![100, 1000, 10_000], 500, 10, 1000)
            };
            let settle = std::time::Duration::from_millis(if quick { 200 } else { 3000 });
            for channels in [3, 0] {
                for report in scenarios::connections(&binary, conns, channels, settle).await? {
                    emit(&report);
                    reports.push(report);
                }
            }
            for (rate, subscribers) in subs.iter().flat_map(|s| [(500, *s), (0, *s)]) {
                let params = FanoutParams {
                    subscribers,
                    publishers: 1,
                    messages,
                    rate,
                    pad: 64,
                    batch_ms: 50,
                };
                let pair = fanout::fanout(&binary, params).await?;
                pair.iter().for_each(emit);
                if rate == 0 {
                    fanout_reports.extend(pair);
                } else {
                    reports.extend(pair);
                }
            }
            for per_write in [false, true] {
                let report = scenarios::durable(
                    &binary,
                    if quick { 10 } else { 100 },
                    Duration::from_secs(seconds),
                    per_write,
                )
                .await?;
                emit(&report);
                reports.push(report);
            }
            let report = scenarios::resume(&binary, resumers, 100).await?;
            emit(&report);
            reports.push(report);
            let params = cluster::ClusterParams {
                nodes: vec![1, 3],
                subscribers: if quick { 30 } else { 1000 },
                messages,
                rate: 0,
                senders: if quick { 6 } else { 60 },
                seconds,
                clients: resumers,
                backlog: 100,
            };
            let cluster_reports = cluster::cluster(&binary, params).await?;
            cluster_reports.iter().for_each(emit);
            reports.extend(cluster_reports);
            let params = docs::DocsParams {
                limit: quick.then_some(2000),
                idle_docs: if quick { 20 } else { 1000 },
                trace: docs::default_trace(),
            };
            let docs_reports = docs::docs(&binary, params).await?;
            docs_reports.iter().for_each(emit);
            reports.extend(docs_reports);
            // At a typing pace: many documents with two writers each, then one fast writer.
            let (many, fast) = if quick {
                ((3, 20.0), 200.0)
            } else {
                ((100, 10.0), 2000.0)
            };
            for (docs, writers, rate) in [(many.0, 2, many.1), (1, 1, fast)] {
                let params = docs_paced::PacedParams {
                    docs,
                    writers,
                    observers: 1,
                    rate,
                    seconds: seconds as f64,
                    trace: docs::default_trace(),
                };
                let paced = docs_paced::docs_paced(&binary, params).await?;
                paced.iter().for_each(emit);
                reports.extend(paced);
            }
            let params = if quick {
                cache::CacheParams {
                    messages: 5000,
                    channel_messages: 1000,
                    outbox: 100,
                }
            } else {
                cache::CacheParams {
                    messages: 1_000_000,
                    channel_messages: 100_000,
                    outbox: 2000,
                }
            };
            let cache_reports = cache::cache(&binary, params).await?;
            cache_reports.iter().for_each(emit);
            reports.extend(cache_reports);
            if let Some(path) = &cli.chart {
                chart::draw(path, &fanout_reports)?;
            }
            check_correctness(reports.iter().chain(&fanout_reports))?;
            return Ok(());
        }
    }
    for report in reports.iter().chain(&fanout_reports) {
        emit(report);
    }
    if let Some(path) = &cli.chart {
        chart::draw(path, &fanout_reports)?;
    }
    check_correctness(reports.iter().chain(&fanout_reports))
}

/// Loss, duplicates and reordering must be zero whatever the speed: fail loudly if not.
fn check_correctness<'a>(reports: impl Iterator<Item = &'a Report>) -> Result<()> {
    for report in reports {
        for key in ["lost", "duplicated", "out_of_order"] {
            if report.number(key) > 0.0 {
                anyhow::bail!(
                    "{} {}: {key} = {}",
                    report.scenario,
                    report.target,
                    report.number(key)
                );
            }
        }
    }
    Ok(())
}
