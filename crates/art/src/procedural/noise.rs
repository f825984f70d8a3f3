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
        let xf = floor(x);
        let yf = floor(y);
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

/// `libm::floor(x)`, bit for bit, in a few instructions: a truncating conversion, corrected
/// by one for negative non-integers (`copysign` keeps the sign of -0.0 and of (-1, 0)).
/// libm's portable floor manipulates the bits with several branches; the paper texture calls
/// this ten times per pixel. Values too large for the conversion (and NaN, infinities) go to
/// libm.
#[inline(always)]
fn floor(x: f64) -> f64 {
    // 2^52: from here on every f64 is an integer.
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = (x as i64 as f64).copysign(x);
        if t > x { t - 1.0 } else { t }
    } else {
        libm::floor(x)
    }
}

fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_equals_libm_floor_bit_for_bit() {
        let mut rng = Rng::new(4, "test", "floor");
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            -1e-300,
            1e-300,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            -4_503_599_627_370_497.0,
            9.3e18,
            -9.3e18,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for _ in 0..100_000 {
            let scale = [1.0, 300.0, 1e6, 1e15][rng.below(4)];
            xs.push(rng.range(-scale, scale));
            // Integers and their neighbours one ulp either side.
            let i = (rng.range(-1e6, 1e6)).round();
            xs.extend([i, i.next_up(), i.next_down()]);
        }
        for x in xs {
            assert_eq!(floor(x).to_bits(), libm::floor(x).to_bits(), "floor({x:e})");
        }
    }
}
