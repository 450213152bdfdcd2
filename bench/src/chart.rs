//! `--chart FILE.svg`: fan-out latency percentiles and throughput against subscriber count,
//! Parley beside the raw reference.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::{coord::Shift, prelude::*};

use crate::stats::Report;

/// One line of a panel: which target, which report field, its label and colour.
struct Line {
    target: &'static str,
    key: &'static str,
    label: &'static str,
    color: RGBColor,
}

pub fn draw(path: &Path, fanout: &[Report]) -> Result<()> {
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(550);
    let latency = [
        Line {
            target: "parley",
            key: "p50_ms",
            label: "parley p50",
            color: BLUE,
        },
        Line {
            target: "parley",
            key: "p99_ms",
            label: "parley p99",
            color: RED,
        },
        Line {
            target: "raw",
            key: "p50_ms",
            label: "raw p50",
            color: CYAN,
        },
        Line {
            target: "raw",
            key: "p99_ms",
            label: "raw p99",
            color: MAGENTA,
        },
    ];
    panel(&left, fanout, "send→deliver latency (ms)", &latency)?;
    let throughput = [
        Line {
            target: "parley",
            key: "deliveries_per_sec",
            label: "parley",
            color: BLUE,
        },
        Line {
            target: "raw",
            key: "deliveries_per_sec",
            label: "raw",
            color: CYAN,
        },
    ];
    panel(&right, fanout, "deliveries per second", &throughput)?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// A chart of report fields against the subscriber count (log scale).
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    reports: &[Report],
    caption: &str,
    lines: &[Line],
) -> Result<()> {
    let subscribers = reports.iter().map(|r| r.number("subscribers"));
    let max_x = subscribers.clone().fold(1.0, f64::max) * 1.2;
    let min_x = subscribers.fold(f64::MAX, f64::min).max(1.0) / 1.2;
    let max_y = reports
        .iter()
        .flat_map(|r| lines.iter().map(move |l| r.number(l.key)))
        .fold(1.0, f64::max)
        * 1.2;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d((min_x..max_x).log_scale(), 0.0..max_y)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("subscribers")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for line in lines {
        let points: Vec<(f64, f64)> = reports
            .iter()
            .filter(|r| r.target == line.target)
            .map(|r| (r.number("subscribers"), r.number(line.key)))
            .collect();
        let color = line.color;
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(line.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
