//! PNG plots of a run.
//!
//! Every function takes plain slices and writes one PNG file to `path`. The
//! extension must be `.png`, because the encoder picks the format from it.
//! The functions return [`Error::Plot`] when the inputs disagree in length
//! or the file cannot be drawn or saved.
//!
//! Degenerate data does not panic: NaN and infinite values are skipped (a
//! line series gets a gap there), a constant series gets a padded axis range,
//! and a plot without any finite value is still written, with axes and a
//! "no finite data" note.
//!
//! Text uses the DejaVu Sans font embedded from `assets/fonts/DejaVuSans.ttf`,
//! so no system fonts are needed.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt::Display;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::error::{Error, Result};

/// Size of a single-chart figure in pixels.
const FIGURE_SIZE: (u32, u32) = (900, 600);

/// Font family name under which the embedded font is registered.
const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

const CAPTION_SIZE: u32 = 24;
const AXIS_DESC_SIZE: u32 = 18;
const TICK_LABEL_SIZE: u32 = 14;
const LEGEND_SIZE: u32 = 15;

/// Chart margin and label area sizes in pixels, shared by all single charts.
const MARGIN: u32 = 15;
const X_LABEL_AREA: u32 = 50;
const Y_LABEL_AREA: u32 = 75;

/// Maximum number of node lines drawn by [`trajectories`].
const MAX_TRAJECTORIES: usize = 400;

/// Maximum number of eigenvalues shown by [`spectrum`] unless `k` needs more.
const MAX_EIGENVALUES: usize = 60;

/// Maximum number of classes listed in a legend. Further classes are still
/// drawn (their colours repeat) and the legend ends with a count of them.
const MAX_LEGEND_CLASSES: usize = 12;

/// Class colours, cycled by class index. Neighbouring entries differ in hue
/// so that classes 0, 1, 2, ... stay distinct in overlaid plots.
const PALETTE: [RGBColor; 12] = [
    RGBColor(0, 114, 189),
    RGBColor(230, 120, 0),
    RGBColor(40, 150, 60),
    RGBColor(200, 30, 45),
    RGBColor(120, 80, 170),
    RGBColor(140, 90, 50),
    RGBColor(210, 80, 170),
    RGBColor(0, 150, 150),
    RGBColor(150, 150, 20),
    RGBColor(90, 90, 90),
    RGBColor(90, 170, 230),
    RGBColor(240, 190, 30),
];

/// Colour of reference lines (alpha*, log 2).
const REFERENCE_COLOUR: RGBColor = RGBColor(30, 30, 30);

/// Colour of eigenvalues outside the top k.
const MUTED_COLOUR: RGBColor = RGBColor(150, 150, 150);

/// Anchor colours of the heat map colour map, evenly spaced from value 0 to
/// value 1: dark purple through blue and green to yellow, close to viridis.
const COLOUR_MAP_ANCHORS: [(u8, u8, u8); 8] = [
    (68, 1, 84),
    (70, 50, 127),
    (54, 92, 141),
    (39, 127, 142),
    (31, 161, 135),
    (74, 194, 109),
    (159, 218, 58),
    (253, 231, 37),
];

/// Error type of the drawing code before it is attached to a path.
type DrawResult<T = ()> = std::result::Result<T, Box<dyn StdError>>;

type Canvas<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type LinearChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One heat map of [`fiber_heatmaps`].
#[derive(Debug, Clone)]
pub struct HeatmapPanel<'a> {
    /// Panel title, for example "grid, t = 2.0".
    pub title: String,
    /// Row-major values, `values[row * cols + col]`, with one row per node
    /// and one column per latent cell.
    pub values: &'a [f64],
    /// Number of nodes.
    pub rows: usize,
    /// Number of latent cells.
    pub cols: usize,
    /// Latent coordinate of the lower edge of the first cell and the upper
    /// edge of the last cell.
    pub y_range: (f64, f64),
}

