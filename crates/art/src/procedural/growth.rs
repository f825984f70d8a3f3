//! `growth`: a branching organism that grows tip by tip from seeded roots, meandering,
//! splitting and steering away from itself until it fills its space.
//!
//! The simulation is one deterministic loop; stage s simply runs it for more iterations
//! ([`iterations`]), so stage N's organism contains stage N-1's. Branches are drawn with
//! the pipe model (a branch is as thick as the growth it carries), so old wood thickens as
//! the organism grows; each part is coloured by when it grew (growth rings along the
//! palette). Live tips carry buds; from stage 2 the tips that stopped growing blossom.

use std::f64::consts::TAU;

use super::canvas::Canvas;
use super::noise::Noise;
use super::palette::{lerp, scale};
use super::{Job, Rendered, grade};
use crate::engine::Attribute;
use crate::error::ArtError;

const MARGIN: f64 = 0.06;
const NONE: u32 = u32::MAX;
/// Iteration at which colour reaches the end of the palette ramp (fixed, so a part's colour
/// never changes as the organism grows on).
const RAMP_ITERATIONS: f64 = 142.0;

/// Iterations the simulation runs for stage `s`.
fn iterations(stage: u32) -> u32 {
    let s = stage;
    30 + 20 * s + 2 * s * s
}

struct Node {
    x: f64,
    y: f64,
    parent: u32,
    born: u32,
}

struct Tip {
    node: u32,
    angle: f64,
    alive: bool,
}

struct Grid {
    cell: f64,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
}

impl Grid {
    fn index(&self, x: f64, y: f64) -> usize {
        let cx = ((x / self.cell).max(0.0) as usize).min(self.cols - 1);
        let cy = ((y / self.cell).max(0.0) as usize).min(self.rows - 1);
        cy * self.cols + cx
    }
}

