//! `reaction-diffusion`: a Gray-Scott reaction (Karl Sims' formulation) spreading from
//! seeded colonies over a grid whose resolution is fixed by the `scale` parameter (not by
//! the output size), rendered at the output size with bicubic sampling, antialiased edges,
//! a bevel and a cast shadow, like layered cut paper.
//!
//! Every cell records when the reaction's front reached it. Stage s shows the territory
//! reached by [`reach`]`(s)` iterations, with the pattern as it stands [`MATURE`] iterations
//! later, so what is shown has matured. The moment an earlier stage's picture is taken,
//! the cells it shows settle for good (keep their values), so stage N shows everything
//! stage N-1 showed, exactly, plus the next band of growth. Each
//! part is coloured by when the front reached it, on a fixed scale: the picture shows its
//! own growth rings.
//!
//! The grid wraps around (a torus), so no pattern lines up against the picture's edges.
//! Updates are Jacobi-style (every cell reads the previous grid only), in f32, in a fixed
//! order: the same bits on every machine.

use super::canvas::{Canvas, smoothstep};
use super::palette::{lerp, scale};
use super::{Job, Rendered};
use crate::engine::Attribute;
use crate::error::ArtError;

/// A named (feed, kill) pair.
struct Pattern {
    name: &'static str,
    feed: f32,
    kill: f32,
}

const PATTERNS: [Pattern; 5] = [
    Pattern { name: "Ripples", feed: 0.042, kill: 0.059 },
    Pattern { name: "Fingerprint", feed: 0.037, kill: 0.06 },
    Pattern { name: "Lace", feed: 0.029, kill: 0.057 },
    Pattern { name: "Maze", feed: 0.025, kill: 0.055 },
    Pattern { name: "Coral", feed: 0.0545, kill: 0.062 },
];
const BATCH: u32 = 100;
const THRESHOLD: f32 = 0.2;
/// B level at which the front counts as having reached a cell.
const REACHED: f32 = 0.05;
/// Diffusion rate of A (B diffuses at half of it): sets the pattern's feature size.
const DIFFUSION: f32 = 0.8;
/// Iterations the pattern runs on after the front passed the edge of what is shown.
const MATURE: u32 = 1200;
/// Width, in iterations of front travel, of the soft edge of what is shown.
const EDGE: f32 = 160.0;

/// Iterations the front travels for stage `s`.
fn reach(stage: u32) -> u32 {
    500 + 650 * stage
}

