//! `flow-field`: evenly spaced streamlines (after Jobard & Lefer) of a seeded angle field,
//! painted as tapered ink strokes.
//!
//! Stage s paints layers 0..=s in order. Layer 0 is sparse, bold and long; each later layer
//! threads finer strokes into the gaps left by all earlier layers (it may not come closer
//! to them than its own spacing), so stage N is stage N-1 with more painted over it. From
//! stage 2 on, the accent colour blooms through the ink around the middles of the longest
//! first strokes, spreading further with each stage.

use std::f64::consts::TAU;

use super::canvas::Canvas;
use super::noise::Noise;
use super::palette::{lerp, scale};
use super::{Job, Rendered, grade};
use crate::engine::Attribute;
use crate::error::ArtError;

const MARGIN: f64 = 0.07;
const BATCHES: u32 = 8;

struct Point {
    x: f64,
    y: f64,
    stroke: u32,
    /// Arc-length position along its stroke (negative on the backward half).
    arc: f64,
}

struct Grid {
    cell: f64,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
}

impl Grid {
    fn new(cell: f64, uw: f64, uh: f64, points: &[Point]) -> Self {
        let cols = (uw / cell).ceil() as usize + 1;
        let rows = (uh / cell).ceil() as usize + 1;
        let mut g = Self { cell, cols, rows, cells: vec![Vec::new(); cols * rows] };
        for (i, p) in points.iter().enumerate() {
            g.insert(i as u32, p);
        }
        g
    }

    fn index(&self, x: f64, y: f64) -> (usize, usize) {
        let cx = ((x / self.cell).max(0.0) as usize).min(self.cols - 1);
        let cy = ((y / self.cell).max(0.0) as usize).min(self.rows - 1);
        (cx, cy)
    }

    fn insert(&mut self, id: u32, p: &Point) {
        let (cx, cy) = self.index(p.x, p.y);
        self.cells[cy * self.cols + cx].push(id);
    }

    fn remove_last(&mut self, id: u32, p: &Point) {
        let (cx, cy) = self.index(p.x, p.y);
        let popped = self.cells[cy * self.cols + cx].pop();
        debug_assert_eq!(popped, Some(id));
    }

    /// True when a point other than the stroke's own nearby ones lies within `r` of (x, y).
    /// `r` must not exceed the cell size.
    fn crowded(&self, points: &[Point], x: f64, y: f64, r: f64, own: Option<(u32, f64, f64)>) -> bool {
        let (cx, cy) = self.index(x, y);
        let r2 = r * r;
        for gy in cy.saturating_sub(1)..=(cy + 1).min(self.rows - 1) {
            for gx in cx.saturating_sub(1)..=(cx + 1).min(self.cols - 1) {
                for &id in &self.cells[gy * self.cols + gx] {
                    let p = &points[id as usize];
                    if let Some((stroke, arc, skip)) = own
                        && p.stroke == stroke
                        && ((p.arc - arc).abs() < skip || (p.arc.abs() < skip && arc.abs() < skip))
                    {
                        continue;
                    }
                    let (dx, dy) = (p.x - x, p.y - y);
                    if dx * dx + dy * dy < r2 {
                        return true;
                    }
                }
            }
        }
        false
    }
}