/// Draws the spectral alignment alpha(t) against time.
///
/// `between_class`, when given, is drawn as a second line (the fraction of
/// feature variance between classes). A dashed horizontal line marks
/// `alpha_star`, and vertical lines mark `t_align` and `t_sep`, with their
/// values in the legend. Non-finite `alpha_star`, `t_align` or `t_sep` are not
/// drawn. The y range is [0, 1.02], widened only if a value lies outside it.
pub fn alignment(
    path: &Path,
    times: &[f64],
    alpha: &[f64],
    between_class: Option<&[f64]>,
    alpha_star: f64,
    t_align: Option<f64>,
    t_sep: Option<f64>,
) -> Result<()> {
    check_lengths(path, "times", times.len(), "alpha", alpha.len())?;
    if let Some(fraction) = between_class {
        check_lengths(path, "times", times.len(), "between_class", fraction.len())?;
    }

    let markers: Vec<(&str, f64)> = [("t_align", t_align), ("t_sep", t_sep)]
        .into_iter()
        .filter_map(|(name, t)| t.filter(|t| t.is_finite()).map(|t| (name, t)))
        .collect();

    let canvas = open_canvas(path, FIGURE_SIZE)?;
    let drawn = (|| -> DrawResult {
        let marker_times = markers.iter().map(|&(_, t)| t);
        let x_range = time_range(times.iter().copied().chain(marker_times));
        let y_values = alpha
            .iter()
            .chain(between_class.unwrap_or(&[]))
            .chain([&alpha_star]);
        let y_range = unit_range(y_values.copied());

        let mut chart = linear_chart(
            &canvas,
            "Spectral alignment over time",
            x_range.clone(),
            y_range.clone(),
        )?;
        draw_mesh(&mut chart, "time t", "spectral alignment alpha")?;

        let alpha_style = PALETTE[0].stroke_width(2);
        draw_line(&mut chart, times, alpha, alpha_style, "alpha(t)")?;
        if let Some(fraction) = between_class {
            let style = PALETTE[1].stroke_width(2);
            draw_line(
                &mut chart,
                times,
                fraction,
                style,
                "between-class variance fraction",
            )?;
        }
        if alpha_star.is_finite() {
            let label = format!("alpha* = {}", format_value(alpha_star));
            draw_horizontal_dashed(&mut chart, &x_range, alpha_star, REFERENCE_COLOUR, &label)?;
        }
        for (index, &(name, t)) in markers.iter().enumerate() {
            let style = PALETTE[2 + index].stroke_width(2);
            let label = format!("{name} = {}", format_value(t));
            draw_vertical_line(&mut chart, t, &y_range, style, &label)?;
        }

        if !any_finite_point(times, alpha) {
            draw_note(&mut chart, &x_range, &y_range, "no finite alpha values")?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })();
    finish(path, &canvas, drawn)
}

/// Draws the training loss against time.
///
/// A dashed reference line at log 2, the loss of collapsed features, is
/// added when log 2 lies within one data span of the loss values, so it
/// does not squash the plot of a loss far away from it.
pub fn loss(path: &Path, times: &[f64], loss: &[f64]) -> Result<()> {
    check_lengths(path, "times", times.len(), "loss", loss.len())?;

    let canvas = open_canvas(path, FIGURE_SIZE)?;
    let drawn = (|| -> DrawResult {
        let x_range = time_range(times.iter().copied());
        let reference = std::f64::consts::LN_2;
        let show_reference = match finite_bounds(loss.iter().copied()) {
            Some((lo, hi)) => {
                let span = (hi - lo)
                    .max(0.1 * hi.abs().max(lo.abs()))
                    .max(f64::MIN_POSITIVE);
                reference >= lo - span && reference <= hi + span
            }
            None => false,
        };
        let reference_value = show_reference.then_some(reference);
        let y_range = padded_range(loss.iter().copied().chain(reference_value));

        let mut chart = linear_chart(&canvas, "Loss over time", x_range.clone(), y_range.clone())?;
        draw_mesh(&mut chart, "time t", "loss")?;

        draw_line(&mut chart, times, loss, PALETTE[0].stroke_width(2), "loss")?;
        if let Some(reference) = reference_value {
            let label = "log 2 (collapsed features)";
            draw_horizontal_dashed(&mut chart, &x_range, reference, REFERENCE_COLOUR, label)?;
        }

        if !any_finite_point(times, loss) {
            draw_note(&mut chart, &x_range, &y_range, "no finite loss values")?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })();
    finish(path, &canvas, drawn)
}

/// Draws feature trajectories z_p(t) for latent dimension 1.
///
/// `features[s][i]` is the feature of node `i` at snapshot `s`, taken at
/// `times[s]`. Each node is a thin line coloured by its class
/// `labels[i]`. With more than 400 nodes, every `ceil(n / 400)`-th node is
/// drawn (nodes 0, stride, 2 stride, ...) and the title states how many.
pub fn trajectories(
    path: &Path,
    times: &[f64],
    features: &[Vec<f64>],
    labels: &[usize],
) -> Result<()> {
    check_lengths(
        path,
        "times",
        times.len(),
        "features (snapshots)",
        features.len(),
    )?;
    let node_count = labels.len();
    for (snapshot, row) in features.iter().enumerate() {
        let name = format!("features[{snapshot}]");
        check_lengths(path, "labels", node_count, &name, row.len())?;
    }

    let stride = node_count.div_ceil(MAX_TRAJECTORIES).max(1);
    let shown_nodes: Vec<usize> = (0..node_count).step_by(stride).collect();
    let title = if shown_nodes.len() < node_count {
        format!(
            "Feature trajectories ({} of {node_count} nodes)",
            shown_nodes.len()
        )
    } else {
        format!("Feature trajectories ({node_count} nodes)")
    };

    let canvas = open_canvas(path, FIGURE_SIZE)?;
    let drawn = (|| -> DrawResult {
        let x_range = time_range(times.iter().copied());
        let y_range = padded_range(
            shown_nodes
                .iter()
                .flat_map(|&i| features.iter().map(move |row| row[i])),
        );

        let mut chart = linear_chart(&canvas, &title, x_range.clone(), y_range.clone())?;
        draw_mesh(&mut chart, "time t", "feature z_p(t)")?;

        let mut any_point = false;
        for &node in &shown_nodes {
            let values: Vec<f64> = features.iter().map(|row| row[node]).collect();
            let runs = finite_runs(times, &values);
            any_point |= !runs.is_empty();
            let style = class_colour(labels[node]).mix(0.6).stroke_width(1);
            chart.draw_series(runs.into_iter().map(|run| PathElement::new(run, style)))?;
        }
        add_class_legend(&mut chart, labels, LegendMark::Line)?;

        if !any_point {
            draw_note(&mut chart, &x_range, &y_range, "no finite feature values")?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })();
    finish(path, &canvas, drawn)
}

/// Draws the node features at one time, coloured by class.
///
/// `features` is row-major with `dim` values per node and
/// `features.len() == labels.len() * dim`.
///
/// - `dim == 1`: overlaid semi-transparent histograms, one per class, over
///   shared bins.
/// - `dim == 2`: a scatter plot with equal scales on both axes.
/// - `dim >= 3`: a scatter plot of the first two coordinates (no projection),
///   and the title states this.
///
/// Nodes with a non-finite coordinate are skipped. `dim == 0` is an error.
pub fn latent_scatter(
    path: &Path,
    features: &[f64],
    dim: usize,
    labels: &[usize],
    title: &str,
) -> Result<()> {
    if dim == 0 {
        return Err(plot_error(
            path,
            "latent dimension is 0; expected 1, 2 or more",
        ));
    }
    let expected = labels.len().saturating_mul(dim);
    if features.len() != expected {
        let message = format!(
            "features has {} values but labels has {} nodes of dimension {dim} (expected {expected})",
            features.len(),
            labels.len()
        );
        return Err(plot_error(path, message));
    }

    let canvas = open_canvas(path, FIGURE_SIZE)?;
    let drawn = if dim == 1 {
        draw_class_histograms(&canvas, features, labels, title)
    } else {
        let full_title = if dim == 2 {
            title.to_string()
        } else {
            format!("{title} (first 2 of {dim} coordinates)")
        };
        draw_class_scatter(&canvas, features, dim, labels, &full_title)
    };
    finish(path, &canvas, drawn)
}

/// Draws the eigenvalues of the augmentation operator, sorted descending.
///
/// The eigenvalue index j (from 1) is on the x axis. The top `k` are
/// highlighted, and the spectral gap lambda_k - lambda_{k+1} is shaded as a
/// band between the two values, with a bracket at j = k + 1/2 and the value
/// in the legend. The first `max(60, k + 1)` eigenvalues are shown at most.
/// Non-finite eigenvalues are skipped before sorting. There is no gap to
/// mark when `k == 0` or `k` is not smaller than the number of finite
/// eigenvalues.
pub fn spectrum(path: &Path, eigenvalues: &[f64], k: usize) -> Result<()> {
    let mut sorted: Vec<f64> = eigenvalues
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let total = sorted.len();
    sorted.truncate(MAX_EIGENVALUES.max(k.saturating_add(1)));
    let shown_count = sorted.len();

    let title = if shown_count < total {
        format!("Spectrum of the augmentation operator (top {shown_count} of {total} eigenvalues)")
    } else {
        "Spectrum of the augmentation operator".to_string()
    };

    let canvas = open_canvas(path, FIGURE_SIZE)?;
    let drawn = (|| -> DrawResult {
        let x_range = 0.5..(shown_count.max(1) as f64 + 0.5);
        let y_range = padded_range(sorted.iter().copied());

        let mut chart = linear_chart(&canvas, &title, x_range.clone(), y_range.clone())?;
        chart
            .configure_mesh()
            .x_desc("eigenvalue index j (sorted descending)")
            .y_desc("eigenvalue lambda_j")
            .axis_desc_style((FONT, AXIS_DESC_SIZE))
            .label_style((FONT, TICK_LABEL_SIZE))
            .x_labels(shown_count.clamp(2, 15))
            .x_label_formatter(&|x| format_index_tick(*x, 1.0))
            .y_label_formatter(&|y| format_tick(*y))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;

        let top = k.min(shown_count);
        if top < shown_count && top > 0 {
            let (upper, lower) = (sorted[top - 1], sorted[top]);
            let band = Rectangle::new(
                [(x_range.start, lower), (x_range.end, upper)],
                PALETTE[1].mix(0.18).filled(),
            );
            let label = format!(
                "spectral gap lambda_{top} - lambda_{} = {}",
                top + 1,
                format_value(upper - lower)
            );
            chart
                .draw_series(std::iter::once(band))?
                .label(label)
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], PALETTE[1].mix(0.35).filled())
                });

            let bracket_x = top as f64 + 0.5;
            let tick = 0.15;
            let bracket = vec![
                (bracket_x - tick, upper),
                (bracket_x, upper),
                (bracket_x, lower),
                (bracket_x - tick, lower),
            ];
            chart.draw_series(std::iter::once(PathElement::new(
                bracket,
                PALETTE[1].stroke_width(2),
            )))?;
        }

        let top_points = sorted[..top].iter().enumerate();
        chart
            .draw_series(
                top_points.map(|(j, &v)| Circle::new((j as f64 + 1.0, v), 5, PALETTE[0].filled())),
            )?
            .label(format!("top k = {k} eigenvalues"))
            .legend(|(x, y)| Circle::new((x + 10, y), 5, PALETTE[0].filled()));
        let other_points = sorted[top..].iter().enumerate();
        chart
            .draw_series(
                other_points.map(|(j, &v)| {
                    Circle::new(((top + j) as f64 + 1.0, v), 4, MUTED_COLOUR.filled())
                }),
            )?
            .label("other eigenvalues")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, MUTED_COLOUR.filled()));

        if shown_count == 0 {
            draw_note(&mut chart, &x_range, &y_range, "no finite eigenvalues")?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })();
    finish(path, &canvas, drawn)
}