pub(super) fn render(job: &mut Job<'_>) -> Result<Rendered, ArtError> {
    let pal = job.palette();
    let (w, h) = (job.width, job.height);
    let unit = w.min(h) as f64;
    let pattern = job.params.int("pattern");
    let colonies = job.params.int("colonies");
    let fscale = job.params.get("scale");
    let relief = job.params.get("relief") as f32;
    let pat = &PATTERNS[pattern];
    let (feed, kill) = (pat.feed, pat.kill);

    // Grid: `cells` cells across the short side, whatever the output size.
    let cells = (190.0 / fscale).round();
    let gw = ((w as f64 / unit) * cells).round() as usize;
    let gh = ((h as f64 / unit) * cells).round() as usize;
    let n = gw * gh;
    let shown_until = reach(job.stage);
    let total_iter = shown_until + MATURE;
    let render_bands = 8u32;
    job.begin(total_iter.div_ceil(BATCH) + render_bands, "reacting")?;

    let mut a = vec![1.0f32; n];
    let mut b = vec![0.0f32; n];
    let mut rng = job.rng("colonies");
    for _ in 0..colonies {
        let cx = rng.range(0.0, 1.0) * gw as f64;
        let cy = rng.range(0.0, 1.0) * gh as f64;
        let r = rng.range(2.5, 4.5);
        let ri = r.ceil() as i64;
        for dy in -ri..=ri {
            for dx in -ri..=ri {
                let x = (cx as i64 + dx).rem_euclid(gw as i64) as usize;
                let y = (cy as i64 + dy).rem_euclid(gh as i64) as usize;
                let d = ((dx * dx + dy * dy) as f64).sqrt();
                if d <= r && rng.chance(0.8) {
                    b[y * gw + x] = 1.0;
                    a[y * gw + x] = 0.5;
                }
            }
        }
    }

    let mut reached = vec![u32::MAX; n];
    let mut settled = vec![false; n];
    // When each earlier stage's picture is taken, what it shows settles for good.
    let settle: Vec<(u32, u32)> = (0..job.stage).map(|k| (reach(k) + MATURE, reach(k) + (EDGE / 2.0) as u32)).collect();
    let (mut na, mut nb) = (a.clone(), b.clone());
    let mut any_settled = false;
    for iter in 1..=total_iter {
        for y in 0..gh {
            let mut cells = Cells { a: &a, b: &b, na: &mut na, nb: &mut nb, reached: &mut reached, settled: &settled };
            cells.step_row(gw, gh, y, (feed, kill), iter, any_settled);
        }
        std::mem::swap(&mut a, &mut na);
        std::mem::swap(&mut b, &mut nb);
        for &(at, by) in &settle {
            if at == iter {
                for (s, &r) in settled.iter_mut().zip(&reached) {
                    *s |= r <= by;
                }
                any_settled = settled.iter().any(|&s| s);
            }
        }
        if iter % BATCH == 0 || iter == total_iter {
            job.step("reacting")?;
        }
    }

    // What is shown: the pattern where the front arrived by `shown_until`, fading out over
    // EDGE iterations of travel. Colour position: when the front arrived (stage 4 = the end
    // of the palette), taken from a reached neighbour for cells never reached.
    let ramp_end = reach(4) as f32;
    let mut shown = vec![0.0f32; n];
    let mut when = vec![0.0f32; n];
    for y in 0..gh {
        for x in 0..gw {
            let i = y * gw + x;
            let mut r = reached[i];
            if r == u32::MAX {
                for (dx, dy) in [(-1i64, -1i64), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                    let nx = (x as i64 + dx).rem_euclid(gw as i64) as usize;
                    let ny = (y as i64 + dy).rem_euclid(gh as i64) as usize;
                    r = r.min(reached[ny * gw + nx]);
                }
            }
            if r != u32::MAX {
                shown[i] = ((shown_until as f32 + EDGE * 0.5 - r as f32) / EDGE).clamp(0.0, 1.0);
                when[i] = r as f32 / ramp_end;
            }
        }
    }
    let b: Vec<f32> = b.iter().zip(&shown).map(|(&v, &s)| v * s).collect();
    let age_f = when;
    // Height: a soft plateau where the reaction lives.
    let height: Vec<f32> = b.iter().map(|&v| smoothstep(THRESHOLD - 0.04, THRESHOLD + 0.06, v)).collect();

    let mut canvas = Canvas::paper(w, h, pal.paper, pal.dark, &mut job.rng("paper"));
    let sx = gw as f32 / w as f32;
    let sy = gh as f32 / h as f32;
    let light = (-0.6f32, -0.8f32);
    let shadow_off = 1.3f32;
    let shadow_col = if pal.dark { scale(pal.paper, 0.35) } else { scale(pal.paper, 0.62) };
    let band = h.div_ceil(render_bands as usize);
    let mut covered = 0usize;
    // Every sample below is separable: the horizontal half of each (per grid row, per output
    // column) is computed once into a table, and each pixel only combines 2-4 table rows.
    // The tables hold exactly the values the direct samplers ([`bicubic`], [`bilinear`])
    // compute inside their loops, combined in the same order, so the bits are the same.
    let e = 0.5 * sx.max(sy);
    let gxs: Vec<f32> = (0..w).map(|x| (x as f32 + 0.5) * sx - 0.5).collect();
    let cubic = CubicRows::new(&b, gw, gh, gxs.iter().copied());
    let cubic_right = CubicRows::new(&b, gw, gh, gxs.iter().map(|&gx| gx + e));
    let cubic_left = CubicRows::new(&b, gw, gh, gxs.iter().map(|&gx| gx - e));
    let linear_height = |xs: &mut dyn Iterator<Item = f32>| LinearRows::new(&height, gw, gh, xs);
    let shadow_x = linear_height(&mut gxs.iter().map(|&gx| gx - shadow_off * light.0));
    let height_right = linear_height(&mut gxs.iter().map(|&gx| gx + 0.7));
    let height_left = linear_height(&mut gxs.iter().map(|&gx| gx - 0.7));
    let height_mid = linear_height(&mut gxs.iter().copied());
    let age = LinearRows::new(&age_f, gw, gh, &mut gxs.iter().copied());
    for y0 in (0..h).step_by(band) {
        for y in y0..(y0 + band).min(h) {
            let gy = (y as f32 + 0.5) * sy - 0.5;
            let (cy, cy_down, cy_up) = (CubicY::new(gy, gh), CubicY::new(gy + e, gh), CubicY::new(gy - e, gh));
            let shadow_y = LinearY::new(gy - shadow_off * light.1, gh);
            let (ly, ly_down, ly_up) = (LinearY::new(gy, gh), LinearY::new(gy + 0.7, gh), LinearY::new(gy - 0.7, gh));
            for x in 0..w {
                let v = cubic.sample(&cy, x);
                let gvx = cubic_right.sample(&cy, x) - cubic_left.sample(&cy, x);
                let gvy = cubic.sample(&cy_down, x) - cubic.sample(&cy_up, x);
                let grad = (gvx * gvx + gvy * gvy).sqrt();
                let aa = (grad * 0.6).max(0.004);
                let mask = smoothstep(THRESHOLD - aa, THRESHOLD + aa, v);
                let i = y * w + x;
                // Cast shadow on the paper.
                let hs = shadow_x.sample(&shadow_y, x);
                if hs > 0.0 {
                    canvas.blend(i, shadow_col, 0.42 * relief.min(1.5) * hs * (1.0 - mask));
                }
                if mask > 0.0 {
                    covered += 1;
                    let hx = height_right.sample(&ly, x) - height_left.sample(&ly, x);
                    let hy = height_mid.sample(&ly_down, x) - height_mid.sample(&ly_up, x);
                    let bevel = -(hx * light.0 + hy * light.1) * 0.55 * relief;
                    let t = age.sample(&ly, x);
                    let mut c = pal.ramp(t.min(1.0) * 0.98);
                    // A lighter heart where the reaction is strongest.
                    let core = smoothstep(0.3, 0.45, v);
                    c = lerp(c, lerp(c, [1.0, 1.0, 1.0], 0.35), core * 0.3);
                    let c = if bevel > 0.0 {
                        lerp(c, [1.0, 1.0, 1.0], bevel.min(0.6))
                    } else {
                        scale(c, 1.0 + bevel.max(-0.6))
                    };
                    canvas.blend(i, c, mask);
                }
            }
        }
        job.step("painting")?;
    }
    let image = canvas.to_image();
    let coverage = covered as f64 / (w * h) as f64;
    let bloom = match coverage {
        c if c < 0.15 => "Seedling",
        c if c < 0.35 => "Spreading",
        c if c < 0.55 => "Flourishing",
        _ => "Overgrown",
    };
    let attributes = vec![
        Attribute::new("Pattern", pat.name),
        Attribute::new("Colonies", colonies.to_string()),
        Attribute::new("Growth", bloom),
    ];
    Ok(Rendered { image, attributes })
}