pub(super) fn render(job: &mut Job<'_>) -> Result<Rendered, ArtError> {
    let pal = job.palette();
    let (w, h) = (job.width, job.height);
    let unit = w.min(h) as f64;
    let (uw, uh) = (w as f64 / unit, h as f64 / unit);
    let density = job.params.get("density");
    let length = job.params.get("length");
    let fscale = job.params.get("scale");
    let turbulence = job.params.get("turbulence");
    let weight = job.params.get("weight");
    let stage = job.stage as usize;

    let mut frng = job.rng("field");
    let field = Noise::new(&mut frng);
    let zones = Noise::new(&mut frng);
    let wobble = Noise::new(&mut frng);
    let base = frng.range(0.0, TAU);
    let (ox, oy) = (frng.range(0.0, 50.0), frng.range(0.0, 50.0));
    let angle = |x: f64, y: f64| base + turbulence * TAU * field.fbm(ox + x * fscale, oy + y * fscale, 3);
    let dir = |x: f64, y: f64| {
        let a = angle(x, y);
        (libm::cos(a), libm::sin(a))
    };
    let inside = |x: f64, y: f64| x > MARGIN && x < uw - MARGIN && y > MARGIN && y < uh - MARGIN;

    job.begin((stage as u32 + 1) * (BATCHES + 1), "tracing")?;
    let mut canvas = Canvas::paper(w, h, pal.paper, pal.dark, &mut job.rng("paper"));

    let d0 = 0.034 / density;
    let d_floor = (d0 * 0.2).max(0.0045);
    let max_len = 0.85 * length;
    let mut points: Vec<Point> = Vec::new();
    let mut firsts: Vec<(f64, f64, f64)> = Vec::new(); // (length, x, y) of layer-0 stroke middles
    let mut strokes_total = 0usize;

    for layer in 0..=stage {
        let d_sep = (d0 * libm::pow(0.64, layer as f64)).max(d_floor);
        let d_test = d_sep * 0.55;
        let step = (d_sep * 0.25).min(0.004);
        let mut grid = Grid::new(d_sep, uw, uh, &points);
        let mut srng = job.rng(&format!("seeds:{layer}"));
        let mut wrng = job.rng(&format!("strokes:{layer}"));
        let candidates = ((uw - 2.0 * MARGIN) * (uh - 2.0 * MARGIN) / (d_sep * d_sep) * 1.2).ceil() as usize;
        let per_batch = candidates.div_ceil(BATCHES as usize);
        let radius = weight * d_sep * if layer == 0 { 0.30 } else { 0.24 } * unit;
        let mut layer_strokes: Vec<(Vec<(f64, f64)>, f64)> = Vec::new();

        for c in 0..candidates {
            if c > 0 && c % per_batch == 0 {
                job.step("tracing")?;
            }
            let sx = srng.range(MARGIN, uw - MARGIN);
            let sy = srng.range(MARGIN, uh - MARGIN);
            let jitter = wrng.range(0.75, 1.2);
            if grid.crowded(&points, sx, sy, d_sep, None) {
                continue;
            }
            let id = strokes_total as u32;
            let first = points.len();
            let skip = d_test * 2.5;
            let mut halves: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
            for (half, sign) in [(0usize, 1.0f64), (1, -1.0)] {
                let (mut x, mut y) = (sx, sy);
                let mut arc = 0.0;
                if half == 0 {
                    let p = Point { x, y, stroke: id, arc: 0.0 };
                    grid.insert(points.len() as u32, &p);
                    points.push(p);
                }
                let mut prev = (0.0, 0.0);
                while arc < max_len / 2.0 {
                    // Midpoint (RK2) step along the field, never reversing direction.
                    let (mut dx, mut dy) = dir(x, y);
                    if prev != (0.0, 0.0) && dx * prev.0 + dy * prev.1 < 0.0 {
                        (dx, dy) = (-dx, -dy);
                    } else if prev == (0.0, 0.0) {
                        (dx, dy) = (dx * sign, dy * sign);
                    }
                    let (mx, my) = (x + dx * step * 0.5, y + dy * step * 0.5);
                    let (mut ex, mut ey) = dir(mx, my);
                    if ex * dx + ey * dy < 0.0 {
                        (ex, ey) = (-ex, -ey);
                    }
                    let (nx, ny) = (x + ex * step, y + ey * step);
                    let narc = arc + step;
                    if !inside(nx, ny) || grid.crowded(&points, nx, ny, d_test, Some((id, sign * narc, skip))) {
                        break;
                    }
                    prev = (ex, ey);
                    (x, y, arc) = (nx, ny, narc);
                    let p = Point { x, y, stroke: id, arc: sign * arc };
                    grid.insert(points.len() as u32, &p);
                    points.push(p);
                    halves[half].push((x, y));
                }
            }
            let n = points.len() - first;
            let total_len = (n.saturating_sub(1)) as f64 * step;
            if total_len < d_sep * 3.0 {
                // Too short to read as a stroke: take it back.
                for i in (first..points.len()).rev() {
                    grid.remove_last(i as u32, &points[i]);
                }
                points.truncate(first);
                continue;
            }
            strokes_total += 1;
            let [fwd, bwd] = halves;
            let mut line: Vec<(f64, f64)> = bwd.into_iter().rev().collect();
            line.push((sx, sy));
            line.extend(fwd);
            if layer == 0 {
                let (mx, my) = line[line.len() / 2];
                firsts.push((total_len, mx, my));
            }
            layer_strokes.push((line, radius * jitter));
        }

        // Paint this layer.
        let mut crng = job.rng(&format!("colours:{layer}"));
        for (line, r) in &layer_strokes {
            let (mx, my) = line[line.len() / 2];
            let zone = (0.5 + 0.5 * zones.fbm(mx * 1.1 + 7.0, my * 1.1 - 3.0, 2)).clamp(0.0, 0.999);
            let choices: &[usize] = match layer {
                0 => &[0, 1, 2],
                1 => &[1, 2, 3],
                _ => &[2, 3, 4],
            };
            let mut k = (zone * choices.len() as f64) as usize;
            if crng.chance(0.22) {
                k = (k + 1 + crng.below(choices.len() - 1)) % choices.len();
            }
            let ink = pal.inks[choices[k]];
            let ink = lerp(ink, pal.paper, crng.range(0.0, 0.18) as f32);
            let edge = if pal.dark { scale(ink, 0.8) } else { scale(ink, 0.7) };
            paint_stroke(&mut canvas, line, *r, unit, &wobble);
            canvas.ink_rimmed(ink, edge, 0.94, 0.28);
        }
        job.step("painting")?;
    }
    if stage >= 2 {
        bloom(&mut canvas, &firsts, stage, unit, pal.accent);
    }
    let image = canvas.to_image();
    let attributes = vec![
        Attribute::new("Density", grade(density, 0.8, 1.6, ["Airy", "Balanced", "Dense"])),
        Attribute::new("Current", grade(turbulence, 0.6, 1.4, ["Calm", "Winding", "Turbulent"])),
        Attribute::new("Strokes", strokes_total.to_string()),
    ];
    Ok(Rendered { image, attributes })
}