/// Draws several alpha(t) curves in one plot, for example particles against
/// grid solver.
///
/// Each entry of `series` is `(label, times, alpha)`. A dashed horizontal
/// line marks `alpha_star` unless it is not finite. The y range is
/// [0, 1.02], widened only if a value lies outside it.
pub fn alignment_comparison(
    path: &Path,
    series: &[(&str, &[f64], &[f64])],
    alpha_star: f64,
) -> Result<()> {
    for &(label, times, alpha) in series {
        let times_name = format!("times of '{label}'");
        let alpha_name = format!("alpha of '{label}'");
        check_lengths(path, &times_name, times.len(), &alpha_name, alpha.len())?;
    }

    let canvas = open_canvas(path, FIGURE_SIZE)?;
    let drawn = (|| -> DrawResult {
        let all_times = series
            .iter()
            .flat_map(|&(_, times, _)| times.iter().copied());
        let x_range = time_range(all_times);
        let all_alpha = series
            .iter()
            .flat_map(|&(_, _, alpha)| alpha.iter().copied());
        let y_range = unit_range(all_alpha.chain([alpha_star]));

        let mut chart = linear_chart(
            &canvas,
            "Spectral alignment: comparison",
            x_range.clone(),
            y_range.clone(),
        )?;
        draw_mesh(&mut chart, "time t", "spectral alignment alpha")?;

        let mut any_point = false;
        for (index, &(label, times, alpha)) in series.iter().enumerate() {
            let style = class_colour(index).stroke_width(2);
            draw_line(&mut chart, times, alpha, style, label)?;
            any_point |= any_finite_point(times, alpha);
        }
        if alpha_star.is_finite() {
            let label = format!("alpha* = {}", format_value(alpha_star));
            draw_horizontal_dashed(&mut chart, &x_range, alpha_star, REFERENCE_COLOUR, &label)?;
        }

        if !any_point {
            draw_note(&mut chart, &x_range, &y_range, "no finite alpha values")?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })();
    finish(path, &canvas, drawn)
}

/// Draws one time series, for example the W2 distance between two solvers.
///
/// With `log_y`, the y axis is logarithmic when there is at least one finite
/// value and all finite values are > 0; otherwise it falls back to linear
/// and the title ends with "(linear axis: values <= 0)".
pub fn series(
    path: &Path,
    times: &[f64],
    values: &[f64],
    title: &str,
    y_label: &str,
    log_y: bool,
) -> Result<()> {
    check_lengths(path, "times", times.len(), "values", values.len())?;

    let bounds = finite_bounds(values.iter().copied());
    let use_log = log_y && bounds.is_some_and(|(lo, _)| lo > 0.0);
    let full_title = if log_y && !use_log && bounds.is_some() {
        format!("{title} (linear axis: values <= 0)")
    } else {
        title.to_string()
    };

    let canvas = open_canvas(path, FIGURE_SIZE)?;
    let x_range = time_range(times.iter().copied());
    let drawn = match bounds {
        Some((lo, hi)) if use_log => {
            let y_range = padded_log_range(lo, hi);
            let y_coord = y_range.clone().log_scale();
            draw_single_series(
                &canvas,
                &full_title,
                y_label,
                times,
                values,
                x_range,
                y_coord,
                y_range,
            )
        }
        _ => {
            let y_range = padded_range(values.iter().copied());
            draw_single_series(
                &canvas,
                &full_title,
                y_label,
                times,
                values,
                x_range,
                y_range.clone(),
                y_range,
            )
        }
    };
    finish(path, &canvas, drawn)
}

/// Draws a grid of heat maps, one per panel.
///
/// Panels are placed row by row on a grid with 2 rows when there are at
/// least 2 panels (`ceil(n / 2)` columns, at most 6, then more rows). A
/// caller that passes the grid solver snapshots first and the particle
/// snapshots second gets the grid solver on top and particles below, one
/// column per time.
///
/// In each panel, the latent coordinate runs along the horizontal axis from
/// `y_range.0` to `y_range.1`, and nodes run along the vertical axis with
/// row 0 at the bottom. Values are divided by the panel's maximum finite
/// value and coloured with a viridis-like colour map. Where more cells than
/// pixels fall on one pixel, the pixel shows their mean. Non-finite cells
/// are left grey.
pub fn fiber_heatmaps(path: &Path, panels: &[HeatmapPanel]) -> Result<()> {
    for (index, panel) in panels.iter().enumerate() {
        check_panel(path, index, panel)?;
    }

    let (grid_rows, grid_cols) = heatmap_grid(panels.len());
    const PANEL_SIZE: (u32, u32) = (380, 330);
    const COLOUR_BAR_WIDTH: u32 = 110;
    const TITLE_HEIGHT: u32 = 50;
    let width = (grid_cols as u32 * PANEL_SIZE.0 + COLOUR_BAR_WIDTH).max(FIGURE_SIZE.0);
    let height = (grid_rows as u32 * PANEL_SIZE.1 + TITLE_HEIGHT).max(FIGURE_SIZE.1);

    let canvas = open_canvas(path, (width, height))?;
    let drawn = (|| -> DrawResult {
        let title = "Feature density per node (each panel scaled by its max)";
        let body = canvas.titled(title, (FONT, CAPTION_SIZE))?;
        let (panel_area, bar_area) = body.split_horizontally(width - COLOUR_BAR_WIDTH);
        draw_colour_bar(&bar_area)?;

        if panels.is_empty() {
            let style =
                TextStyle::from((FONT, AXIS_DESC_SIZE)).pos(Pos::new(HPos::Center, VPos::Center));
            let (w, h) = panel_area.dim_in_pixel();
            panel_area.draw_text("no panels to draw", &style, (w as i32 / 2, h as i32 / 2))?;
            return Ok(());
        }
        let cells = panel_area.split_evenly((grid_rows, grid_cols));
        for (panel, area) in panels.iter().zip(&cells) {
            draw_heatmap_panel(area, panel)?;
        }
        Ok(())
    })();
    finish(path, &canvas, drawn)
}

// ---------------------------------------------------------------------------
// Canvas, errors and fonts

fn plot_error(path: &Path, message: impl Display) -> Error {
    Error::Plot {
        path: PathBuf::from(path),
        message: message.to_string(),
    }
}

/// Registers the embedded font once per process.
fn ensure_font(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered =
        *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if registered {
        Ok(())
    } else {
        Err(plot_error(
            path,
            "the embedded font assets/fonts/DejaVuSans.ttf is not a valid font",
        ))
    }
}

fn open_canvas(path: &Path, size: (u32, u32)) -> Result<Canvas<'_>> {
    ensure_font(path)?;
    let canvas = BitMapBackend::new(path, size).into_drawing_area();
    canvas.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    Ok(canvas)
}

/// Saves the canvas unless drawing failed, and attaches `path` to any error.
fn finish(path: &Path, canvas: &Canvas, drawn: DrawResult) -> Result<()> {
    drawn.map_err(|e| plot_error(path, e))?;
    canvas.present().map_err(|e| {
        plot_error(
            path,
            format!("{e} (is the folder missing, or the extension not .png?)"),
        )
    })
}

fn check_lengths(
    path: &Path,
    name_a: &str,
    len_a: usize,
    name_b: &str,
    len_b: usize,
) -> Result<()> {
    if len_a == len_b {
        return Ok(());
    }
    let message = format!(
        "{name_a} has {len_a} values but {name_b} has {len_b}; they must have the same length"
    );
    Err(plot_error(path, message))
}

// ---------------------------------------------------------------------------
// Axis ranges