/// The grids one update reads and writes.
struct Cells<'a> {
    a: &'a [f32],
    b: &'a [f32],
    na: &'a mut [f32],
    nb: &'a mut [f32],
    /// Iteration at which the front first reached the cell, or `u32::MAX`.
    reached: &'a mut [u32],
    /// Cells an earlier stage showed: they keep their values.
    settled: &'a [bool],
}

impl Cells<'_> {
    /// One Gray-Scott update of row `y` (neighbours wrap around the grid's edges).
    ///
    /// Written for the vectoriser: the interior (columns 1..gw-1) is one branch-free loop
    /// over slices of equal length, so each lane performs the same f32 operations in the same
    /// order as a scalar update and the bits do not change. Settled cells and the first
    /// arrival of the front are handled in a second, cheap pass over the row (settled cells
    /// get their old values back, so what the first pass wrote for them never counts).
    #[inline(always)]
    fn step_row(&mut self, gw: usize, gh: usize, y: usize, (feed, kill): (f32, f32), iter: u32, any_settled: bool) {
        let (ru, rc, rd) = (((y + gh - 1) % gh) * gw, y * gw, ((y + 1) % gh) * gw);
        let (a, b) = (self.a, self.b);
        let rows = Rows {
            au: &a[ru..ru + gw],
            ac: &a[rc..rc + gw],
            ad: &a[rd..rd + gw],
            bu: &b[ru..ru + gw],
            bc: &b[rc..rc + gw],
            bd: &b[rd..rd + gw],
        };
        let na = &mut self.na[rc..rc + gw];
        let nb = &mut self.nb[rc..rc + gw];
        // The edge columns wrap: their left/right neighbours are on the other side.
        let last = gw - 1;
        let (first_l, first_r) = (last, if gw > 1 { 1 } else { 0 });
        (na[0], nb[0]) = rows.update(first_l, 0, first_r, feed, kill);
        if gw > 2 {
            rows.update_interior(&mut na[1..last], &mut nb[1..last], feed, kill);
        }
        if gw > 1 {
            (na[last], nb[last]) = rows.update(last - 1, last, 0, feed, kill);
        }
        let reached = &mut self.reached[rc..rc + gw];
        if any_settled {
            let settled = &self.settled[rc..rc + gw];
            for x in 0..gw {
                if settled[x] {
                    na[x] = rows.ac[x];
                    nb[x] = rows.bc[x];
                } else if nb[x] > REACHED && reached[x] == u32::MAX {
                    reached[x] = iter;
                }
            }
        } else {
            for (r, &v) in reached.iter_mut().zip(nb.iter()) {
                if v > REACHED && *r == u32::MAX {
                    *r = iter;
                }
            }
        }
    }
}

