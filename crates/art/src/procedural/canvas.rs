//! A floating-point RGB canvas (sRGB-encoded values in [0, 1]) with antialiased, tapered
//! strokes and discs, a paper texture and a dithered conversion to 8 bits.
//!
//! Painting is strictly sequential, in the order the styles call it: no threads, so the
//! result never depends on scheduling.

use image::RgbImage;

use super::noise::Noise;
use super::palette::{Rgb, lerp};
use super::rng::{Rng, hash01};

pub struct Canvas {
    pub w: usize,
    pub h: usize,
    pub px: Vec<Rgb>,
    /// Per-pixel paper grain in [0, 1): modulates how much ink a pixel takes.
    grain: Vec<f32>,
    /// Coverage of the stroke being built (max over its pieces), and which pixels it touched.
    cov: Vec<f32>,
    touched: Vec<u32>,
    /// How much ink each pixel has taken (max opacity of any stroke over it).
    pub inked: Vec<f32>,
}

impl Canvas {
    /// A sheet of `paper` with a fine grain, soft fibres and a gentle vignette.
    pub fn paper(w: usize, h: usize, paper: Rgb, dark: bool, rng: &mut Rng) -> Self {
        let noise = Noise::new(rng);
        let unit = w.min(h) as f64;
        let mut px = Vec::with_capacity(w * h);
        let mut grain = Vec::with_capacity(w * h);
        let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
        let rmax = (cx * cx + cy * cy).sqrt();
        for y in 0..h {
            for x in 0..w {
                let (u, v) = (x as f64 / unit, y as f64 / unit);
                // Large, soft mottling plus fine fibres.
                let mottle = noise.fbm(u * 3.0, v * 3.0, 3) as f32;
                let fibre = noise.get(u * 90.0, v * 22.0) as f32;
                let fine = hash01(x as u32, y as u32, 7) - 0.5;
                let dx = x as f64 + 0.5 - cx;
                let dy = y as f64 + 0.5 - cy;
                let r = ((dx * dx + dy * dy).sqrt() / rmax) as f32;
                let vignette = r * r;
                let shade = if dark {
                    1.0 + 0.10 * mottle + 0.03 * fibre + 0.03 * fine - 0.35 * vignette
                } else {
                    1.0 + 0.025 * mottle + 0.012 * fibre + 0.012 * fine - 0.10 * vignette
                };
                px.push([paper[0] * shade, paper[1] * shade, paper[2] * shade]);
                grain.push((0.5 + 0.5 * noise.get(u * 140.0, v * 140.0) as f32 + fine * 0.6).clamp(0.0, 1.0));
            }
        }
        Self { w, h, px, grain, cov: vec![0.0; w * h], touched: Vec::new(), inked: vec![0.0; w * h] }
    }

    #[inline]
    pub fn blend(&mut self, i: usize, c: Rgb, a: f32) {
        let p = &mut self.px[i];
        p[0] += (c[0] - p[0]) * a;
        p[1] += (c[1] - p[1]) * a;
        p[2] += (c[2] - p[2]) * a;
    }

    /// Adds a tapered capsule (radius `ra` at `a`, `rb` at `b`, pixels) to the stroke being
    /// built. Coverage is antialiased and combined by max, so overlapping pieces of one
    /// stroke never darken each other.
    pub fn capsule(&mut self, a: (f64, f64), b: (f64, f64), ra: f64, rb: f64) {
        let rmax = ra.max(rb) + 1.0;
        let x0 = (a.0.min(b.0) - rmax).floor().max(0.0) as usize;
        let y0 = (a.1.min(b.1) - rmax).floor().max(0.0) as usize;
        let x1 = ((a.0.max(b.0) + rmax).ceil().max(0.0) as usize).min(self.w);
        let y1 = ((a.1.max(b.1) + rmax).ceil().max(0.0) as usize).min(self.h);
        let (ex, ey) = (b.0 - a.0, b.1 - a.1);
        let len2 = ex * ex + ey * ey;
        for y in y0..y1 {
            let py = y as f64 + 0.5;
            for x in x0..x1 {
                let px = x as f64 + 0.5;
                let (qx, qy) = (px - a.0, py - a.1);
                let t = if len2 > 0.0 { ((qx * ex + qy * ey) / len2).clamp(0.0, 1.0) } else { 0.0 };
                let (dx, dy) = (qx - t * ex, qy - t * ey);
                let d = (dx * dx + dy * dy).sqrt();
                let r = ra + (rb - ra) * t;
                let c = coverage(r, d);
                if c > 0.0 {
                    let i = y * self.w + x;
                    if self.cov[i] == 0.0 {
                        self.touched.push(i as u32);
                    }
                    if c > self.cov[i] {
                        self.cov[i] = c;
                    }
                }
            }
        }
    }

    /// Adds a disc to the stroke being built.
    pub fn disc(&mut self, c: (f64, f64), r: f64) {
        self.capsule(c, c, r, r);
    }

    /// Paints the stroke built so far in colour `c` at opacity `alpha`, with `tooth` (0..1)
    /// of the paper grain showing through, and starts a new stroke.
    pub fn ink(&mut self, c: Rgb, alpha: f32, tooth: f32) {
        let touched = std::mem::take(&mut self.touched);
        for &i in &touched {
            let i = i as usize;
            let a = self.cov[i] * alpha * (1.0 - tooth * self.grain[i]);
            self.blend(i, c, a);
            self.inked[i] = self.inked[i].max(a);
            self.cov[i] = 0.0;
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// Like [`Canvas::ink`] but shading towards `edge` near the stroke's rim, which gives
    /// strokes a pooled-ink look.
    pub fn ink_rimmed(&mut self, c: Rgb, edge: Rgb, alpha: f32, tooth: f32) {
        let touched = std::mem::take(&mut self.touched);
        for &i in &touched {
            let i = i as usize;
            let cov = self.cov[i];
            let a = cov * alpha * (1.0 - tooth * self.grain[i]);
            let rim = (1.0 - cov).clamp(0.0, 1.0);
            self.blend(i, lerp(c, edge, rim * 0.6), a);
            self.inked[i] = self.inked[i].max(a);
            self.cov[i] = 0.0;
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// 8-bit RGB with a tiny deterministic dither against banding.
    pub fn to_image(&self) -> RgbImage {
        let mut out = Vec::with_capacity(self.w * self.h * 3);
        for y in 0..self.h {
            for x in 0..self.w {
                let p = self.px[y * self.w + x];
                let d = hash01(x as u32, y as u32, 99) + hash01(x as u32, y as u32, 101) - 1.0;
                for ch in p {
                    let v = (ch.clamp(0.0, 1.0) * 255.0 + d * 0.75 + 0.5).clamp(0.0, 255.0);
                    out.push(v as u8);
                }
            }
        }
        RgbImage::from_raw(self.w as u32, self.h as u32, out).expect("buffer size matches")
    }
}

/// Antialiased coverage of a pixel centre at distance `d` from a shape edge of radius `r`.
#[inline]
fn coverage(r: f64, d: f64) -> f32 {
    if r >= 0.5 {
        (r + 0.5 - d).clamp(0.0, 1.0) as f32
    } else {
        // Sub-pixel lines: keep their ink (area ≈ 2r per unit length) without bloating them.
        ((1.0 - d).clamp(0.0, 1.0) * 2.0 * r) as f32
    }
}

pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}