/// Minimum and maximum of the finite values, or `None` if there are none.
fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |bounds, v| match bounds {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Widens `lo..hi` by `fraction` of its span on each side. A range of zero
/// width is widened by 10% of the value, or by 1 around 0.
fn pad_range(lo: f64, hi: f64, fraction: f64) -> Range<f64> {
    let span = hi - lo;
    if span > 0.0 && span.is_finite() {
        return (lo - fraction * span)..(hi + fraction * span);
    }
    let half_width = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
    (lo - half_width)..(hi + half_width)
}

/// Axis range of the finite values padded by 5%, or 0..1 without any.
fn padded_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    match finite_bounds(values) {
        Some((lo, hi)) => pad_range(lo, hi, 0.05),
        None => 0.0..1.0,
    }
}

/// Time axis range: exactly the finite times, padded only when constant.
fn time_range(times: impl IntoIterator<Item = f64>) -> Range<f64> {
    match finite_bounds(times) {
        Some((lo, hi)) => pad_range(lo, hi, 0.0),
        None => 0.0..1.0,
    }
}

/// Range for quantities in [0, 1]: [0, 1.02], widened to the finite values.
fn unit_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    match finite_bounds(values) {
        Some((lo, hi)) if lo < 0.0 || hi > 1.02 => pad_range(lo.min(0.0), hi.max(1.02), 0.02),
        _ => 0.0..1.02,
    }
}

/// Range for a log axis over positive `lo..=hi`, padded by a factor.
fn padded_log_range(lo: f64, hi: f64) -> Range<f64> {
    if hi > lo {
        let factor = (hi / lo).powf(0.05).max(1.05);
        (lo / factor)..(hi * factor)
    } else {
        (lo / 2.0)..(hi * 2.0)
    }
}

// ---------------------------------------------------------------------------
// Chart elements

fn class_colour(class: usize) -> RGBColor {
    PALETTE[class % PALETTE.len()]
}

/// Colour of `value` in [0, 1] by linear interpolation between the anchors.
/// Values outside [0, 1] are clamped, and NaN maps like 0.
fn colour_map(value: f64) -> RGBColor {
    let last = COLOUR_MAP_ANCHORS.len() - 1;
    let value = if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    };
    let position = value * last as f64;
    let index = (position.floor() as usize).min(last - 1);
    let weight = position - index as f64;
    let (r0, g0, b0) = COLOUR_MAP_ANCHORS[index];
    let (r1, g1, b1) = COLOUR_MAP_ANCHORS[index + 1];
    let mix = |a: u8, b: u8| (a as f64 + weight * (b as f64 - a as f64)).round() as u8;
    RGBColor(mix(r0, r1), mix(g0, g1), mix(b0, b1))
}

/// Formats a value for a legend with 4 significant digits.
fn format_value(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs();
    if (1e-3..1e4).contains(&magnitude) {
        let decimals = (3 - magnitude.log10().floor() as i32).max(0) as usize;
        format!("{value:.decimals$}")
    } else {
        format!("{value:.3e}")
    }
}

/// Formats an axis tick value compactly, without float noise.
fn format_tick(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || (1e-3..1e5).contains(&magnitude) {
        let text = format!("{value:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_string()
        } else {
            text.to_string()
        }
    } else {
        format!("{value:.1e}")
    }
}

/// Formats an index tick: whole numbers from `first` on, so fractional ticks
/// stay blank.
fn format_index_tick(value: f64, first: f64) -> String {
    if value.fract() == 0.0 && value >= first {
        format!("{value:.0}")
    } else {
        String::new()
    }
}

/// Splits the points with finite coordinates into runs of consecutive
/// indices, so that a line gets a gap where a value is missing.
fn finite_runs(xs: &[f64], ys: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (&x, &y) in xs.iter().zip(ys) {
        if x.is_finite() && y.is_finite() {
            current.push((x, y));
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn any_finite_point(xs: &[f64], ys: &[f64]) -> bool {
    xs.iter()
        .zip(ys)
        .any(|(x, y)| x.is_finite() && y.is_finite())
}

fn chart_builder<'a, 'b>(
    canvas: &'a Canvas<'b>,
    caption: &str,
) -> ChartBuilder<'a, 'b, BitMapBackend<'b>> {
    let mut builder = ChartBuilder::on(canvas);
    builder
        .caption(caption, (FONT, CAPTION_SIZE))
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA);
    builder
}

fn linear_chart<'a, 'b>(
    canvas: &'a Canvas<'b>,
    caption: &str,
    x_range: Range<f64>,
    y_range: Range<f64>,
) -> DrawResult<LinearChart<'a, 'b>> {
    Ok(chart_builder(canvas, caption).build_cartesian_2d(x_range, y_range)?)
}

fn draw_mesh<X, Y>(
    chart: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
) -> DrawResult
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, AXIS_DESC_SIZE))
        .label_style((FONT, TICK_LABEL_SIZE))
        .x_label_formatter(&|x| format_tick(*x))
        .y_label_formatter(&|y| format_tick(*y))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;
    Ok(())
}

fn draw_legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .margin(12)
        .label_font((FONT, LEGEND_SIZE))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    Ok(())
}

/// Draws a labelled line through the finite points of `(xs, ys)`. Isolated
/// points, which a line cannot show, get a small dot.
fn draw_line<Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, Y>>,
    xs: &[f64],
    ys: &[f64],
    style: ShapeStyle,
    label: &str,
) -> DrawResult {
    let runs = finite_runs(xs, ys);
    let isolated: Vec<(f64, f64)> = runs
        .iter()
        .filter(|run| run.len() == 1)
        .map(|run| run[0])
        .collect();
    chart
        .draw_series(runs.into_iter().map(|run| PathElement::new(run, style)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    let dot_style = style.color.filled();
    chart.draw_series(
        isolated
            .into_iter()
            .map(|point| Circle::new(point, 3, dot_style)),
    )?;
    Ok(())
}

fn draw_horizontal_dashed(
    chart: &mut LinearChart<'_, '_>,
    x_range: &Range<f64>,
    y: f64,
    colour: RGBColor,
    label: &str,
) -> DrawResult {
    let style = colour.stroke_width(2);
    let points = [(x_range.start, y), (x_range.end, y)];
    chart
        .draw_series(DashedLineSeries::new(points, 10, 6, style))?
        .label(label)
        .legend(move |(x, y)| DashedPathElement::new([(x, y), (x + 24, y)], 6, 4, style));
    Ok(())
}

fn draw_vertical_line(
    chart: &mut LinearChart<'_, '_>,
    x: f64,
    y_range: &Range<f64>,
    style: ShapeStyle,
    label: &str,
) -> DrawResult {
    let line = PathElement::new(vec![(x, y_range.start), (x, y_range.end)], style);
    chart
        .draw_series(std::iter::once(line))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x + 12, y - 8), (x + 12, y + 8)], style));
    Ok(())
}

/// Writes `message` in the middle of the plotting area.
fn draw_note<Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, Y>>,
    x_range: &Range<f64>,
    y_range: &Range<f64>,
    message: &str,
) -> DrawResult {
    let style = TextStyle::from((FONT, AXIS_DESC_SIZE))
        .color(&MUTED_COLOUR)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let x = 0.5 * (x_range.start + x_range.end);
    let y = 0.5 * (y_range.start + y_range.end);
    chart.draw_series(std::iter::once(Text::new(
        message.to_string(),
        (x, y),
        style,
    )))?;
    Ok(())
}

/// Marker drawn next to a class in the legend.
#[derive(Clone, Copy)]
enum LegendMark {
    Line,
    Dot,
    Bar,
}