/// The three rows of A and B one row update reads.
struct Rows<'a> {
    au: &'a [f32],
    ac: &'a [f32],
    ad: &'a [f32],
    bu: &'a [f32],
    bc: &'a [f32],
    bd: &'a [f32],
}

impl Rows<'_> {
    /// The updated (A, B) of column `x` with left/right neighbours `l`/`r`, before settling.
    #[inline(always)]
    fn update(&self, l: usize, x: usize, r: usize, feed: f32, kill: f32) -> (f32, f32) {
        let (ac, au, ad, bc, bu, bd) = (self.ac, self.au, self.ad, self.bc, self.bu, self.bd);
        cell(
            [au[l], au[x], au[r], ac[l], ac[x], ac[r], ad[l], ad[x], ad[r]],
            [bu[l], bu[x], bu[r], bc[l], bc[x], bc[r], bd[l], bd[x], bd[r]],
            feed,
            kill,
        )
    }

    /// Updates columns 1..gw-1 into `na`/`nb` (both gw-2 long).
    #[inline(always)]
    fn update_interior(&self, na: &mut [f32], nb: &mut [f32], feed: f32, kill: f32) {
        let n = na.len();
        // Nine equal-length views per grid (left, centre, right of the row above, this row
        // and the row below): indexing them with i < n needs no bounds checks.
        fn views(g: &[f32], n: usize) -> [&[f32]; 3] {
            [&g[..n], &g[1..n + 1], &g[2..n + 2]]
        }
        let ([aul, auc, aur], [acl, acc, acr]) = (views(self.au, n), views(self.ac, n));
        let ([adl, adc, adr], [bul, buc, bur]) = (views(self.ad, n), views(self.bu, n));
        let ([bcl, bcc, bcr], [bdl, bdc, bdr]) = (views(self.bc, n), views(self.bd, n));
        let nb = &mut nb[..n];
        for i in 0..n {
            (na[i], nb[i]) = cell(
                [aul[i], auc[i], aur[i], acl[i], acc[i], acr[i], adl[i], adc[i], adr[i]],
                [bul[i], buc[i], bur[i], bcl[i], bcc[i], bcr[i], bdl[i], bdc[i], bdr[i]],
                feed,
                kill,
            );
        }
    }
}