/// A tapered brush stroke along `line` (unit coordinates), max radius `r` pixels.
fn paint_stroke(canvas: &mut Canvas, line: &[(f64, f64)], r: f64, unit: f64, wobble: &Noise) {
    let n = line.len();
    let mut arcs = Vec::with_capacity(n);
    let mut acc = 0.0;
    for i in 0..n {
        if i > 0 {
            let (dx, dy) = (line[i].0 - line[i - 1].0, line[i].1 - line[i - 1].1);
            acc += (dx * dx + dy * dy).sqrt() * unit;
        }
        arcs.push(acc);
    }
    let total = acc.max(1e-9);
    let rise = (r * 3.0).min(total * 0.3);
    let fall = (r * 9.0).min(total * 0.5);
    let radius = |i: usize| {
        let s = arcs[i];
        let a = (s / rise).min(1.0);
        let b = ((total - s) / fall).min(1.0);
        let press = libm::sqrt(a) * (0.15 + 0.85 * b * (2.0 - b));
        let (x, y) = line[i];
        r * press * (1.0 + 0.12 * wobble.get(x * 40.0, y * 40.0))
    };
    let mut prev_r = radius(0);
    for i in 1..n {
        let ri = radius(i);
        let a = (line[i - 1].0 * unit, line[i - 1].1 * unit);
        let b = (line[i].0 * unit, line[i].1 * unit);
        canvas.capsule(a, b, prev_r, ri);
        prev_r = ri;
    }
}

/// Blooming colour: around the middles of the longest first-layer strokes the ink turns
/// towards the accent colour (the paper stays as it is). Each stage blooms over a wider
/// circle, and from stage 3 a second and third bloom open.
fn bloom(canvas: &mut Canvas, firsts: &[(f64, f64, f64)], stage: usize, unit: f64, accent: [f32; 3]) {
    let mut order: Vec<usize> = (0..firsts.len()).collect();
    // Longest first; ties keep their index order (stable sort), so the order is fixed.
    order.sort_by(|&a, &b| firsts[b].0.total_cmp(&firsts[a].0));
    let count = (stage - 1).min(3).min(order.len());
    let radius = (0.16 + 0.07 * (stage - 2) as f64) * unit;
    let centres: Vec<(f64, f64, f64)> = order[..count]
        .iter()
        .enumerate()
        .map(|(k, &i)| (firsts[i].1 * unit, firsts[i].2 * unit, radius * [1.0, 0.75, 0.6][k]))
        .collect();
    for (cx, cy, r) in centres {
        let x0 = (cx - r).floor().max(0.0) as usize;
        let y0 = (cy - r).floor().max(0.0) as usize;
        let x1 = ((cx + r).ceil().max(0.0) as usize).min(canvas.w);
        let y1 = ((cy + r).ceil().max(0.0) as usize).min(canvas.h);
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                let d = (dx * dx + dy * dy).sqrt() / r;
                if d >= 1.0 {
                    continue;
                }
                let t = ((1.0 - d) * (1.0 - d) * (3.0 - 2.0 * (1.0 - d))) as f32;
                let i = y * canvas.w + x;
                let amount = canvas.inked[i] * t * 0.9;
                canvas.blend(i, accent, amount);
            }
        }
    }
}