/// Adds one legend entry per class present in `labels`, in class order, up
/// to [`MAX_LEGEND_CLASSES`] entries and a count of the rest.
fn add_class_legend<Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, Y>>,
    labels: &[usize],
    mark: LegendMark,
) -> DrawResult {
    let mut classes: Vec<usize> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();

    for &class in classes.iter().take(MAX_LEGEND_CLASSES) {
        let colour = class_colour(class);
        let entry = chart.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?;
        entry.label(format!("class {class}"));
        match mark {
            LegendMark::Line => {
                entry.legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
                });
            }
            LegendMark::Dot => {
                entry.legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.filled()));
            }
            LegendMark::Bar => {
                entry.legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], colour.mix(0.5).filled())
                });
            }
        }
    }
    if classes.len() > MAX_LEGEND_CLASSES {
        let hidden = classes.len() - MAX_LEGEND_CLASSES;
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(format!("... {hidden} more classes"))
            .legend(|(x, y)| Circle::new((x, y), 0, WHITE.mix(0.0)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Plot bodies that need more than one chart type

#[allow(clippy::too_many_arguments)]
fn draw_single_series<Y>(
    canvas: &Canvas,
    title: &str,
    y_label: &str,
    times: &[f64],
    values: &[f64],
    x_range: Range<f64>,
    y_coord: Y,
    y_range: Range<f64>,
) -> DrawResult
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = chart_builder(canvas, title).build_cartesian_2d(x_range.clone(), y_coord)?;
    draw_mesh(&mut chart, "time t", y_label)?;
    draw_line(
        &mut chart,
        times,
        values,
        PALETTE[0].stroke_width(2),
        y_label,
    )?;
    if !any_finite_point(times, values) {
        draw_note(&mut chart, &x_range, &y_range, "no finite values")?;
    }
    Ok(())
}

/// Histograms of 1-D features, one per class, over bins shared by all.
fn draw_class_histograms(
    canvas: &Canvas,
    features: &[f64],
    labels: &[usize],
    title: &str,
) -> DrawResult {
    let x_range = padded_range(features.iter().copied());
    let finite_count = features.iter().filter(|v| v.is_finite()).count();
    // Rice rule, 2 n^(1/3) bins, kept between 10 and 60.
    let bin_count = ((2.0 * (finite_count as f64).cbrt()).ceil() as usize).clamp(10, 60);
    let bin_width = (x_range.end - x_range.start) / bin_count as f64;

    let mut counts: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for (&value, &class) in features.iter().zip(labels) {
        if !value.is_finite() {
            continue;
        }
        let bin = (((value - x_range.start) / bin_width) as usize).min(bin_count - 1);
        counts.entry(class).or_insert_with(|| vec![0; bin_count])[bin] += 1;
    }
    let max_count = counts.values().flatten().copied().max().unwrap_or(0);
    let y_range = 0.0..(max_count.max(1) as f64 * 1.08);

    let mut chart = linear_chart(canvas, title, x_range.clone(), y_range.clone())?;
    draw_mesh(&mut chart, "feature z", "number of nodes")?;

    for (&class, class_counts) in &counts {
        let colour = class_colour(class);
        let bars = class_counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(bin, &count)| {
                let left = x_range.start + bin as f64 * bin_width;
                Rectangle::new(
                    [(left, 0.0), (left + bin_width, count as f64)],
                    colour.mix(0.35).filled(),
                )
            });
        chart.draw_series(bars)?;

        // Step outline from the first to the last occupied bin, so that
        // overlapping classes stay readable.
        let first = class_counts
            .iter()
            .position(|&count| count > 0)
            .unwrap_or(0);
        let last = class_counts
            .iter()
            .rposition(|&count| count > 0)
            .unwrap_or(0);
        let left_edge = |bin: usize| x_range.start + bin as f64 * bin_width;
        let mut outline = Vec::with_capacity(2 * (last - first) + 4);
        outline.push((left_edge(first), 0.0));
        for (bin, &count) in class_counts.iter().enumerate().take(last + 1).skip(first) {
            outline.push((left_edge(bin), count as f64));
            outline.push((left_edge(bin + 1), count as f64));
        }
        outline.push((left_edge(last + 1), 0.0));
        chart.draw_series(std::iter::once(PathElement::new(
            outline,
            colour.stroke_width(2),
        )))?;
    }
    add_class_legend(&mut chart, labels, LegendMark::Bar)?;

    if counts.is_empty() {
        draw_note(&mut chart, &x_range, &y_range, "no finite feature values")?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// Scatter plot of the first two coordinates, with equal scales on both axes.
fn draw_class_scatter(
    canvas: &Canvas,
    features: &[f64],
    dim: usize,
    labels: &[usize],
    title: &str,
) -> DrawResult {
    let points: Vec<((f64, f64), usize)> = features
        .chunks_exact(dim)
        .zip(labels)
        .map(|(node, &class)| ((node[0], node[1]), class))
        .filter(|((x, y), _)| x.is_finite() && y.is_finite())
        .collect();

    // The plotting area of `chart_builder` is the canvas minus the caption
    // (about 1.5 caption heights), the margins and the label areas.
    let (width, height) = canvas.dim_in_pixel();
    let caption_height = CAPTION_SIZE + CAPTION_SIZE / 2;
    let plot_width = width.saturating_sub(2 * MARGIN + Y_LABEL_AREA).max(1) as f64;
    let plot_height = height
        .saturating_sub(2 * MARGIN + X_LABEL_AREA + caption_height)
        .max(1) as f64;
    let (x_range, y_range) = equal_aspect_ranges(
        padded_range(points.iter().map(|((x, _), _)| *x)),
        padded_range(points.iter().map(|((_, y), _)| *y)),
        plot_width / plot_height,
    );

    let mut chart = linear_chart(canvas, title, x_range.clone(), y_range.clone())?;
    draw_mesh(&mut chart, "feature coordinate 1", "feature coordinate 2")?;

    let radius = if points.len() > 2000 { 2 } else { 3 };
    chart.draw_series(points.iter().map(|&(point, class)| {
        Circle::new(point, radius, class_colour(class).mix(0.75).filled())
    }))?;
    add_class_legend(&mut chart, labels, LegendMark::Dot)?;

    if points.is_empty() {
        draw_note(&mut chart, &x_range, &y_range, "no finite feature values")?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// Widens one of the two ranges about its centre so that one data unit spans
/// the same number of pixels on both axes. `aspect` is width / height of the
/// plotting area in pixels.
fn equal_aspect_ranges(x: Range<f64>, y: Range<f64>, aspect: f64) -> (Range<f64>, Range<f64>) {
    let x_span = x.end - x.start;
    let y_span = y.end - y.start;
    if x_span / y_span > aspect {
        let target_span = x_span / aspect;
        let centre = 0.5 * (y.start + y.end);
        (
            x,
            (centre - 0.5 * target_span)..(centre + 0.5 * target_span),
        )
    } else {
        let target_span = y_span * aspect;
        let centre = 0.5 * (x.start + x.end);
        (
            (centre - 0.5 * target_span)..(centre + 0.5 * target_span),
            y,
        )
    }
}

// ---------------------------------------------------------------------------
// Heat maps

fn check_panel(path: &Path, index: usize, panel: &HeatmapPanel) -> Result<()> {
    let expected = panel.rows.saturating_mul(panel.cols);
    if panel.values.len() != expected {
        let message = format!(
            "panel {index} ('{}') has {} values but rows * cols = {} * {} = {expected}",
            panel.title,
            panel.values.len(),
            panel.rows,
            panel.cols
        );
        return Err(plot_error(path, message));
    }
    let (lo, hi) = panel.y_range;
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        let message = format!(
            "panel {index} ('{}') has y_range ({lo}, {hi}); expected finite bounds with y_range.0 <= y_range.1",
            panel.title
        );
        return Err(plot_error(path, message));
    }
    Ok(())
}

/// Grid shape (rows, columns) for `count` panels.
fn heatmap_grid(count: usize) -> (usize, usize) {
    const MAX_COLUMNS: usize = 6;
    if count <= 1 {
        return (1, 1);
    }
    let columns = count.div_ceil(2).min(MAX_COLUMNS);
    (count.div_ceil(columns), columns)
}

fn draw_heatmap_panel(area: &Canvas, panel: &HeatmapPanel) -> DrawResult {
    let x_range = pad_range(panel.y_range.0, panel.y_range.1, 0.0);
    let y_range = 0.0..(panel.rows.max(1) as f64);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, LEGEND_SIZE + 1))
        .margin(8)
        .x_label_area_size(42)
        .y_label_area_size(58)
        .build_cartesian_2d(x_range, y_range)?;

    let plot = chart.plotting_area().strip_coord_spec();
    plot.fill(&RGBColor(200, 200, 200))?;
    rasterise_panel(&plot, panel)?;
    if panel.rows == 0 || panel.cols == 0 {
        let style =
            TextStyle::from((FONT, TICK_LABEL_SIZE + 1)).pos(Pos::new(HPos::Center, VPos::Center));
        let (w, h) = plot.dim_in_pixel();
        let note = if panel.rows == 0 {
            "no nodes"
        } else {
            "no latent cells"
        };
        plot.draw_text(note, &style, (w as i32 / 2, h as i32 / 2))?;
    }

    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("latent coordinate y")
        .y_desc("node index (sorted by class)")
        .axis_desc_style((FONT, TICK_LABEL_SIZE + 1))
        .label_style((FONT, TICK_LABEL_SIZE - 2))
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|x| format_tick(*x))
        .y_label_formatter(&|y| format_index_tick(*y, 0.0))
        .draw()?;
    Ok(())
}

/// Colours every pixel of `plot` by the mean of the finite cells it covers,
/// divided by the panel's maximum finite value.
fn rasterise_panel(plot: &Canvas, panel: &HeatmapPanel) -> DrawResult {
    if panel.rows == 0 || panel.cols == 0 {
        return Ok(());
    }
    let max = panel
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let scale = if max > 0.0 { 1.0 / max } else { 1.0 };

    let (width, height) = plot.dim_in_pixel();
    let col_spans = pixel_spans(width as usize, panel.cols);
    let row_spans = pixel_spans(height as usize, panel.rows);
    for (py, rows) in row_spans.iter().enumerate() {
        // Pixel row 0 is the top, where the last node is.
        let rows = (panel.rows - rows.end)..(panel.rows - rows.start);
        for (px, cols) in col_spans.iter().enumerate() {
            let mut sum = 0.0;
            let mut count = 0usize;
            for row in rows.clone() {
                for &value in
                    &panel.values[row * panel.cols + cols.start..row * panel.cols + cols.end]
                {
                    if value.is_finite() {
                        sum += value;
                        count += 1;
                    }
                }
            }
            if count > 0 {
                let colour = colour_map(sum / count as f64 * scale);
                plot.draw_pixel((px as i32, py as i32), &colour)?;
            }
        }
    }
    Ok(())
}

/// For each of `pixels` pixels, the range of the `cells` cells it covers:
/// the cell under its centre, widened to all cells that start inside it.
fn pixel_spans(pixels: usize, cells: usize) -> Vec<Range<usize>> {
    (0..pixels)
        .map(|p| {
            let first = ((p * cells) / pixels).min(cells - 1);
            let end = (((p + 1) * cells) / pixels).clamp(first + 1, cells);
            first..end
        })
        .collect()
}

/// Vertical colour bar for the heat maps, from 0 to 1 of the panel maximum.
fn draw_colour_bar(area: &Canvas) -> DrawResult {
    let (_, height) = area.dim_in_pixel();
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(height.saturating_sub(40 + 260).max(8))
        .margin_left(10)
        .margin_right(55)
        .right_y_label_area_size(40)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;

    let steps = 100;
    chart.draw_series((0..steps).map(|i| {
        let lo = i as f64 / steps as f64;
        let hi = (i + 1) as f64 / steps as f64;
        Rectangle::new([(0.0, lo), (1.0, hi)], colour_map(0.5 * (lo + hi)).filled())
    }))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc("value / panel max")
        .axis_desc_style((FONT, TICK_LABEL_SIZE))
        .label_style((FONT, TICK_LABEL_SIZE - 2))
        .y_labels(6)
        .y_label_formatter(&|y| format_tick(*y))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

    fn scratch() -> TempDir {
        TempDir::new().expect("create a temporary folder")
    }

    /// Checks that `path` is a PNG of `size` pixels with more than a blank
    /// canvas in it, and reads the width and height from the IHDR chunk.
    fn assert_png(path: &Path, size: (u32, u32)) {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            bytes.len() > 3000,
            "{} has only {} bytes",
            path.display(),
            bytes.len()
        );
        assert_eq!(
            bytes[..8],
            PNG_SIGNATURE,
            "{} lacks the PNG signature",
            path.display()
        );
        assert_eq!(
            &bytes[12..16],
            b"IHDR",
            "{} lacks the IHDR chunk",
            path.display()
        );
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!(
            (width, height),
            size,
            "{} has the wrong size",
            path.display()
        );
    }

    fn linspace(start: f64, end: f64, count: usize) -> Vec<f64> {
        let step = if count > 1 {
            (end - start) / (count - 1) as f64
        } else {
            0.0
        };
        (0..count).map(|i| start + step * i as f64).collect()
    }

    /// Deterministic pseudo-random numbers in [-1, 1), so tests need no RNG.
    fn noise(count: usize, seed: u64) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn alignment_full_plot() {
        let dir = scratch();
        let path = dir.path().join("alignment.png");
        let times = linspace(0.0, 10.0, 200);
        let alpha: Vec<f64> = times
            .iter()
            .map(|t| 0.95 * (1.0 - (-0.6 * t).exp()))
            .collect();
        let between: Vec<f64> = times
            .iter()
            .map(|t| 0.9 / (1.0 + (-(t - 5.0)).exp()))
            .collect();
        alignment(
            &path,
            &times,
            &alpha,
            Some(&between),
            0.95,
            Some(3.2),
            Some(5.5),
        )
        .unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn alignment_degenerate_inputs() {
        let dir = scratch();
        let empty = dir.path().join("empty.png");
        alignment(&empty, &[], &[], None, 0.9, None, None).unwrap();
        assert_png(&empty, FIGURE_SIZE);

        let with_nan = dir.path().join("nan.png");
        let times = [0.0, 1.0, 2.0, 3.0, f64::INFINITY, 5.0];
        let alpha = [0.1, f64::NAN, 0.5, 0.6, 0.7, f64::NEG_INFINITY];
        alignment(
            &with_nan,
            &times,
            &alpha,
            None,
            f64::NAN,
            Some(f64::NAN),
            Some(2.5),
        )
        .unwrap();
        assert_png(&with_nan, FIGURE_SIZE);

        let single = dir.path().join("single.png");
        alignment(&single, &[1.0], &[0.5], Some(&[0.2]), 0.9, Some(1.0), None).unwrap();
        assert_png(&single, FIGURE_SIZE);
    }

    #[test]
    fn alignment_length_mismatch_error() {
        let dir = scratch();
        let path = dir.path().join("mismatch.png");
        let result = alignment(&path, &[0.0, 1.0], &[0.5], None, 0.9, None, None);
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");
        let between = [0.1];
        let result = alignment(
            &path,
            &[0.0, 1.0],
            &[0.5, 0.6],
            Some(&between),
            0.9,
            None,
            None,
        );
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");
        assert!(!path.exists());
    }

    #[test]
    fn loss_plot_and_degenerate_inputs() {
        let dir = scratch();
        let times = linspace(0.0, 5.0, 100);
        let decaying: Vec<f64> = times.iter().map(|t| 0.4 + 0.5 * (-t).exp()).collect();
        let path = dir.path().join("loss.png");
        loss(&path, &times, &decaying).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let far: Vec<f64> = times.iter().map(|t| 1000.0 + t).collect();
        let path = dir.path().join("far.png");
        loss(&path, &times, &far).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("constant.png");
        loss(&path, &times, &vec![0.3; times.len()]).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("empty.png");
        loss(&path, &[], &[]).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("all_nan.png");
        loss(&path, &times, &vec![f64::NAN; times.len()]).unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn trajectories_many_nodes() {
        let dir = scratch();
        let path = dir.path().join("trajectories.png");
        let nodes = 1000;
        let labels: Vec<usize> = (0..nodes).map(|i| i % 4).collect();
        let start = noise(nodes, 7);
        let times = linspace(0.0, 4.0, 40);
        let features: Vec<Vec<f64>> = times
            .iter()
            .map(|t| {
                (0..nodes)
                    .map(|i| {
                        let target = labels[i] as f64 - 1.5;
                        start[i] * (-t).exp() + target * (1.0 - (-t).exp())
                    })
                    .collect()
            })
            .collect();
        trajectories(&path, &times, &features, &labels).unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn trajectories_degenerate_inputs() {
        let dir = scratch();
        let path = dir.path().join("empty.png");
        trajectories(&path, &[], &[], &[]).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("no_nodes.png");
        trajectories(&path, &[0.0, 1.0], &[vec![], vec![]], &[]).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("nan.png");
        let features = vec![
            vec![0.0, f64::NAN],
            vec![f64::INFINITY, 1.0],
            vec![1.0, 1.0],
        ];
        trajectories(&path, &[0.0, 1.0, 2.0], &features, &[0, 1]).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("constant.png");
        let features = vec![vec![2.0; 5]; 3];
        trajectories(&path, &[1.0, 1.0, 1.0], &features, &[0, 0, 1, 1, 2]).unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn trajectories_ragged_snapshot_error() {
        let dir = scratch();
        let path = dir.path().join("ragged.png");
        let features = vec![vec![0.0, 1.0], vec![0.0]];
        let result = trajectories(&path, &[0.0, 1.0], &features, &[0, 1]);
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");
    }

    #[test]
    fn latent_scatter_each_dimension() {
        let dir = scratch();
        let nodes = 600;
        let labels: Vec<usize> = (0..nodes).map(|i| i % 3).collect();
        for dim in 1..=3 {
            let spread = noise(nodes * dim, dim as u64);
            let features: Vec<f64> = (0..nodes * dim)
                .map(|k| 2.0 * labels[k / dim] as f64 + 0.6 * spread[k])
                .collect();
            let path = dir.path().join(format!("latent_{dim}.png"));
            latent_scatter(
                &path,
                &features,
                dim,
                &labels,
                &format!("Features at t = 1 (dim {dim})"),
            )
            .unwrap();
            assert_png(&path, FIGURE_SIZE);
        }
    }

    #[test]
    fn latent_scatter_degenerate_inputs() {
        let dir = scratch();
        for dim in 1..=3 {
            let path = dir.path().join(format!("empty_{dim}.png"));
            latent_scatter(&path, &[], dim, &[], "empty").unwrap();
            assert_png(&path, FIGURE_SIZE);

            let path = dir.path().join(format!("constant_{dim}.png"));
            latent_scatter(&path, &vec![0.5; 4 * dim], dim, &[0, 1, 0, 1], "constant").unwrap();
            assert_png(&path, FIGURE_SIZE);

            let path = dir.path().join(format!("nan_{dim}.png"));
            let mut features = vec![f64::NAN; 3 * dim];
            features[0] = f64::INFINITY;
            latent_scatter(&path, &features, dim, &[0, 1, 2], "nan").unwrap();
            assert_png(&path, FIGURE_SIZE);
        }
    }

    #[test]
    fn latent_scatter_many_classes_legend() {
        let dir = scratch();
        let path = dir.path().join("many_classes.png");
        let nodes = 300;
        let labels: Vec<usize> = (0..nodes).map(|i| i % 20).collect();
        let features: Vec<f64> = noise(2 * nodes, 3);
        latent_scatter(&path, &features, 2, &labels, "Twenty classes").unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn latent_scatter_invalid_shape_errors() {
        let dir = scratch();
        let path = dir.path().join("invalid.png");
        let result = latent_scatter(&path, &[0.0, 1.0], 0, &[0, 1], "dim 0");
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");
        let result = latent_scatter(&path, &[0.0, 1.0, 2.0], 2, &[0, 1], "odd length");
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");
        assert!(!path.exists());
    }

    #[test]
    fn spectrum_with_gap() {
        let dir = scratch();
        let path = dir.path().join("spectrum.png");
        let mut eigenvalues: Vec<f64> = (0..100).map(|j| 0.3 * (-0.05 * j as f64).exp()).collect();
        eigenvalues.extend([1.0, 0.9, 0.85]);
        spectrum(&path, &eigenvalues, 3).unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn spectrum_degenerate_inputs() {
        let dir = scratch();
        let cases: [(&str, Vec<f64>, usize); 6] = [
            ("empty", vec![], 2),
            ("nan", vec![f64::NAN, 0.5, f64::INFINITY, 0.2], 1),
            ("k_zero", vec![0.9, 0.5, 0.1], 0),
            ("k_too_large", vec![0.9, 0.5, 0.1], 5),
            ("constant", vec![0.5; 10], 4),
            ("single", vec![0.7], 1),
        ];
        for (name, eigenvalues, k) in cases {
            let path = dir.path().join(format!("{name}.png"));
            spectrum(&path, &eigenvalues, k).unwrap_or_else(|e| panic!("case {name}: {e}"));
            assert_png(&path, FIGURE_SIZE);
        }
    }

    #[test]
    fn alignment_comparison_two_solvers() {
        let dir = scratch();
        let path = dir.path().join("comparison.png");
        let fine = linspace(0.0, 8.0, 161);
        let coarse = linspace(0.0, 8.0, 17);
        let particles: Vec<f64> = fine
            .iter()
            .map(|t| 0.9 * (1.0 - (-0.7 * t).exp()))
            .collect();
        let grid: Vec<f64> = coarse
            .iter()
            .map(|t| 0.9 * (1.0 - (-0.65 * t).exp()))
            .collect();
        let series = [
            ("particles", &fine[..], &particles[..]),
            ("grid", &coarse[..], &grid[..]),
        ];
        alignment_comparison(&path, &series, 0.9).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("none.png");
        alignment_comparison(&path, &[], f64::NAN).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("mismatch.png");
        let result = alignment_comparison(&path, &[("bad", &fine[..], &grid[..])], 0.9);
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");
    }

    #[test]
    fn series_log_and_linear() {
        let dir = scratch();
        let times = linspace(0.0, 6.0, 60);
        let positive: Vec<f64> = times.iter().map(|t| 1e-1 * (-1.5 * t).exp()).collect();
        let path = dir.path().join("log.png");
        series(
            &path,
            &times,
            &positive,
            "W2 distance between solvers",
            "W2 distance",
            true,
        )
        .unwrap();
        assert_png(&path, FIGURE_SIZE);

        let mut with_zero = positive.clone();
        with_zero[10] = 0.0;
        let path = dir.path().join("log_fallback.png");
        series(
            &path,
            &times,
            &with_zero,
            "W2 distance between solvers",
            "W2 distance",
            true,
        )
        .unwrap();
        assert_png(&path, FIGURE_SIZE);

        let path = dir.path().join("linear.png");
        series(
            &path,
            &times,
            &positive,
            "W2 distance between solvers",
            "W2 distance",
            false,
        )
        .unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn series_degenerate_inputs() {
        let dir = scratch();
        for log_y in [false, true] {
            let path = dir.path().join(format!("empty_{log_y}.png"));
            series(&path, &[], &[], "empty", "value", log_y).unwrap();
            assert_png(&path, FIGURE_SIZE);

            let path = dir.path().join(format!("constant_{log_y}.png"));
            series(
                &path,
                &[0.0, 1.0, 2.0],
                &[3.0, 3.0, 3.0],
                "constant",
                "value",
                log_y,
            )
            .unwrap();
            assert_png(&path, FIGURE_SIZE);

            let path = dir.path().join(format!("nan_{log_y}.png"));
            let values = [f64::NAN, 1e-3, f64::INFINITY, 1e-5];
            series(&path, &[0.0, 1.0, 2.0, 3.0], &values, "nan", "value", log_y).unwrap();
            assert_png(&path, FIGURE_SIZE);
        }
    }

    fn gaussian_panel_values(rows: usize, cols: usize, shift: f64) -> Vec<f64> {
        let mut values = Vec::with_capacity(rows * cols);
        for row in 0..rows {
            let centre = if row < rows / 2 { -1.0 } else { 1.0 } * shift;
            for col in 0..cols {
                let y = -3.0 + 6.0 * (col as f64 + 0.5) / cols as f64;
                values.push((-(y - centre).powi(2) / 0.2).exp());
            }
        }
        values
    }

    #[test]
    fn fiber_heatmaps_two_rows() {
        let dir = scratch();
        let path = dir.path().join("heatmaps.png");
        let times = [0.0, 1.0, 4.0];
        let (rows, cols) = (120, 80);
        let values: Vec<Vec<f64>> = times
            .iter()
            .map(|t| gaussian_panel_values(rows, cols, t / 3.0))
            .collect();
        let mut panels = Vec::new();
        for solver in ["grid", "particles"] {
            for (t, values) in times.iter().zip(&values) {
                panels.push(HeatmapPanel {
                    title: format!("{solver}, t = {t}"),
                    values,
                    rows,
                    cols,
                    y_range: (-3.0, 3.0),
                });
            }
        }
        fiber_heatmaps(&path, &panels).unwrap();
        assert_png(&path, (3 * 380 + 110, 2 * 330 + 50));
    }

    #[test]
    fn fiber_heatmaps_more_cells_than_pixels() {
        let dir = scratch();
        let path = dir.path().join("large.png");
        let (rows, cols) = (2000, 500);
        let values = gaussian_panel_values(rows, cols, 1.0);
        let panel = HeatmapPanel {
            title: "large".to_string(),
            values: &values,
            rows,
            cols,
            y_range: (-3.0, 3.0),
        };
        fiber_heatmaps(&path, &[panel]).unwrap();
        assert_png(&path, FIGURE_SIZE);
    }

    #[test]
    fn fiber_heatmaps_degenerate_inputs() {
        let dir = scratch();
        let path = dir.path().join("no_panels.png");
        fiber_heatmaps(&path, &[]).unwrap();
        assert_png(&path, FIGURE_SIZE);

        let zeros = vec![0.0; 12];
        let mut nan = vec![1.0; 12];
        nan[3] = f64::NAN;
        nan[5] = f64::INFINITY;
        let empty: Vec<f64> = vec![];
        let panels = [
            HeatmapPanel {
                title: "zeros".into(),
                values: &zeros,
                rows: 3,
                cols: 4,
                y_range: (0.0, 1.0),
            },
            HeatmapPanel {
                title: "nan".into(),
                values: &nan,
                rows: 4,
                cols: 3,
                y_range: (-1.0, 1.0),
            },
            HeatmapPanel {
                title: "no nodes".into(),
                values: &empty,
                rows: 0,
                cols: 5,
                y_range: (-1.0, 1.0),
            },
            HeatmapPanel {
                title: "flat range".into(),
                values: &zeros,
                rows: 6,
                cols: 2,
                y_range: (2.0, 2.0),
            },
        ];
        let path = dir.path().join("degenerate.png");
        fiber_heatmaps(&path, &panels).unwrap();
        assert_png(&path, (900, 2 * 330 + 50));
    }

    #[test]
    fn fiber_heatmaps_invalid_panel_errors() {
        let dir = scratch();
        let path = dir.path().join("invalid.png");
        let values = vec![1.0; 10];
        let wrong_size = HeatmapPanel {
            title: "a".into(),
            values: &values,
            rows: 3,
            cols: 4,
            y_range: (0.0, 1.0),
        };
        let result = fiber_heatmaps(&path, &[wrong_size]);
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");

        let bad_range = HeatmapPanel {
            title: "b".into(),
            values: &values,
            rows: 2,
            cols: 5,
            y_range: (0.0, f64::NAN),
        };
        let result = fiber_heatmaps(&path, &[bad_range]);
        assert!(matches!(result, Err(Error::Plot { .. })), "got {result:?}");
        assert!(!path.exists());
    }

    #[test]
    fn missing_folder_is_plot_error() {
        let dir = scratch();
        let path = dir.path().join("missing").join("loss.png");
        let result = loss(&path, &[0.0, 1.0], &[1.0, 0.5]);
        match result {
            Err(Error::Plot {
                path: error_path, ..
            }) => assert_eq!(error_path, path),
            other => panic!("expected a plot error, got {other:?}"),
        }
    }

    #[test]
    fn pad_range_constant_and_regular() {
        assert_eq!(pad_range(0.0, 0.0, 0.05), -1.0..1.0);
        let padded = pad_range(2.0, 2.0, 0.05);
        assert!((padded.start - 1.8).abs() < 1e-12, "{padded:?}");
        assert!((padded.end - 2.2).abs() < 1e-12, "{padded:?}");
        assert_eq!(pad_range(0.0, 10.0, 0.1), -1.0..11.0);
        assert_eq!(padded_range([f64::NAN, f64::INFINITY]), 0.0..1.0);
    }

    #[test]
    fn unit_range_widens_only_when_needed() {
        assert_eq!(unit_range([0.0, 0.5, 1.0]), 0.0..1.02);
        assert_eq!(unit_range([f64::NAN]), 0.0..1.02);
        let wide = unit_range([-0.5, 1.5]);
        assert!(wide.start < -0.5, "{wide:?}");
        assert!(wide.end > 1.5, "{wide:?}");
    }

    #[test]
    fn colour_map_endpoints_and_clamping() {
        let (r, g, b) = COLOUR_MAP_ANCHORS[0];
        assert_eq!(colour_map(0.0), RGBColor(r, g, b));
        assert_eq!(colour_map(-3.0), RGBColor(r, g, b));
        let (r, g, b) = COLOUR_MAP_ANCHORS[7];
        assert_eq!(colour_map(1.0), RGBColor(r, g, b));
        assert_eq!(colour_map(7.0), RGBColor(r, g, b));
        assert_eq!(colour_map(f64::NAN), colour_map(0.0));
    }

    #[test]
    fn pixel_spans_cover_all_cells() {
        for (pixels, cells) in [(300, 2000), (300, 7), (7, 7), (1, 50), (250, 251)] {
            let spans = pixel_spans(pixels, cells);
            assert_eq!(spans.len(), pixels);
            assert_eq!(spans[0].start, 0, "pixels {pixels}, cells {cells}");
            assert_eq!(
                spans[pixels - 1].end,
                cells,
                "pixels {pixels}, cells {cells}"
            );
            for pair in spans.windows(2) {
                assert!(
                    pair[1].start <= pair[0].end,
                    "gap between {:?} and {:?}",
                    pair[0],
                    pair[1]
                );
            }
            assert!(spans.iter().all(|span| span.start < span.end));
        }
    }

    #[test]
    fn heatmap_grid_shapes() {
        assert_eq!(heatmap_grid(0), (1, 1));
        assert_eq!(heatmap_grid(1), (1, 1));
        assert_eq!(heatmap_grid(2), (2, 1));
        assert_eq!(heatmap_grid(6), (2, 3));
        assert_eq!(heatmap_grid(7), (2, 4));
        assert_eq!(heatmap_grid(14), (3, 6));
    }

    #[test]
    fn format_value_significant_digits() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(0.12345), "0.1235");
        assert_eq!(format_value(12.345), "12.35");
        assert_eq!(format_value(1.5e-6), "1.500e-6");
    }
}