/// One cell's Gray-Scott update from its 3x3 neighbourhoods of A and B (row above, this row,
/// row below; left, centre, right), clamped to [0, 1].
#[inline(always)]
fn cell(a: [f32; 9], b: [f32; 9], feed: f32, kill: f32) -> (f32, f32) {
    let (da, db) = (DIFFUSION, DIFFUSION * 0.5);
    let [aul, auc, aur, acl, ai, acr, adl, adc, adr] = a;
    let [bul, buc, bur, bcl, bi, bcr, bdl, bdc, bdr] = b;
    let lap_a = 0.2 * (acl + acr + auc + adc) + 0.05 * (aul + aur + adl + adr) - ai;
    let lap_b = 0.2 * (bcl + bcr + buc + bdc) + 0.05 * (bul + bur + bdl + bdr) - bi;
    let abb = ai * bi * bi;
    let nav = (ai + da * lap_a - abb + feed * (1.0 - ai)).clamp(0.0, 1.0);
    let nbv = (bi + db * lap_b + abb - (kill + feed) * bi).clamp(0.0, 1.0);
    (nav, nbv)
}

/// Grid coordinate `v` wrapped onto 0..n (the grid is a torus).
fn wrap(v: i64, n: usize) -> usize {
    v.rem_euclid(n as i64) as usize
}

/// `g` at integer grid position (x, y), wrapping around.
#[cfg(test)]
fn at(g: &[f32], gw: usize, gh: usize, x: i64, y: i64) -> f32 {
    g[wrap(y, gh) * gw + wrap(x, gw)]
}

/// Bilinear sample of `g` at (x, y): the reference the tables must equal.
#[cfg(test)]
fn bilinear(g: &[f32], gw: usize, gh: usize, x: f32, y: f32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (tx, ty) = (x - xf, y - yf);
    let (xi, yi) = (xf as i64, yf as i64);
    let a = at(g, gw, gh, xi, yi) + (at(g, gw, gh, xi + 1, yi) - at(g, gw, gh, xi, yi)) * tx;
    let b = at(g, gw, gh, xi, yi + 1) + (at(g, gw, gh, xi + 1, yi + 1) - at(g, gw, gh, xi, yi + 1)) * tx;
    a + (b - a) * ty
}

/// Catmull-Rom bicubic sample of `g` at (x, y): the reference the tables must equal.
#[cfg(test)]
fn bicubic(g: &[f32], gw: usize, gh: usize, x: f32, y: f32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (tx, ty) = (x - xf, y - yf);
    let (xi, yi) = (xf as i64, yf as i64);
    let wx = cr_weights(tx);
    let wy = cr_weights(ty);
    let mut sum = 0.0;
    for (j, wyj) in wy.iter().enumerate() {
        let mut row = 0.0;
        for (i, wxi) in wx.iter().enumerate() {
            row += wxi * at(g, gw, gh, xi - 1 + i as i64, yi - 1 + j as i64);
        }
        sum += wyj * row;
    }
    sum
}

/// The horizontal half of a bicubic sample at fixed x positions (one per output column):
/// `rows[r * w + x]` is the weighted sum over the four grid cells of row `r` around `xs[x]`,
/// accumulated in the same order as [`bicubic`]'s inner loop.
struct CubicRows {
    w: usize,
    rows: Vec<f32>,
}

impl CubicRows {
    fn new(g: &[f32], gw: usize, gh: usize, xs: impl Iterator<Item = f32>) -> Self {
        let cols: Vec<([usize; 4], [f32; 4])> = xs
            .map(|x| {
                let xf = x.floor();
                let xi = xf as i64;
                (std::array::from_fn(|i| wrap(xi - 1 + i as i64, gw)), cr_weights(x - xf))
            })
            .collect();
        let w = cols.len();
        let mut rows = vec![0.0f32; gh * w];
        for (grid_row, out) in g.chunks_exact(gw).zip(rows.chunks_exact_mut(w)) {
            for ((idx, wx), o) in cols.iter().zip(out.iter_mut()) {
                let mut row = 0.0;
                for (i, wxi) in wx.iter().enumerate() {
                    row += wxi * grid_row[idx[i]];
                }
                *o = row;
            }
        }
        Self { w, rows }
    }

