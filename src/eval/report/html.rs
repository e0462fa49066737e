//! The HTML report: one self-contained file (inline CSS, inline SVG drawn here, a few lines of script,
//! no external resources) with four figures and the summary table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use super::summary::{SummaryRow, mean, quantile_sorted};
use crate::eval::record::EpisodeRecord;

/// Categorical colours (Tableau 10), reused in turn when there are more names than colours.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Width of every figure, in SVG units.
const WIDTH: f64 = 760.0;
/// Estimated width of a character of 11px sans-serif text, for placing labels.
const CHAR_WIDTH: f64 = 6.4;
/// Labels longer than this many characters are shortened (the full text is in the tooltip).
const LABEL_CHARS: usize = 34;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2rem auto;
  max-width: 60rem; padding: 0 1rem; color: #1d2330; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; }
.meta { color: #556; margin-top: 0; }
figure { margin: 1rem 0 2rem; }
figcaption { color: #445; font-size: 0.9rem; max-width: 47.5rem; }
svg.plot { display: block; width: 100%; max-width: 760px; height: auto; font-size: 11px;
  font-family: inherit; }
svg.plot text { fill: #333; }
svg.plot .grid { stroke: #e3e6ec; stroke-width: 1; }
svg.plot .axis { stroke: #889; stroke-width: 1; }
svg.plot .axis-title { font-size: 12px; fill: #223; }
svg.plot .frontier { fill: none; stroke: #1d2330; stroke-width: 1.5; stroke-dasharray: 5 3; }
svg.plot .config-point { stroke: #fff; stroke-width: 1.5; }
svg.plot .point-label { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
svg.plot .whisker { stroke: #333; stroke-width: 1.2; }
svg.plot .box { stroke: #333; stroke-width: 1; fill-opacity: 0.75; }
svg.plot .median { stroke: #111; stroke-width: 2; }
svg.plot .empty { font-size: 14px; fill: #667; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; width: 100%; }
th, td { padding: 0.3rem 0.5rem; border-bottom: 1px solid #e3e6ec; text-align: right;
  white-space: nowrap; }
td:first-child { white-space: normal; overflow-wrap: anywhere; min-width: 8rem; }
th { background: #f4f5f8; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
td code { font-size: 0.8rem; }
";

/// Counts the plots and point markers the browser laid out with a size, for headless checks.
const SCRIPT: &str = "
window.addEventListener('load', function () {
  function laidOut(selector) {
    var count = 0;
    document.querySelectorAll(selector).forEach(function (element) {
      var box = element.getBoundingClientRect();
      if (box.width > 0 && box.height > 0) { count += 1; }
    });
    return count;
  }
  document.body.dataset.plotsRendered = String(laidOut('svg.plot'));
  document.body.dataset.pointsRendered = String(laidOut('svg.plot .config-point'));
});
";

/// Appends formatted text to a `String` (which cannot fail).
fn push(out: &mut String, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

macro_rules! put {
    ($out:expr, $($arg:tt)*) => {
        push($out, format_args!($($arg)*))
    };
}

/// Escapes text for HTML and SVG, in content and in quoted attributes alike.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Text cut to `max` characters, ending in an ellipsis if cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// A dollar amount with thousands separators and `decimals` decimals: `$1,250`, `$0.50`.
fn usd(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}${grouped}")
    } else {
        format!("{sign}${grouped}.{fraction}")
    }
}

/// A share as a percentage with one decimal.
fn percent(value: f64) -> String {
    format!("{:.1}%", 100.0 * value)
}

/// A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10_f64.powf(raw.log10().floor());
    let fraction = raw / base;
    let nice = [1.0, 2.0, 2.5, 5.0]
        .into_iter()
        .find(|&nice| fraction <= nice * (1.0 + 1e-9))
        .unwrap_or(10.0);
    nice * base
}

/// How an axis labels its ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    /// US dollars.
    Usd,
    /// A share shown as a percentage.
    Percent,
}

/// A value axis from 0 to a nice number above the data, with about five nice ticks.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    top: f64,
    step: f64,
    ticks: Vec<f64>,
    unit: Unit,
}

impl Axis {
    fn new(max: f64, unit: Unit) -> Axis {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let step = nice_step(max / 5.0);
        let count = ((max / step) - 1e-9).ceil().max(1.0) as usize;
        Axis {
            top: count as f64 * step,
            step,
            ticks: (0..=count).map(|index| index as f64 * step).collect(),
            unit,
        }
    }

    /// An axis of dollars up to at least `max`.
    fn usd(max: f64) -> Axis {
        Axis::new(max, Unit::Usd)
    }

    /// An axis of shares from 0 to 100%.
    fn share() -> Axis {
        Axis::new(1.0, Unit::Percent)
    }

    fn label(&self, value: f64) -> String {
        match self.unit {
            Unit::Usd => usd(value, if self.step < 1.0 { 2 } else { 0 }),
            Unit::Percent => format!("{:.0}%", 100.0 * value),
        }
    }

    /// The tick values.
    fn ticks(&self) -> &[f64] {
        &self.ticks
    }
}

/// The plotting area of a figure, in SVG units.
#[derive(Debug, Clone, Copy)]
struct Area {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Area {
    /// Where `value` of `axis` falls horizontally.
    fn x(&self, axis: &Axis, value: f64) -> f64 {
        self.left + value / axis.top * (self.right - self.left)
    }

    /// Where `value` of `axis` falls vertically.
    fn y(&self, axis: &Axis, value: f64) -> f64 {
        self.bottom - value / axis.top * (self.bottom - self.top)
    }

    /// Vertical grid lines at `axis`'s ticks, labelled below, and the axis title under them.
    fn x_axis(&self, out: &mut String, axis: &Axis, title: &str) {
        for &tick in axis.ticks() {
            let x = self.x(axis, tick);
            put!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                self.top,
                self.bottom,
                self.bottom + 15.0,
                escape(&axis.label(tick))
            );
        }
        put!(
            out,
            "<line class=\"axis\" x1=\"{:.1}\" y1=\"{b:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\"/>\
             <text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            self.left,
            self.right,
            (self.left + self.right) / 2.0,
            self.bottom + 34.0,
            escape(title),
            b = self.bottom,
        );
    }

    /// Horizontal grid lines at `axis`'s ticks, labelled on the left, and the axis title beside them.
    fn y_axis(&self, out: &mut String, axis: &Axis, title: &str) {
        for &tick in axis.ticks() {
            let y = self.y(axis, tick);
            put!(
                out,
                "<line class=\"grid\" x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                self.left,
                self.right,
                self.left - 6.0,
                y + 4.0,
                escape(&axis.label(tick))
            );
        }
        let middle = (self.top + self.bottom) / 2.0;
        put!(
            out,
            "<line class=\"axis\" x1=\"{l:.1}\" y1=\"{:.1}\" x2=\"{l:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis-title\" x=\"{x:.1}\" y=\"{middle:.1}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 {x:.1} {middle:.1})\">{}</text>\n",
            self.top,
            self.bottom,
            escape(title),
            l = self.left,
            x = self.left - 46.0,
        );
    }
}

/// Colours assigned to names in their sorted order.
struct Colours<'a> {
    names: Vec<&'a str>,
}

impl<'a> Colours<'a> {
    fn new(names: impl IntoIterator<Item = &'a str>) -> Colours<'a> {
        let names: BTreeSet<&str> = names.into_iter().collect();
        Colours {
            names: names.into_iter().collect(),
        }
    }

    fn of(&self, name: &str) -> &'static str {
        let index = self.names.binary_search(&name).unwrap_or(0);
        PALETTE[index % PALETTE.len()]
    }

    /// Where each legend entry goes when the legend starts at `x`: its name, label, column and row
    /// (0-based), wrapping at the figure's width.
    fn legend_layout(&self, x: f64) -> Vec<(&'a str, String, f64, usize)> {
        let (mut column, mut row) = (x, 0);
        let mut entries = Vec::with_capacity(self.names.len());
        for &name in &self.names {
            let label = shorten(name, LABEL_CHARS);
            let width = 22.0 + CHAR_WIDTH * label.chars().count() as f64;
            if column + width > WIDTH - 10.0 && column > x {
                column = x;
                row += 1;
            }
            entries.push((name, label, column, row));
            column += width + 10.0;
        }
        entries
    }

    /// Colour swatches with their names, the first row's baseline at `y`, starting at `x`.
    fn legend(&self, out: &mut String, x: f64, y: f64) {
        for (name, label, column, row) in self.legend_layout(x) {
            let baseline = y + 16.0 * row as f64;
            put!(
                out,
                "<rect x=\"{column:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{baseline:.1}\">{}</text>\n",
                baseline - 9.0,
                self.of(name),
                column + 14.0,
                escape(&label)
            );
        }
    }

    /// Rows the legend takes when it starts at `x`.
    fn legend_rows(&self, x: f64) -> usize {
        self.legend_layout(x)
            .last()
            .map_or(1, |&(_, _, _, row)| row + 1)
    }
}

/// The indices of the configurations on the Pareto frontier of (cost, accuracy) pairs — those no
/// other configuration matches or beats on both with a strict gain on one — in order of cost.
fn pareto_frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[b].1.total_cmp(&points[a].1))
            .then(a.cmp(&b))
    });
    let mut frontier: Vec<usize> = Vec::new();
    for index in order {
        let (cost, accuracy) = points[index];
        let keep = match frontier.last() {
            None => true,
            Some(&last) => {
                let (last_cost, last_accuracy) = points[last];
                accuracy > last_accuracy || (accuracy == last_accuracy && cost == last_cost)
            }
        };
        if keep {
            frontier.push(index);
        }
    }
    frontier
}

/// Opens a figure's `<svg>`.
fn open_svg(out: &mut String, id: &str, height: f64, label: &str) {
    put!(
        out,
        "<svg class=\"plot\" id=\"{id}\" role=\"img\" aria-label=\"{label}\" width=\"{WIDTH:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\">\n<title>{label}</title>\n",
        label = escape(label),
    );
}

/// A figure with nothing to show.
fn empty_plot(out: &mut String, id: &str, label: &str) {
    open_svg(out, id, 120.0, label);
    put!(
        out,
        "<text class=\"empty\" x=\"{:.1}\" y=\"64\" text-anchor=\"middle\">no episodes</text>\n</svg>\n",
        WIDTH / 2.0
    );
}

/// A configuration's label: the agent, shortened if long, and the bias (the full names are in the
/// tooltip).
fn config_label(row: &SummaryRow) -> String {
    format!(
        "{} · {}",
        shorten(&row.agent, LABEL_CHARS - 14),
        shorten(&row.bias, 14)
    )
}

/// A rectangle a label of `text` would take with its baseline at (`x`, `y`) and the given anchor.
fn label_box(text: &str, x: f64, y: f64, anchor: &str) -> [f64; 4] {
    let width = CHAR_WIDTH * text.chars().count() as f64;
    let left = match anchor {
        "end" => x - width,
        "middle" => x - width / 2.0,
        _ => x,
    };
    [left, y - 10.0, left + width, y + 3.0]
}

fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Figure (a): each configuration's mean cost and accuracy, labelled, and the Pareto frontier as a
/// step line.
fn accuracy_cost_plane(out: &mut String, rows: &[SummaryRow], agents: &Colours<'_>) {
    let id = "accuracy-cost";
    let label = "Accuracy against mean cost per case, one point per agent and bias";
    if rows.is_empty() {
        return empty_plot(out, id, label);
    }
    let legend_top = 430.0;
    let height = legend_top + 16.0 * agents.legend_rows(70.0) as f64 + 4.0;
    open_svg(out, id, height, label);
    let area = Area {
        left: 70.0,
        right: WIDTH - 30.0,
        top: 20.0,
        bottom: 370.0,
    };
    let max_cost = rows.iter().map(|row| row.mean_cost_usd).fold(0.0, f64::max);
    let x_axis = Axis::usd(max_cost * 1.05);
    let y_axis = Axis::share();
    area.x_axis(out, &x_axis, "Mean cost per case (USD)");
    area.y_axis(out, &y_axis, "Accuracy");

    let points: Vec<(f64, f64)> = rows
        .iter()
        .map(|row| (row.mean_cost_usd, row.accuracy))
        .collect();
    let at = |(cost, accuracy): (f64, f64)| (area.x(&x_axis, cost), area.y(&y_axis, accuracy));
    let frontier = pareto_frontier(&points);
    // Labels keep clear of the points and of the frontier's segments.
    let mut taken: Vec<[f64; 4]> = points
        .iter()
        .map(|&point| {
            let (x, y) = at(point);
            [x - 6.0, y - 6.0, x + 6.0, y + 6.0]
        })
        .collect();
    let mut path = String::new();
    let mut previous: Option<(f64, f64)> = None;
    for &index in &frontier {
        let point = points[index];
        let (x, y) = at(point);
        match previous {
            None => put!(&mut path, "M{x:.1} {y:.1}"),
            // A tie with the previous point: the same corner.
            Some(last) if last == point => {}
            Some(last) => {
                let (last_x, last_y) = at(last);
                put!(&mut path, " H{x:.1} V{y:.1}");
                taken.push([last_x, last_y - 2.0, x, last_y + 2.0]);
                taken.push([x - 2.0, y, x + 2.0, last_y]);
            }
        }
        previous = Some(point);
    }
    put!(
        out,
        "<path class=\"frontier\" d=\"{path}\"><title>Pareto frontier</title></path>\n"
    );

    for (row, &point) in rows.iter().zip(&points) {
        let (x, y) = at(point);
        let name = format!("{} · {}", row.agent, row.bias);
        let text = config_label(row);
        let on_frontier = if frontier.iter().any(|&index| points[index] == point) {
            ", on the Pareto frontier"
        } else {
            ""
        };
        put!(
            out,
            "<circle class=\"config-point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"{}\" \
             data-agent=\"{}\" data-bias=\"{}\"><title>{}: accuracy {} [{}, {}], mean cost {}, \
             {} episodes{on_frontier}</title></circle>\n",
            agents.of(&row.agent),
            escape(&row.agent),
            escape(&row.bias),
            escape(&name),
            percent(row.accuracy),
            percent(row.accuracy_ci_low),
            percent(row.accuracy_ci_high),
            usd(row.mean_cost_usd, 2),
            row.episodes,
        );
        // The first place inside the figure that covers nothing; failing that, the place inside it
        // that covers least.
        let candidates = [
            (x + 9.0, y + 4.0, "start"),
            (x - 9.0, y + 4.0, "end"),
            (x, y - 10.0, "middle"),
            (x, y + 18.0, "middle"),
            (x + 9.0, y + 16.0, "start"),
            (x + 9.0, y - 8.0, "start"),
            (x - 9.0, y + 16.0, "end"),
            (x - 9.0, y - 8.0, "end"),
        ];
        let cover = |&(lx, ly, anchor): &(f64, f64, &str)| {
            let bounds = label_box(&text, lx, ly, anchor);
            let inside = bounds[0] >= area.left
                && bounds[2] <= WIDTH - 2.0
                && bounds[1] >= 0.0
                && bounds[3] <= area.bottom;
            let covered = taken
                .iter()
                .filter(|other| overlaps(&bounds, other))
                .count();
            (!inside, covered)
        };
        let (lx, ly, anchor) = candidates
            .iter()
            .min_by_key(|candidate| cover(candidate))
            .copied()
            .unwrap_or(candidates[0]);
        taken.push(label_box(&text, lx, ly, anchor));
        put!(
            out,
            "<text class=\"point-label\" x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"{anchor}\">{}</text>\n",
            escape(&text)
        );
    }
    put!(
        out,
        "<path class=\"frontier\" d=\"M{:.1} {:.1} h28\"/><text x=\"{:.1}\" y=\"{:.1}\">Pareto frontier</text>\n",
        area.left,
        legend_top - 22.0,
        area.left + 34.0,
        legend_top - 18.0,
    );
    agents.legend(out, area.left, legend_top);
    out.push_str("</svg>\n");
}

/// Figure (b): accuracy of each agent under each bias, bars with 95% interval whiskers, grouped by
/// agent.
fn accuracy_by_bias(out: &mut String, rows: &[SummaryRow], biases: &Colours<'_>) {
    let id = "accuracy-by-bias";
    let label = "Accuracy by patient bias with 95% bootstrap intervals, grouped by agent";
    if rows.is_empty() {
        return empty_plot(out, id, label);
    }
    let mut groups: BTreeMap<&str, Vec<&SummaryRow>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.agent.as_str()).or_default().push(row);
    }
    let legend_top = 372.0;
    let height = legend_top + 16.0 * biases.legend_rows(70.0) as f64 + 4.0;
    open_svg(out, id, height, label);
    let area = Area {
        left: 70.0,
        right: WIDTH - 20.0,
        top: 20.0,
        bottom: 300.0,
    };
    let y_axis = Axis::share();
    area.y_axis(out, &y_axis, "Accuracy");
    put!(
        out,
        "<line class=\"axis\" x1=\"{:.1}\" y1=\"{b:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\"/>\n",
        area.left,
        area.right,
        b = area.bottom
    );
    // Slots: one per bar, and one between groups.
    let slots = rows.len() as f64 + (groups.len() as f64 - 1.0) + 1.0;
    let slot = (area.right - area.left) / slots;
    let bar = (slot * 0.8).min(48.0);
    let mut position = 0.5;
    for (agent, group) in &groups {
        let first = position;
        for row in group {
            let centre = area.left + (position + 0.5) * slot;
            let (top, low, high) = (
                area.y(&y_axis, row.accuracy),
                area.y(&y_axis, row.accuracy_ci_low),
                area.y(&y_axis, row.accuracy_ci_high),
            );
            put!(
                out,
                "<g class=\"bias-bar\"><title>{} · {}: accuracy {} [{}, {}], {} episodes</title>\
                 <rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"/>\
                 <path class=\"whisker\" d=\"M{centre:.1} {low:.1} V{high:.1} M{:.1} {low:.1} H{:.1} \
                 M{:.1} {high:.1} H{:.1}\"/></g>\n",
                escape(&row.agent),
                escape(&row.bias),
                percent(row.accuracy),
                percent(row.accuracy_ci_low),
                percent(row.accuracy_ci_high),
                row.episodes,
                centre - bar / 2.0,
                (area.bottom - top).max(0.0),
                biases.of(&row.bias),
                centre - 4.0,
                centre + 4.0,
                centre - 4.0,
                centre + 4.0,
            );
            position += 1.0;
        }
        let middle = area.left + (first + position) / 2.0 * slot;
        let width_chars = ((position - first) * slot / CHAR_WIDTH).max(6.0) as usize;
        put!(
            out,
            "<text x=\"{middle:.1}\" y=\"{:.1}\" text-anchor=\"middle\"><title>{}</title>{}</text>\n",
            area.bottom + 16.0,
            escape(agent),
            escape(&shorten(agent, width_chars.min(LABEL_CHARS)))
        );
        position += 1.0;
    }
    put!(
        out,
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">Agent (bars: patient bias)</text>\n",
        (area.left + area.right) / 2.0,
        area.bottom + 36.0
    );
    biases.legend(out, area.left, legend_top);
    out.push_str("</svg>\n");
}

/// The five-number summary of a box plot, with the mean and the points beyond the whiskers.
#[derive(Debug, Clone, PartialEq)]
struct BoxStats {
    /// First quartile.
    q1: f64,
    /// Median.
    median: f64,
    /// Third quartile.
    q3: f64,
    /// The lowest value within 1.5 × IQR below the first quartile.
    low: f64,
    /// The highest value within 1.5 × IQR above the third quartile.
    high: f64,
    /// Values beyond the whiskers.
    outliers: Vec<f64>,
    /// The mean.
    mean: f64,
}

impl BoxStats {
    /// The box plot of sorted values (Tukey's whiskers).
    fn of_sorted(sorted: &[f64]) -> BoxStats {
        let q1 = quantile_sorted(sorted, 0.25);
        let q3 = quantile_sorted(sorted, 0.75);
        let reach = 1.5 * (q3 - q1);
        let within = |value: &&f64| **value >= q1 - reach && **value <= q3 + reach;
        BoxStats {
            q1,
            median: quantile_sorted(sorted, 0.5),
            q3,
            low: sorted.iter().find(within).copied().unwrap_or(q1),
            high: sorted.iter().rev().find(within).copied().unwrap_or(q3),
            outliers: sorted
                .iter()
                .filter(|value| !within(value))
                .copied()
                .collect(),
            mean: mean(sorted),
        }
    }
}

/// Figure (c): each configuration's cost per case as a horizontal box plot.
fn cost_distribution(
    out: &mut String,
    records: &[EpisodeRecord],
    rows: &[SummaryRow],
    agents: &Colours<'_>,
) {
    let id = "cost-distribution";
    let label = "Distribution of the cost per case of each agent and bias";
    if rows.is_empty() {
        return empty_plot(out, id, label);
    }
    let mut costs: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for record in records {
        costs
            .entry((record.agent.as_str(), record.bias.as_str()))
            .or_default()
            .push(record.cost.total_usd);
    }
    let row_height = 26.0;
    let area = Area {
        left: 262.0,
        right: WIDTH - 24.0,
        top: 12.0,
        bottom: 12.0 + row_height * rows.len() as f64,
    };
    open_svg(out, id, area.bottom + 48.0, label);
    let max_cost = costs.values().flatten().copied().fold(0.0, f64::max);
    let x_axis = Axis::usd(max_cost * 1.02);
    area.x_axis(out, &x_axis, "Cost per case (USD)");
    for (index, row) in rows.iter().enumerate() {
        let mut values = costs
            .get(&(row.agent.as_str(), row.bias.as_str()))
            .cloned()
            .unwrap_or_default();
        values.sort_by(f64::total_cmp);
        let stats = BoxStats::of_sorted(&values);
        let middle = area.top + row_height * (index as f64 + 0.5);
        let x = |value: f64| area.x(&x_axis, value);
        let name = format!("{} · {}", row.agent, row.bias);
        put!(
            out,
            "<g class=\"cost-box\"><title>{}: median {}, quartiles {} – {}, mean {}, range {} – {}, {} episodes</title>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <path class=\"whisker\" d=\"M{:.1} {middle:.1} H{:.1} M{:.1} {middle:.1} H{:.1} \
             M{:.1} {:.1} V{:.1} M{:.1} {:.1} V{:.1}\"/>\
             <rect class=\"box\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"{}\"/>\
             <line class=\"median\" x1=\"{m:.1}\" y1=\"{:.1}\" x2=\"{m:.1}\" y2=\"{:.1}\"/>\
             <path d=\"M{mean:.1} {:.1} l4 4 l-4 4 l-4 -4 z\" fill=\"#fff\" stroke=\"#111\"/>",
            escape(&name),
            usd(stats.median, 2),
            usd(stats.q1, 2),
            usd(stats.q3, 2),
            usd(stats.mean, 2),
            usd(values.first().copied().unwrap_or(0.0), 2),
            usd(values.last().copied().unwrap_or(0.0), 2),
            values.len(),
            area.left - 8.0,
            middle + 4.0,
            escape(&config_label(row)),
            x(stats.low),
            x(stats.q1),
            x(stats.q3),
            x(stats.high),
            x(stats.low),
            middle - 5.0,
            middle + 5.0,
            x(stats.high),
            middle - 5.0,
            middle + 5.0,
            x(stats.q1),
            middle - 7.0,
            (x(stats.q3) - x(stats.q1)).max(1.0),
            agents.of(&row.agent),
            middle - 7.0,
            middle + 7.0,
            middle - 4.0,
            m = x(stats.median),
            mean = x(stats.mean),
        );
        for outlier in &stats.outliers {
            put!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{middle:.1}\" r=\"2.5\" fill=\"none\" stroke=\"#333\"/>",
                x(*outlier)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
}

/// Figure (d): each agent's accuracy per case specialty, over all biases and seeds, as grouped
/// horizontal bars.
fn accuracy_by_specialty(out: &mut String, records: &[EpisodeRecord], agents: &Colours<'_>) {
    let id = "accuracy-by-specialty";
    let label = "Accuracy by case specialty for each agent";
    if records.is_empty() {
        return empty_plot(out, id, label);
    }
    let mut tallies: BTreeMap<&str, BTreeMap<&str, (usize, usize)>> = BTreeMap::new();
    for record in records {
        let tally = tallies
            .entry(record.specialty.as_str())
            .or_default()
            .entry(record.agent.as_str())
            .or_default();
        tally.0 += usize::from(record.correct);
        tally.1 += 1;
    }
    let bar = 10.0;
    let group_height = bar * agents.names.len() as f64 + 10.0;
    let legend_top_offset = 58.0;
    let area = Area {
        left: 170.0,
        right: WIDTH - 24.0,
        top: 12.0,
        bottom: 12.0 + group_height * tallies.len() as f64,
    };
    let height =
        area.bottom + legend_top_offset + 16.0 * (agents.legend_rows(area.left) - 1) as f64 + 8.0;
    open_svg(out, id, height, label);
    let x_axis = Axis::share();
    area.x_axis(out, &x_axis, "Accuracy");
    for (index, (specialty, by_agent)) in tallies.iter().enumerate() {
        let top = area.top + group_height * index as f64 + 5.0;
        put!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            area.left - 8.0,
            top + group_height / 2.0,
            escape(&shorten(specialty, 24))
        );
        for (slot, agent) in agents.names.iter().enumerate() {
            let Some(&(correct, total)) = by_agent.get(agent) else {
                continue;
            };
            let accuracy = correct as f64 / total as f64;
            put!(
                out,
                "<rect class=\"specialty-bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill=\"{}\"><title>{} · {}: {correct} of {total} correct ({})</title></rect>\n",
                area.left,
                top + bar * slot as f64,
                (area.x(&x_axis, accuracy) - area.left).max(0.5),
                bar - 1.0,
                agents.of(agent),
                escape(agent),
                escape(specialty),
                percent(accuracy),
            );
        }
    }
    agents.legend(out, area.left, area.bottom + legend_top_offset);
    out.push_str("</svg>\n");
}

/// The summary table, as in `summary.csv` but formatted for reading.
fn summary_table(out: &mut String, rows: &[SummaryRow]) {
    out.push_str(
        "<div class=\"table-wrap\">\n<table id=\"summary\">\n<thead><tr><th>Agent</th><th>Bias</th><th>Episodes</th>\
         <th>Errors</th><th>Truncated</th><th>Accuracy [95% CI]</th><th>Mean cost</th>\
         <th>Median cost</th><th>Visits</th><th>Tests</th><th>Tests refused</th>\
         <th>Accepted after explanation</th><th>Turns</th><th>Confidence</th>\
         <th>Compliance</th><th>Follow-up</th></tr></thead>\n<tbody>\n",
    );
    let metric = |value: Option<f64>| value.map_or_else(|| "–".to_string(), |v| format!("{v:.1}"));
    for row in rows {
        put!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{} [{}, {}]</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td>\
             <td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&row.agent),
            escape(&row.bias),
            row.episodes,
            row.errors,
            row.truncated,
            percent(row.accuracy),
            percent(row.accuracy_ci_low),
            percent(row.accuracy_ci_high),
            usd(row.mean_cost_usd, 2),
            usd(row.median_cost_usd, 2),
            row.mean_visits,
            row.mean_tests,
            row.mean_tests_refused,
            row.mean_tests_accepted_after_explanation,
            row.mean_turns,
            metric(row.mean_confidence),
            metric(row.mean_compliance),
            metric(row.mean_follow_up),
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// Opens a figure with its heading; the caller draws the plot, [`close_figure`] adds the caption.
fn open_figure(out: &mut String, heading: &str) {
    put!(out, "<h2>{}</h2>\n<figure>\n", escape(heading));
}

fn close_figure(out: &mut String, caption: &str) {
    put!(
        out,
        "<figcaption>{}</figcaption>\n</figure>\n",
        escape(caption)
    );
}

/// Renders the report of `records` (merged: see [`super::merge`]) as one self-contained HTML page:
/// the accuracy–cost plane with its Pareto frontier, accuracy by bias with 95% intervals, cost
/// distributions, accuracy by specialty, and the summary table. Every figure is an
/// `<svg class="plot">` with a stable id; on load, a short script sets `data-plots-rendered` (and
/// `data-points-rendered`) on `<body>` to the number of plots (and accuracy–cost points) laid out
/// with a size.
pub(super) fn render_html(records: &[EpisodeRecord], rows: &[SummaryRow], title: &str) -> String {
    let agents = Colours::new(rows.iter().map(|row| row.agent.as_str()));
    let biases = Colours::new(rows.iter().map(|row| row.bias.as_str()));
    let cases: BTreeSet<&str> = records
        .iter()
        .map(|record| record.case_id.as_str())
        .collect();
    let seeds: BTreeSet<u64> = records.iter().map(|record| record.seed).collect();
    let errors: usize = rows.iter().map(|row| row.errors).sum();
    let truncated: usize = rows.iter().map(|row| row.truncated).sum();

    let mut out = String::with_capacity(32 * 1024 + 600 * records.len());
    put!(
        &mut out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p class=\"meta\">{} episodes: {} agent(s) × {} bias(es) × {} case(s) × {} seed(s); \
         {errors} failed, {truncated} truncated (both scored incorrect).</p>\n",
        records.len(),
        agents.names.len(),
        biases.names.len(),
        cases.len(),
        seeds.len(),
        title = escape(title),
    );
    open_figure(&mut out, "Accuracy and cost");
    accuracy_cost_plane(&mut out, rows, &agents);
    close_figure(
        &mut out,
        "Each point is one agent under one patient bias: x is the mean cost per case (visit fees \
         and tests, USD), y the share of cases diagnosed correctly. The dashed step line is the \
         Pareto frontier: the configurations no other one matches on cost and accuracy with a gain \
         on either.",
    );
    open_figure(&mut out, "Accuracy by patient bias");
    accuracy_by_bias(&mut out, rows, &biases);
    close_figure(
        &mut out,
        "Bars are the share of cases diagnosed correctly; whiskers the 95% percentile-bootstrap \
         interval (2,000 resamples).",
    );
    open_figure(&mut out, "Cost per case");
    cost_distribution(&mut out, records, rows, &agents);
    close_figure(
        &mut out,
        "Boxes span the quartiles with the median marked; whiskers reach the furthest case within \
         1.5 × the interquartile range, circles are cases beyond; the diamond is the mean.",
    );
    open_figure(&mut out, "Accuracy by specialty");
    accuracy_by_specialty(&mut out, records, &agents);
    close_figure(
        &mut out,
        "Share of cases diagnosed correctly per case specialty, over every bias and seed.",
    );
    out.push_str("<h2>Summary</h2>\n");
    summary_table(&mut out, rows);
    put!(&mut out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::report::summary::summarize;
    use crate::eval::report::tests::record;

    fn sample() -> Vec<EpisodeRecord> {
        let mut records = Vec::new();
        for (agent, cost, good) in [
            ("oracle", 1500.0, 4),
            ("random", 300.0, 1),
            ("cmd:python3 agent.py --name \"<b>&co</b>\"", 800.0, 3),
        ] {
            for bias in ["none", "recency"] {
                for case in 0..5_u32 {
                    records.push(record(
                        agent,
                        &format!("case-{case}"),
                        ["cardiology", "infectious disease"][(case % 2) as usize],
                        bias,
                        0,
                        case < good,
                        cost + 40.0 * f64::from(case),
                    ));
                }
            }
        }
        records
    }

    /// The page for `records`, with their summary.
    fn page(records: &[EpisodeRecord], title: &str) -> String {
        render_html(records, &summarize(records), title)
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"cmd:a <b> & "c" 'd'"#),
            "cmd:a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;"
        );
        assert_eq!(escape("plain · text"), "plain · text");
    }

    #[test]
    fn the_page_escapes_every_name_and_has_no_raw_markup_from_data() {
        let html = page(&sample(), "Run <1> & \"co\"");
        assert!(!html.contains("<b>&co</b>"));
        assert!(!html.contains("\"<b>"));
        assert!(html.contains("&lt;b&gt;&amp;co&lt;/b&gt;"));
        assert!(html.contains("<title>Run &lt;1&gt; &amp; &quot;co&quot;</title>"));
        // Tags open and close in balance: no name leaked a `<` of its own.
        for tag in ["svg", "text", "title", "g", "figure", "table"] {
            let opened = html.matches(&format!("<{tag}>")).count()
                + html.matches(&format!("<{tag} ")).count();
            let closed = html.matches(&format!("</{tag}>")).count();
            assert_eq!(opened, closed, "<{tag}>");
        }
    }

    #[test]
    fn the_page_is_self_contained_with_four_plots_and_a_point_per_configuration() {
        let html = page(&sample(), "run");
        assert!(!html.contains("://"), "no external resources");
        assert!(!html.contains(" src=") && !html.contains(" href="));
        assert_eq!(html.matches("<svg class=\"plot\"").count(), 4);
        for id in [
            "accuracy-cost",
            "accuracy-by-bias",
            "cost-distribution",
            "accuracy-by-specialty",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert_eq!(html.matches("class=\"config-point\"").count(), 6);
        assert_eq!(html.matches("class=\"bias-bar\"").count(), 6);
        assert_eq!(html.matches("class=\"cost-box\"").count(), 6);
        assert_eq!(html.matches("class=\"specialty-bar\"").count(), 6);
        assert!(html.contains("plotsRendered"));
        assert_eq!(html, page(&sample(), "run"), "deterministic");
    }

    #[test]
    fn an_empty_report_still_renders_every_plot() {
        let html = page(&[], "nothing");
        assert_eq!(html.matches("<svg class=\"plot\"").count(), 4);
        assert_eq!(html.matches("no episodes").count(), 4);
        assert!(!html.contains("NaN"));
    }

    #[test]
    fn the_frontier_keeps_what_nothing_cheaper_beats() {
        let points = [
            (100.0, 0.40), // 0: cheapest
            (200.0, 0.35), // 1: dominated by 0
            (300.0, 0.60), // 2
            (300.0, 0.55), // 3: dominated by 2 (same cost, less accurate)
            (500.0, 0.60), // 4: dominated by 2 (dearer, same accuracy)
            (900.0, 0.80), // 5
            (50.0, 0.10),  // 6: cheapest of all
            (900.0, 0.80), // 7: a tie with 5, dominated by neither
        ];
        assert_eq!(pareto_frontier(&points), vec![6, 0, 2, 5, 7]);
        assert_eq!(pareto_frontier(&[]), Vec::<usize>::new());
        assert_eq!(pareto_frontier(&[(10.0, 0.5)]), vec![0]);
    }

    #[test]
    fn the_frontier_is_drawn_as_a_step_line() {
        let html = page(&sample(), "run");
        let start = html
            .find("<path class=\"frontier\" d=\"M")
            .expect("a frontier");
        let d = &html[start
            ..html[start..]
                .find("\">")
                .map_or(html.len(), |end| start + end)];
        // random (cheapest, least accurate) → cmd → oracle: two steps, each across then up.
        assert_eq!(d.matches(" H").count(), 2, "{d}");
        assert_eq!(d.matches(" V").count(), 2, "{d}");
    }

    #[test]
    fn axes_use_nice_ticks() {
        assert_eq!(nice_step(0.2), 0.2);
        assert_eq!(nice_step(246.8), 250.0);
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(
            Axis::usd(1234.0).ticks(),
            &[0.0, 250.0, 500.0, 750.0, 1000.0, 1250.0]
        );
        let nothing = Axis::usd(0.0);
        let labels: Vec<String> = nothing
            .ticks()
            .iter()
            .map(|&tick| nothing.label(tick))
            .collect();
        assert_eq!(
            labels,
            ["$0.00", "$0.20", "$0.40", "$0.60", "$0.80", "$1.00"]
        );
        assert_eq!(Axis::share().ticks().len(), 6);
        assert_eq!(Axis::usd(1234.0).label(1000.0), "$1,000");
        assert_eq!(usd(1234567.891, 2), "$1,234,567.89");
        assert_eq!(usd(0.5, 2), "$0.50");
    }

    #[test]
    fn box_plots_use_quartiles_and_tukey_whiskers() {
        let stats = BoxStats::of_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0, 100.0]);
        assert_eq!(stats.median, 3.5);
        assert_eq!((stats.q1, stats.q3), (2.25, 4.75));
        assert_eq!((stats.low, stats.high), (1.0, 5.0));
        assert_eq!(stats.outliers, vec![100.0]);
        let single = BoxStats::of_sorted(&[7.0]);
        assert_eq!(
            (single.low, single.q1, single.median, single.high),
            (7.0, 7.0, 7.0, 7.0)
        );
    }
}
