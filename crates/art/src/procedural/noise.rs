//! Seeded 2-D gradient noise (improved Perlin with a quintic fade) and fractal sums of it.
//! Only `+ - * floor` on f64: the same bits on every machine.

use super::rng::Rng;

pub struct Noise {
    perm: [u8; 512],
    grad: [(f64, f64); 16],
}

impl Noise {
    pub fn new(rng: &mut Rng) -> Self {
        let mut p: [u8; 256] = std::array::from_fn(|i| i as u8);
        for i in (1..256).rev() {
            let j = rng.below(i + 1);
            p.swap(i, j);
        }
        let perm = std::array::from_fn(|i| p[i & 255]);
        let grad = std::array::from_fn(|i| {
            let a = (i as f64 + 0.5) * std::f64::consts::TAU / 16.0;
            (libm::cos(a), libm::sin(a))
        });
        Self { perm, grad }
    }

    /// Noise in roughly [-1, 1], smooth, with period 256 in each axis.
    pub fn get(&self, x: f64, y: f64) -> f64 {
        let xf = libm::floor(x);
        let yf = libm::floor(y);
        let xi = (xf as i64 & 255) as usize;
        let yi = (yf as i64 & 255) as usize;
        let (dx, dy) = (x - xf, y - yf);
        let g = |ix: usize, iy: usize, ox: f64, oy: f64| {
            let h = self.perm[self.perm[ix] as usize + iy] as usize & 15;
            let (gx, gy) = self.grad[h];
            gx * ox + gy * oy
        };
        let n00 = g(xi, yi, dx, dy);
        let n10 = g(xi + 1, yi, dx - 1.0, dy);
        let n01 = g(xi, yi + 1, dx, dy - 1.0);
        let n11 = g(xi + 1, yi + 1, dx - 1.0, dy - 1.0);
        let u = fade(dx);
        let v = fade(dy);
        let a = n00 + u * (n10 - n00);
        let b = n01 + u * (n11 - n01);
        (a + v * (b - a)) * 1.41
    }

    /// Fractal sum of `octaves` octaves, each rotated and offset so their grids never align.
    pub fn fbm(&self, x: f64, y: f64, octaves: u32) -> f64 {
        let (mut sum, mut amp, mut norm) = (0.0, 1.0, 0.0);
        let (mut x, mut y) = (x, y);
        for o in 0..octaves {
            sum += amp * self.get(x + 17.3 * o as f64, y - 31.7 * o as f64);
            norm += amp;
            amp *= 0.5;
            // rotate by ~36.87° (3-4-5 triangle: exact rationals) and scale by 2
            let nx = 1.6 * x - 1.2 * y;
            let ny = 1.2 * x + 1.6 * y;
            x = nx;
            y = ny;
        }
        sum / norm
    }
}

fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}