    /// The bicubic sample at column `x` (its table position) and the row weights `y`.
    #[inline(always)]
    fn sample(&self, y: &CubicY, x: usize) -> f32 {
        let mut sum = 0.0;
        for (j, wyj) in y.weights.iter().enumerate() {
            sum += wyj * self.rows[y.rows[j] * self.w + x];
        }
        sum
    }
}

/// The vertical half of a bicubic sample at one y: which four grid rows, with what weights.
struct CubicY {
    rows: [usize; 4],
    weights: [f32; 4],
}

impl CubicY {
    fn new(y: f32, gh: usize) -> Self {
        let yf = y.floor();
        let yi = yf as i64;
        Self { rows: std::array::from_fn(|j| wrap(yi - 1 + j as i64, gh)), weights: cr_weights(y - yf) }
    }
}

/// The horizontal half of a bilinear sample at fixed x positions: `rows[r * w + x]` is row
/// `r` interpolated at `xs[x]`, as [`bilinear`] computes it.
struct LinearRows {
    w: usize,
    rows: Vec<f32>,
}

impl LinearRows {
    fn new(g: &[f32], gw: usize, gh: usize, xs: &mut dyn Iterator<Item = f32>) -> Self {
        let cols: Vec<(usize, usize, f32)> = xs
            .map(|x| {
                let xf = x.floor();
                let xi = xf as i64;
                (wrap(xi, gw), wrap(xi + 1, gw), x - xf)
            })
            .collect();
        let w = cols.len();
        let mut rows = vec![0.0f32; gh * w];
        for (grid_row, out) in g.chunks_exact(gw).zip(rows.chunks_exact_mut(w)) {
            for (&(x0, x1, tx), o) in cols.iter().zip(out.iter_mut()) {
                *o = grid_row[x0] + (grid_row[x1] - grid_row[x0]) * tx;
            }
        }
        Self { w, rows }
    }

    #[inline(always)]
    fn sample(&self, y: &LinearY, x: usize) -> f32 {
        let a = self.rows[y.r0 * self.w + x];
        let b = self.rows[y.r1 * self.w + x];
        a + (b - a) * y.t
    }
}

/// The vertical half of a bilinear sample at one y.
struct LinearY {
    r0: usize,
    r1: usize,
    t: f32,
}

impl LinearY {
    fn new(y: f32, gh: usize) -> Self {
        let yf = y.floor();
        let yi = yf as i64;
        Self { r0: wrap(yi, gh), r1: wrap(yi + 1, gh), t: y - yf }
    }
}

fn cr_weights(t: f32) -> [f32; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    [-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2]
}

#[cfg(test)]
mod tests {
    use super::super::rng::Rng;
    use super::*;

    /// The row update as it was first written (scalar, branching per cell): the vectorisable
    /// one must give the same bits for every cell, settled or not.
    #[allow(clippy::too_many_arguments)]
    fn step_row_reference(cells: &mut Cells<'_>, gw: usize, gh: usize, y: usize, feed: f32, kill: f32, iter: u32) {
        let (ru, rc, rd) = (((y + gh - 1) % gh) * gw, y * gw, ((y + 1) % gh) * gw);
        let (da, db) = (DIFFUSION, DIFFUSION * 0.5);
        for x in 0..gw {
            let (ai, bi) = (cells.a[rc + x], cells.b[rc + x]);
            if cells.settled[rc + x] {
                cells.na[rc + x] = ai;
                cells.nb[rc + x] = bi;
                continue;
            }
            let (l, r) = (if x == 0 { gw - 1 } else { x - 1 }, if x + 1 == gw { 0 } else { x + 1 });
            let (a, b) = (cells.a, cells.b);
            let lap_a = 0.2 * (a[rc + l] + a[rc + r] + a[ru + x] + a[rd + x])
                + 0.05 * (a[ru + l] + a[ru + r] + a[rd + l] + a[rd + r])
                - ai;
            let lap_b = 0.2 * (b[rc + l] + b[rc + r] + b[ru + x] + b[rd + x])
                + 0.05 * (b[ru + l] + b[ru + r] + b[rd + l] + b[rd + r])
                - bi;
            let abb = ai * bi * bi;
            cells.na[rc + x] = (ai + da * lap_a - abb + feed * (1.0 - ai)).clamp(0.0, 1.0);
            let nbv = (bi + db * lap_b + abb - (kill + feed) * bi).clamp(0.0, 1.0);
            cells.nb[rc + x] = nbv;
            if nbv > REACHED && cells.reached[rc + x] == u32::MAX {
                cells.reached[rc + x] = iter;
            }
        }
    }