pub(super) fn render(job: &mut Job<'_>) -> Result<Rendered, ArtError> {
    let pal = job.palette();
    let (w, h) = (job.width, job.height);
    let unit = w.min(h) as f64;
    let (uw, uh) = (w as f64 / unit, h as f64 / unit);
    let roots = job.params.int("roots");
    let density = job.params.get("density");
    let branching = job.params.get("branching");
    let spread = job.params.get("spread");
    let wander = job.params.get("wander");
    let weight = job.params.get("weight");
    let total_iter = iterations(job.stage);
    const BATCH: u32 = 10;
    let sim_steps = total_iter.div_ceil(BATCH);
    job.begin(sim_steps + 3, "growing")?;

    let step = 0.0055;
    let d_min = 0.017 / density;
    let lineage = (3.0 * d_min / step).ceil() as usize + 2;
    let mut rng = job.rng("growth");
    let field = Noise::new(&mut rng);
    let mut grid = Grid {
        cell: d_min * 2.0,
        cols: (uw / (d_min * 2.0)).ceil() as usize + 1,
        rows: (uh / (d_min * 2.0)).ceil() as usize + 1,
        cells: Vec::new(),
    };
    grid.cells = vec![Vec::new(); grid.cols * grid.rows];
    let mut nodes: Vec<Node> = Vec::new();
    let mut tips: Vec<Tip> = Vec::new();

    // Roots: spread over the inner area, never too close to each other.
    let mut placed: Vec<(f64, f64)> = Vec::new();
    for _ in 0..roots {
        let mut best = (uw / 2.0, uh / 2.0);
        let mut best_d = -1.0;
        for attempt in 0..12 {
            let (x, y) = if roots == 1 && attempt == 0 {
                (uw / 2.0 + rng.range(-0.08, 0.08), uh / 2.0 + rng.range(-0.08, 0.08))
            } else {
                (rng.range(0.2, uw - 0.2), rng.range(0.2, uh - 0.2))
            };
            // sqrt, not hypot: hypot comes from the platform's libm and may differ between machines.
            let d = placed
                .iter()
                .map(|&(px, py)| ((px - x) * (px - x) + (py - y) * (py - y)).sqrt())
                .fold(f64::MAX, f64::min);
            if d > best_d {
                best = (x, y);
                best_d = d;
            }
        }
        placed.push(best);
        let id = nodes.len() as u32;
        nodes.push(Node { x: best.0, y: best.1, parent: NONE, born: 0 });
        let gi = grid.index(best.0, best.1);
        grid.cells[gi].push(id);
        let arms = 3 + rng.below(2);
        let turn = rng.range(0.0, TAU);
        for k in 0..arms {
            let angle = turn + TAU * k as f64 / arms as f64 + rng.range(-0.3, 0.3);
            tips.push(Tip { node: id, angle, alive: true });
        }
    }

    let ancestors = |nodes: &[Node], mut id: u32, out: &mut Vec<u32>| {
        out.clear();
        for _ in 0..lineage {
            if id == NONE {
                break;
            }
            out.push(id);
            id = nodes[id as usize].parent;
        }
    };
    let mut mine = Vec::with_capacity(lineage);
    let mut theirs = Vec::with_capacity(lineage);
    let inside = |x: f64, y: f64| x > MARGIN && x < uw - MARGIN && y > MARGIN && y < uh - MARGIN;

    for iter in 1..=total_iter {
        let count = tips.len();
        for t in 0..count {
            if !tips[t].alive {
                continue;
            }
            let from = tips[t].node;
            let (x, y) = (nodes[from as usize].x, nodes[from as usize].y);
            ancestors(&nodes, from, &mut mine);
            // Look around: steer away from crowding, note the nearest stranger.
            let related = |q: u32, theirs: &mut Vec<u32>| {
                ancestors(&nodes, q, theirs);
                theirs.iter().any(|a| mine.contains(a))
            };
            let mut push = (0.0, 0.0);
            let gi = grid.index(x, y);
            let (gx, gy) = (gi % grid.cols, gi / grid.cols);
            for cy in gy.saturating_sub(1)..=(gy + 1).min(grid.rows - 1) {
                for cx in gx.saturating_sub(1)..=(gx + 1).min(grid.cols - 1) {
                    for &q in &grid.cells[cy * grid.cols + cx] {
                        let n = &nodes[q as usize];
                        let (dx, dy) = (x - n.x, y - n.y);
                        let d2 = dx * dx + dy * dy;
                        if d2 < (2.0 * d_min) * (2.0 * d_min) && d2 > 0.0 && !related(q, &mut theirs) {
                            push.0 += dx / d2;
                            push.1 += dy / d2;
                        }
                    }
                }
            }
            let mut angle = tips[t].angle;
            angle += wander * (0.22 * field.fbm(x * 3.0, y * 3.0, 2) + 0.10 * rng.normal());
            let pl = (push.0 * push.0 + push.1 * push.1).sqrt();
            if pl > 0.0 {
                // Turn part of the way towards the free side.
                let (fx, fy) = (push.0 / pl, push.1 / pl);
                let (cx, cy) = (libm::cos(angle), libm::sin(angle));
                let cross = cx * fy - cy * fx;
                angle += 0.35 * cross;
            }
            // Try straight on, then a little to either side.
            let mut grown = None;
            for da in [0.0, 0.4, -0.4] {
                let a = angle + da;
                let (nx, ny) = (x + libm::cos(a) * step, y + libm::sin(a) * step);
                if !inside(nx, ny) {
                    continue;
                }
                let gi = grid.index(nx, ny);
                let (gx, gy) = (gi % grid.cols, gi / grid.cols);
                let mut hit = false;
                'scan: for cy in gy.saturating_sub(1)..=(gy + 1).min(grid.rows - 1) {
                    for cx in gx.saturating_sub(1)..=(gx + 1).min(grid.cols - 1) {
                        for &q in &grid.cells[cy * grid.cols + cx] {
                            let n = &nodes[q as usize];
                            let (dx, dy) = (nx - n.x, ny - n.y);
                            if dx * dx + dy * dy < d_min * d_min && !related(q, &mut theirs) {
                                hit = true;
                                break 'scan;
                            }
                        }
                    }
                }
                if !hit {
                    grown = Some((nx, ny, a));
                    break;
                }
            }
            let Some((nx, ny, a)) = grown else {
                tips[t].alive = false;
                continue;
            };
            let id = nodes.len() as u32;
            nodes.push(Node { x: nx, y: ny, parent: from, born: iter });
            let gi = grid.index(nx, ny);
            grid.cells[gi].push(id);
            tips[t].node = id;
            tips[t].angle = a;
            if rng.chance(0.055 * branching) {
                let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
                let ba = a + side * spread * rng.range(0.75, 1.25);
                tips.push(Tip { node: id, angle: ba, alive: true });
                tips[t].angle = a - side * spread * 0.25;
            }
        }
        if iter % BATCH == 0 || iter == total_iter {
            job.step("growing")?;
        }
    }

    // Pipe model: each node carries the growth below it.
    let mut carried = vec![1.0f64; nodes.len()];
    for i in (0..nodes.len()).rev() {
        let p = nodes[i].parent;
        if p != NONE {
            carried[p as usize] += carried[i];
        }
    }
    let base_r = 0.0011 * weight;
    let radius = |i: usize| (base_r * (0.6 + 0.5 * libm::pow(carried[i], 0.45))).min(0.014 * weight) * unit;

    let mut canvas = Canvas::paper(w, h, pal.paper, pal.dark, &mut job.rng("paper"));
    job.step("painting")?;
    // A soft shadow under everything, then the wood, oldest first.
    let (sx, sy) = (0.0035 * unit, 0.0045 * unit);
    let shadow = if pal.dark { scale(pal.paper, 0.45) } else { scale(pal.paper, 0.72) };
    for (i, n) in nodes.iter().enumerate() {
        if n.parent == NONE {
            continue;
        }
        let p = &nodes[n.parent as usize];
        canvas.capsule(
            (p.x * unit + sx, p.y * unit + sy),
            (n.x * unit + sx, n.y * unit + sy),
            radius(n.parent as usize) * 1.15,
            radius(i) * 1.15,
        );
    }
    canvas.ink(shadow, 0.45, 0.1);
    job.step("painting")?;
    for (i, n) in nodes.iter().enumerate() {
        if n.parent == NONE {
            continue;
        }
        let p = &nodes[n.parent as usize];
        let c = pal.ramp((f64::from(n.born) / RAMP_ITERATIONS) as f32 * 0.95);
        canvas.capsule((p.x * unit, p.y * unit), (n.x * unit, n.y * unit), radius(n.parent as usize), radius(i));
        canvas.ink(c, 1.0, 0.12);
    }
    for &(x, y) in &placed {
        canvas.disc((x * unit, y * unit), 0.006 * weight * unit);
        canvas.ink(pal.inks[0], 1.0, 0.1);
    }

    // Tips: buds on live ones; blossoms on resting ones from stage 2.
    let mut brng = job.rng("blossoms");
    let mut blossoms = 0usize;
    for tip in &tips {
        let n = &nodes[tip.node as usize];
        let c = (n.x * unit, n.y * unit);
        let r = radius(tip.node as usize);
        if tip.alive {
            canvas.disc(c, (r * 2.2).max(0.0035 * unit));
            canvas.ink(lerp(pal.accent, pal.paper, 0.15), 0.95, 0.05);
        } else if job.stage >= 2 && brng.chance(0.3) {
            blossoms += 1;
            let size = unit * 0.0075 * (1.0 + 0.2 * f64::from(job.stage - 2)).min(2.2) * brng.range(0.7, 1.3);
            let petals = 5;
            let turn = brng.range(0.0, TAU);
            for k in 0..petals {
                let a = turn + TAU * f64::from(k) / f64::from(petals);
                let p = (c.0 + libm::cos(a) * size, c.1 + libm::sin(a) * size);
                canvas.disc(p, size * 0.62);
            }
            let tint = brng.range(0.0, 0.35) as f32;
            canvas.ink(lerp(pal.accent, pal.inks[4], tint), 0.88, 0.1);
            canvas.disc(c, size * 0.38);
            canvas.ink(lerp(pal.accent, [1.0, 1.0, 1.0], 0.55), 1.0, 0.0);
        }
    }
    job.step("painting")?;

    let alive = tips.iter().filter(|t| t.alive).count();
    let attributes = vec![
        Attribute::new("Roots", roots.to_string()),
        Attribute::new("Habit", grade(spread, 0.45, 0.9, ["Upright", "Open", "Sprawling"])),
        Attribute::new("Density", grade(density, 0.8, 1.4, ["Airy", "Balanced", "Dense"])),
        Attribute::new("Growing Tips", alive.to_string()),
        Attribute::new("Blossoms", blossoms.to_string()),
    ];
    Ok(Rendered { image: canvas.to_image(), attributes })
}
