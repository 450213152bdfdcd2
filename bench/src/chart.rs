//! `--chart FILE.svg`: fan-out latency percentiles and throughput against subscriber count,
//! Parley beside the raw reference.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::stats::Report;

pub fn draw(path: &Path, fanout: &[Report]) -> Result<()> {
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(550);
    let series = |target: &str, key: &str| -> Vec<(f64, f64)> {
        fanout
            .iter()
            .filter(|r| r.target == target)
            .map(|r| (r.number("subscribers"), r.number(key)))
            .collect()
    };
    let max_subs = fanout
        .iter()
        .map(|r| r.number("subscribers"))
        .fold(1.0, f64::max)
        * 1.2;
    let min_subs = fanout
        .iter()
        .map(|r| r.number("subscribers"))
        .fold(f64::MAX, f64::min)
        .max(1.0)
        / 1.2;

    let max_latency = fanout
        .iter()
        .map(|r| r.number("p99_ms"))
        .fold(1.0, f64::max)
        * 1.2;
    let mut chart = ChartBuilder::on(&left)
        .caption("send→deliver latency (ms)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d((min_subs..max_subs).log_scale(), 0.0..max_latency)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("subscribers")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (target, key, color) in [
        ("parley", "p50_ms", BLUE),
        ("parley", "p99_ms", RED),
        ("raw", "p50_ms", CYAN),
        ("raw", "p99_ms", MAGENTA),
    ] {
        let points = series(target, key);
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("{target} {}", key.trim_end_matches("_ms")))
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

    let max_rate = fanout
        .iter()
        .map(|r| r.number("deliveries_per_sec"))
        .fold(1.0, f64::max)
        * 1.2;
    let mut chart = ChartBuilder::on(&right)
        .caption("deliveries per second", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d((min_subs..max_subs).log_scale(), 0.0..max_rate)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("subscribers")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (target, color) in [("parley", BLUE), ("raw", CYAN)] {
        let points = series(target, "deliveries_per_sec");
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(target)
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
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