    #[test]
    fn row_update_matches_the_scalar_reference_bit_for_bit() {
        let mut rng = Rng::new(1, "test", "cells");
        for settled_share in [0.0, 0.25] {
            for (gw, gh) in [(1, 1), (2, 3), (3, 2), (17, 5), (64, 4)] {
                let n = gw * gh;
                let a: Vec<f32> = (0..n).map(|_| rng.f64() as f32).collect();
                let b: Vec<f32> = (0..n).map(|_| if rng.chance(0.3) { 0.0 } else { rng.f64() as f32 }).collect();
                let settled: Vec<bool> = (0..n).map(|_| rng.chance(settled_share)).collect();
                let any_settled = settled.iter().any(|&s| s);
                let reached0: Vec<u32> = (0..n).map(|_| if rng.chance(0.5) { u32::MAX } else { 3 }).collect();
                let (mut na1, mut nb1, mut r1) = (vec![9.0; n], vec![9.0; n], reached0.clone());
                let (mut na2, mut nb2, mut r2) = (vec![9.0; n], vec![9.0; n], reached0);
                for pattern in &PATTERNS {
                    for y in 0..gh {
                        let mut fast =
                            Cells { a: &a, b: &b, na: &mut na1, nb: &mut nb1, reached: &mut r1, settled: &settled };
                        fast.step_row(gw, gh, y, (pattern.feed, pattern.kill), 7, any_settled);
                        let mut slow =
                            Cells { a: &a, b: &b, na: &mut na2, nb: &mut nb2, reached: &mut r2, settled: &settled };
                        step_row_reference(&mut slow, gw, gh, y, pattern.feed, pattern.kill, 7);
                    }
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    let case = format!("{gw}x{gh} grid, {} settled, {}", settled_share, pattern.name);
                    assert_eq!(bits(&na1), bits(&na2), "A differs: {case}");
                    assert_eq!(bits(&nb1), bits(&nb2), "B differs: {case}");
                    assert_eq!(r1, r2, "reached differs: {case}");
                }
            }
        }
    }

    #[test]
    fn sampling_tables_equal_the_direct_samplers_bit_for_bit() {
        let mut rng = Rng::new(2, "test", "grid");
        let (gw, gh) = (23, 17);
        let g: Vec<f32> = (0..gw * gh).map(|_| rng.range(-0.2, 1.2) as f32).collect();
        // Positions past both edges (wrapping), on cell boundaries and in between.
        let mut xs: Vec<f32> = (0..40).map(|_| rng.range(-3.0, gw as f64 + 3.0) as f32).collect();
        xs.extend([-1.0, -0.5, 0.0, 0.5, 1.0, gw as f32 - 1.0, gw as f32, gw as f32 + 0.25]);
        let ys: Vec<f32> = xs.iter().map(|&x| x * gh as f32 / gw as f32 - 0.3).collect();
        let cubic = CubicRows::new(&g, gw, gh, xs.iter().copied());
        let linear = LinearRows::new(&g, gw, gh, &mut xs.iter().copied());
        for &y in &ys {
            let (cy, ly) = (CubicY::new(y, gh), LinearY::new(y, gh));
            for (i, &x) in xs.iter().enumerate() {
                assert_eq!(
                    cubic.sample(&cy, i).to_bits(),
                    bicubic(&g, gw, gh, x, y).to_bits(),
                    "bicubic at ({x}, {y})"
                );
                assert_eq!(
                    linear.sample(&ly, i).to_bits(),
                    bilinear(&g, gw, gh, x, y).to_bits(),
                    "bilinear at ({x}, {y})"
                );
            }
        }
    }
}
