//! Inline SVG charts of an incident's series for the HTML report: requests per second (served
//! and refused) and the flood mitigation mode as a band beneath. No script, no external
//! resource: the report opens anywhere, offline.

use std::fmt::Write;

use crate::model::Series;
use crate::time::Timestamp;

const W: f64 = 760.0;
const H: f64 = 180.0;
const LEFT: f64 = 56.0;
const BAND: f64 = 16.0;

/// The requests-per-second chart with the mode band, as an `<svg>` element.
pub fn traffic(series: &Series) -> String {
    let step = series.step_secs.max(1) as f64;
    let n = series.points.len().max(1) as f64;
    let max = series.points.iter().map(|p| p.requests as f64 / step).fold(1.0, f64::max);
    let x = |i: usize| LEFT + (i as f64) * (W - LEFT) / n;
    let y = |v: f64| H - v / max * (H - 10.0);
    let mut s = String::new();
    let total_h = H + BAND + 34.0;
    let _ = write!(
        s,
        r##"<svg viewBox="0 0 {w} {total_h}" width="{w}" height="{total_h}" role="img" aria-label="requests per second and mitigation mode">"##,
        w = W + 10.0
    );
    let _ = write!(s, r##"<rect x="{LEFT}" y="0" width="{}" height="{H}" fill="#fafafa" stroke="#ccc"/>"##, W - LEFT);
    for frac in [0.0, 0.5, 1.0] {
        let v = max * frac;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{:.0}</text>"##,
            LEFT - 4.0,
            y(v) + 4.0,
            v
        );
    }
    let bw = ((W - LEFT) / n).max(0.5);
    for (i, p) in series.points.iter().enumerate() {
        let total = p.requests as f64 / step;
        let refused = p.refused as f64 / step;
        if total > 0.0 {
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{bw:.2}" height="{:.1}" fill="#4a90d9"/>"##,
                x(i),
                y(total),
                H - y(total)
            );
        }
        if refused > 0.0 {
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{bw:.2}" height="{:.1}" fill="#d9534f"/>"##,
                x(i),
                y(refused),
                H - y(refused)
            );
        }
        let colour = match p.mode {
            0 => "#5cb85c",
            1 => "#f0ad4e",
            _ => "#d9534f",
        };
        let _ =
            write!(s, r##"<rect x="{:.1}" y="{}" width="{bw:.2}" height="{BAND}" fill="{colour}"/>"##, x(i), H + 4.0);
    }
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">mode</text>"##,
        LEFT - 4.0,
        H + 16.0
    );
    let end = series.start.plus(std::time::Duration::from_secs(series.step_secs * series.points.len() as u64));
    for (i, t) in [(0usize, series.start), (series.points.len(), end)] {
        let anchor = if i == 0 { "start" } else { "end" };
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="{anchor}" fill="#555">{}</text>"##,
            x(i),
            H + BAND + 18.0,
            clock(t)
        );
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#555">requests/s: blue all, red refused; mode: green normal, amber elevated, red under attack ({}s per bar)</text>"##,
        LEFT + (W - LEFT) / 2.0,
        H + BAND + 32.0,
        series.step_secs
    );
    s.push_str("</svg>");
    s
}

/// `HH:MM:SS` UTC.
fn clock(t: Timestamp) -> String {
    let text = t.to_string();
    text.get(11..19).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Point;

    #[test]
    fn one_bar_and_one_band_cell_per_point() {
        let series = Series {
            start: Timestamp(0),
            step_secs: 1,
            points: vec![Point { requests: 10, refused: 5, mode: 2 }, Point { requests: 2, refused: 0, mode: 0 }],
        };
        let svg = traffic(&series);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("#4a90d9").count(), 2);
        assert_eq!(svg.matches(r##"fill="#d9534f""##).count(), 2, "one refused bar, one under-attack cell");
        assert!(svg.contains("00:00:00") && svg.contains("00:00:02"));
    }
}
