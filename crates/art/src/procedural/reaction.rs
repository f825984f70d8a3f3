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
    for iter in 1..=total_iter {
        for y in 0..gh {
            let mut cells = Cells { a: &a, b: &b, na: &mut na, nb: &mut nb, reached: &mut reached, settled: &settled };
            cells.step_row(gw, gh, y, feed, kill, iter);
        }
        std::mem::swap(&mut a, &mut na);
        std::mem::swap(&mut b, &mut nb);
        for &(at, by) in &settle {
            if at == iter {
                for (s, &r) in settled.iter_mut().zip(&reached) {
                    *s |= r <= by;
                }
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
    for y0 in (0..h).step_by(band) {
        for y in y0..(y0 + band).min(h) {
            let gy = (y as f32 + 0.5) * sy - 0.5;
            for x in 0..w {
                let gx = (x as f32 + 0.5) * sx - 0.5;
                let v = bicubic(&b, gw, gh, gx, gy);
                let e = 0.5 * sx.max(sy);
                let gvx = bicubic(&b, gw, gh, gx + e, gy) - bicubic(&b, gw, gh, gx - e, gy);
                let gvy = bicubic(&b, gw, gh, gx, gy + e) - bicubic(&b, gw, gh, gx, gy - e);
                let grad = (gvx * gvx + gvy * gvy).sqrt();
                let aa = (grad * 0.6).max(0.004);
                let mask = smoothstep(THRESHOLD - aa, THRESHOLD + aa, v);
                let i = y * w + x;
                // Cast shadow on the paper.
                let hs = bilinear(&height, gw, gh, gx - shadow_off * light.0, gy - shadow_off * light.1);
                if hs > 0.0 {
                    canvas.blend(i, shadow_col, 0.42 * relief.min(1.5) * hs * (1.0 - mask));
                }
                if mask > 0.0 {
                    covered += 1;
                    let hx = bilinear(&height, gw, gh, gx + 0.7, gy) - bilinear(&height, gw, gh, gx - 0.7, gy);
                    let hy = bilinear(&height, gw, gh, gx, gy + 0.7) - bilinear(&height, gw, gh, gx, gy - 0.7);
                    let bevel = -(hx * light.0 + hy * light.1) * 0.55 * relief;
                    let t = bilinear(&age_f, gw, gh, gx, gy);
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
    #[inline(always)]
    fn step_row(&mut self, gw: usize, gh: usize, y: usize, feed: f32, kill: f32, iter: u32) {
        let (ru, rc, rd) = (((y + gh - 1) % gh) * gw, y * gw, ((y + 1) % gh) * gw);
        let (a, b) = (self.a, self.b);
        let (au, ac, ad) = (&a[ru..ru + gw], &a[rc..rc + gw], &a[rd..rd + gw]);
        let (bu, bc, bd) = (&b[ru..ru + gw], &b[rc..rc + gw], &b[rd..rd + gw]);
        let na = &mut self.na[rc..rc + gw];
        let nb = &mut self.nb[rc..rc + gw];
        let reached = &mut self.reached[rc..rc + gw];
        let settled = &self.settled[rc..rc + gw];
        let (da, db) = (DIFFUSION, DIFFUSION * 0.5);
        for x in 0..gw {
            let (ai, bi) = (ac[x], bc[x]);
            if settled[x] {
                na[x] = ai;
                nb[x] = bi;
                continue;
            }
            let (l, r) = (if x == 0 { gw - 1 } else { x - 1 }, if x + 1 == gw { 0 } else { x + 1 });
            let lap_a = 0.2 * (ac[l] + ac[r] + au[x] + ad[x]) + 0.05 * (au[l] + au[r] + ad[l] + ad[r]) - ai;
            let lap_b = 0.2 * (bc[l] + bc[r] + bu[x] + bd[x]) + 0.05 * (bu[l] + bu[r] + bd[l] + bd[r]) - bi;
            let abb = ai * bi * bi;
            na[x] = (ai + da * lap_a - abb + feed * (1.0 - ai)).clamp(0.0, 1.0);
            let nbv = (bi + db * lap_b + abb - (kill + feed) * bi).clamp(0.0, 1.0);
            nb[x] = nbv;
            if nbv > REACHED && reached[x] == u32::MAX {
                reached[x] = iter;
            }
        }
    }
}

fn at(g: &[f32], gw: usize, gh: usize, x: i64, y: i64) -> f32 {
    let x = x.rem_euclid(gw as i64) as usize;
    let y = y.rem_euclid(gh as i64) as usize;
    g[y * gw + x]
}

fn bilinear(g: &[f32], gw: usize, gh: usize, x: f32, y: f32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (tx, ty) = (x - xf, y - yf);
    let (xi, yi) = (xf as i64, yf as i64);
    let a = at(g, gw, gh, xi, yi) + (at(g, gw, gh, xi + 1, yi) - at(g, gw, gh, xi, yi)) * tx;
    let b = at(g, gw, gh, xi, yi + 1) + (at(g, gw, gh, xi + 1, yi + 1) - at(g, gw, gh, xi, yi + 1)) * tx;
    a + (b - a) * ty
}

/// Catmull-Rom bicubic sample.
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

fn cr_weights(t: f32) -> [f32; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    [-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2]
}
