//! Samplers: DDIM, Euler, Euler-ancestral and LCM, written for this pipeline.
//!
//! The *noise schedule* (betas, how the model was trained: `prediction_type`, timestep
//! spacing, steps offset) comes from the model folder's `scheduler/scheduler_config.json`;
//! the *sampler* comes from the recipe. All arithmetic on scalars is `f64`, latents are
//! `f32` tensors, and the only randomness (Euler-ancestral's fresh noise) is drawn from the
//! caller's [`NormalRng`], so a step is a pure function of its inputs.
//!
//! Conventions follow diffusers where they are well defined:
//! - `alphas_cumprod[t] = Π (1 - beta_i)`, `sigma(t) = sqrt((1 - ᾱ_t) / ᾱ_t)`.
//! - Timestep spacings `leading` (`t = i * (T / n) + steps_offset`), `trailing`
//!   (`round(T - i * T / n) - 1`) and `linspace` (`i * (T - 1) / (n - 1)`), with numpy's
//!   round-half-to-even. DDIM rounds `linspace` to whole timesteps; Euler keeps them
//!   fractional and interpolates σ linearly between whole timesteps (both as diffusers).
//! - DDIM (η = 0) steps from `t` to `t − ⌊T / n⌋` (to `ᾱ = 1` when that is below 0 and
//!   `set_alpha_to_one`, else to `ᾱ_0`), as diffusers' `DDIMScheduler` does. With `leading`
//!   spacing that is the next timestep in the list; with `trailing` or `linspace` spacing
//!   it can be one or two timesteps off the list (e.g. 999 → 833 when the list says 832).
//! - Euler works in the "variance exploding" space `x / sqrt(ᾱ)`: the model sees
//!   `x / sqrt(σ² + 1)`, starting noise is scaled by `sqrt(σ_max² + 1)` (by `σ_max` for
//!   `trailing` and `linspace` spacings, as diffusers does), img2img noise by σ.
//! - LCM (diffusers' `LCMScheduler`): the timesteps are `n` of the `original_inference_steps`
//!   timesteps `k·i − 1` (`k = T / original_inference_steps`, `i = 1..=original`), taken at
//!   indices `⌊j · original / n⌋` from the highest; the model sees the latents unscaled; each
//!   step takes the DDIM x₀ estimate, applies the consistency boundary condition
//!   `denoised = c_out·x₀ + c_skip·x` with `c_skip = σ_d² / ((t·s)² + σ_d²)`,
//!   `c_out = t·s / sqrt((t·s)² + σ_d²)` (σ_d = 0.5, `s = timestep_scaling`), and re-noises
//!   `denoised` to the next timestep with fresh noise (none after the last step).
//! - img2img with strength `s` over `n` steps runs the last `clamp(floor(n·s), 1, n)` steps
//!   of the `n`-step schedule (at least one step, so a small strength still does something).

use candle_core::Tensor;
use chrysalis_core::recipe::Scheduler;

use super::rng::NormalRng;

/// What the UNet was trained to predict (`prediction_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// The added noise ε (SD 1.x, SD-Turbo).
    Epsilon,
    /// v = √ᾱ·ε − √(1−ᾱ)·x₀ (SD 2.x 768).
    VPrediction,
    /// x₀ itself.
    Sample,
}

/// How inference timesteps are spread over the training timesteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    Leading,
    Trailing,
    Linspace,
}

/// The training noise schedule of a model, from `scheduler_config.json`.
#[derive(Debug, Clone)]
pub struct NoiseSchedule {
    pub alphas_cumprod: Vec<f64>,
    pub prediction: Prediction,
    pub spacing: Spacing,
    pub steps_offset: usize,
    /// ᾱ after the last DDIM step.
    pub final_alpha_cumprod: f64,
    /// Clamp DDIM's x₀ estimate to ±this (`clip_sample`), if set.
    pub clip_sample: Option<f64>,
    /// LCM's parameters (diffusers' `LCMScheduler` defaults when the config has none).
    pub lcm: LcmParams,
}

/// The parameters only the LCM sampler reads.
#[derive(Debug, Clone, PartialEq)]
pub struct LcmParams {
    /// The distillation schedule's length (`original_inference_steps`, default 50): LCM
    /// steps are taken among its timesteps, so a run has at most this many steps.
    pub original_steps: usize,
    /// `timestep_scaling` (default 10) in the boundary-condition scalings.
    pub timestep_scaling: f64,
    /// Clamp the x₀ estimate to ±this; `LCMScheduler`'s `clip_sample` defaults to off.
    pub clip_sample: Option<f64>,
}

impl Default for LcmParams {
    fn default() -> Self {
        Self { original_steps: 50, timestep_scaling: 10.0, clip_sample: None }
    }
}

/// LCM's `σ_data` (diffusers hard-codes 0.5).
const LCM_SIGMA_DATA: f64 = 0.5;

/// How the betas are laid out over the training timesteps (`beta_schedule`).
#[derive(Debug, Clone, PartialEq)]
pub enum BetaSchedule {
    Linear { start: f64, end: f64 },
    ScaledLinear { start: f64, end: f64 },
    SquaredCosCapV2,
    Trained(Vec<f64>),
}

impl BetaSchedule {
    pub fn betas(&self, train_steps: usize) -> Vec<f64> {
        let lin = |a: f64, b: f64| -> Vec<f64> {
            if train_steps == 1 {
                return vec![a];
            }
            (0..train_steps).map(|i| a + (b - a) * i as f64 / (train_steps - 1) as f64).collect()
        };
        match self {
            Self::Linear { start, end } => lin(*start, *end),
            Self::ScaledLinear { start, end } => lin(start.sqrt(), end.sqrt()).into_iter().map(|b| b * b).collect(),
            Self::SquaredCosCapV2 => {
                let alpha_bar = |t: f64| libm::cos((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).powi(2);
                (0..train_steps)
                    .map(|i| {
                        let t1 = i as f64 / train_steps as f64;
                        let t2 = (i + 1) as f64 / train_steps as f64;
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999)
                    })
                    .collect()
            }
            Self::Trained(b) => b.clone(),
        }
    }
}

impl NoiseSchedule {
    pub fn new(
        betas: &[f64],
        prediction: Prediction,
        spacing: Spacing,
        steps_offset: usize,
        set_alpha_to_one: bool,
        clip_sample: Option<f64>,
    ) -> Self {
        let mut acc = 1.0;
        let alphas_cumprod: Vec<f64> = betas
            .iter()
            .map(|b| {
                acc *= 1.0 - b;
                acc
            })
            .collect();
        let final_alpha_cumprod = if set_alpha_to_one { 1.0 } else { alphas_cumprod[0] };
        Self {
            alphas_cumprod,
            prediction,
            spacing,
            steps_offset,
            final_alpha_cumprod,
            clip_sample,
            lcm: LcmParams::default(),
        }
    }

    /// Stable Diffusion's schedule: scaled-linear betas 0.00085..0.012 over 1000 steps,
    /// ε-prediction, leading spacing with offset 1.
    pub fn stable_diffusion() -> Self {
        let betas = BetaSchedule::ScaledLinear { start: 0.00085, end: 0.012 }.betas(1000);
        Self::new(&betas, Prediction::Epsilon, Spacing::Leading, 1, false, None)
    }

    pub fn train_steps(&self) -> usize {
        self.alphas_cumprod.len()
    }

    /// The `n` inference timesteps, highest first.
    pub fn timesteps(&self, n: usize) -> Vec<usize> {
        let t_max = self.train_steps();
        let n = n.clamp(1, t_max);
        let raw: Vec<f64> = match self.spacing {
            Spacing::Leading => {
                let ratio = t_max / n;
                (0..n).rev().map(|i| (i * ratio + self.steps_offset) as f64).collect()
            }
            Spacing::Trailing => {
                let ratio = t_max as f64 / n as f64;
                (0..n).map(|i| (t_max as f64 - i as f64 * ratio).round_ties_even() - 1.0).collect()
            }
            Spacing::Linspace => {
                let last = (t_max - 1) as f64;
                let denom = (n.max(2) - 1) as f64;
                (0..n).rev().map(|i| (i as f64 * last / denom).round_ties_even()).collect()
            }
        };
        raw.into_iter().map(|t| (t.max(0.0) as usize).min(t_max - 1)).collect()
    }

    pub fn sigma(&self, t: usize) -> f64 {
        let a = self.alphas_cumprod[t];
        ((1.0 - a) / a).sqrt()
    }

    /// The `n` timesteps an Euler run visits, highest first: [`Self::timesteps`], except
    /// that `linspace` spacing is not rounded (diffusers' `EulerDiscreteScheduler` keeps
    /// `linspace(0, T − 1, n)` as it is; its DDIM rounds).
    pub fn euler_timesteps(&self, n: usize) -> Vec<f64> {
        let t_max = self.train_steps();
        match self.spacing {
            Spacing::Linspace => {
                let n = n.clamp(1, t_max);
                let last = (t_max - 1) as f64;
                let denom = (n.max(2) - 1) as f64;
                (0..n).rev().map(|i| i as f64 * last / denom).collect()
            }
            Spacing::Leading | Spacing::Trailing => self.timesteps(n).into_iter().map(|t| t as f64).collect(),
        }
    }

    /// The `n` timesteps an LCM run visits, highest first (see the module docs). `n` is
    /// clamped to `1..=original_inference_steps`; [`Self::max_lcm_steps`] is the limit.
    pub fn lcm_timesteps(&self, n: usize) -> Vec<usize> {
        let original = self.max_lcm_steps();
        let n = n.clamp(1, original);
        let k = self.train_steps() / original;
        // The distillation timesteps, highest first: k·original − 1, …, k − 1.
        let origin: Vec<usize> = (1..=original).rev().map(|i| i * k - 1).collect();
        // numpy's `floor(linspace(0, original, n, endpoint=False))`: `j · (original / n)`.
        let step = original as f64 / n as f64;
        (0..n).map(|j| origin[((j as f64 * step).floor() as usize).min(original - 1)]).collect()
    }

    /// The most steps an LCM run can take (`original_inference_steps`, at most the number
    /// of training steps).
    pub fn max_lcm_steps(&self) -> usize {
        self.lcm.original_steps.clamp(1, self.train_steps())
    }

    /// σ at a possibly fractional timestep: linear interpolation between the whole
    /// timesteps around it (numpy's `interp`, as diffusers does).
    pub fn sigma_at(&self, t: f64) -> f64 {
        let t = t.clamp(0.0, (self.train_steps() - 1) as f64);
        let lo = t.floor() as usize;
        let hi = (lo + 1).min(self.train_steps() - 1);
        let w = t - lo as f64;
        if w == 0.0 { self.sigma(lo) } else { self.sigma(lo) * (1.0 - w) + self.sigma(hi) * w }
    }
}

/// The result of one sampler step.
pub struct StepOutput {
    /// The latents for the next step (after the last step: the final latents).
    pub prev: Tensor,
    /// The model's current estimate of the clean latents (used for previews).
    pub pred_x0: Tensor,
}

/// One sampling run: a sampler over a fixed list of timesteps.
#[derive(Debug, Clone)]
pub struct Sampler {
    kind: Scheduler,
    schedule: NoiseSchedule,
    /// What the model is told (whole numbers except for Euler with `linspace` spacing).
    timesteps: Vec<f64>,
    /// Euler: σ at each timestep, then 0.
    sigmas: Vec<f64>,
    /// DDIM: how far back each step goes, `⌊T / n⌋` for the full `n`-step schedule.
    ddim_stride: usize,
}

/// How many of `steps` steps an img2img run of `strength` performs.
pub fn img2img_steps(steps: usize, strength: f64) -> usize {
    ((steps as f64 * strength) as usize).clamp(1, steps.max(1))
}

impl Sampler {
    /// A run of `steps` steps; for img2img (`strength = Some(s)`) only the last
    /// [`img2img_steps`] of them.
    pub fn new(kind: Scheduler, schedule: &NoiseSchedule, steps: usize, strength: Option<f64>) -> Self {
        let all: Vec<f64> = match kind {
            Scheduler::Ddim => schedule.timesteps(steps).into_iter().map(|t| t as f64).collect(),
            Scheduler::Euler | Scheduler::EulerAncestral => schedule.euler_timesteps(steps),
            // img2img with LCM is refused before a run is built (`pipeline::validate`).
            Scheduler::Lcm => schedule.lcm_timesteps(steps).into_iter().map(|t| t as f64).collect(),
        };
        let run = match strength {
            Some(s) => img2img_steps(all.len(), s),
            None => all.len(),
        };
        let timesteps = all[all.len() - run..].to_vec();
        let mut sigmas: Vec<f64> = timesteps.iter().map(|&t| schedule.sigma_at(t)).collect();
        sigmas.push(0.0);
        let ddim_stride = schedule.train_steps() / steps.clamp(1, schedule.train_steps());
        Self { kind, schedule: schedule.clone(), timesteps, sigmas, ddim_stride }
    }

    /// The timesteps this run visits, highest first, as the model is given them.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    /// The sampler this run uses.
    pub fn kind(&self) -> Scheduler {
        self.kind
    }

    fn is_euler(&self) -> bool {
        matches!(self.kind, Scheduler::Euler | Scheduler::EulerAncestral)
    }

    /// Starting latents for txt2img from standard normal `noise`.
    pub fn initial_latents(&self, noise: &Tensor) -> candle_core::Result<Tensor> {
        if self.is_euler() { noise * self.euler_init_sigma() } else { Ok(noise.clone()) }
    }

    /// The standard deviation Euler's starting noise is given. `x / sqrt(ᾱ)` has variance
    /// `σ² + 1` at σ, which is what diffusers uses for `leading` spacing; for `trailing` and
    /// `linspace` it uses σ alone (`EulerDiscreteScheduler.init_noise_sigma`, diffusers
    /// 0.42), and we follow it so the same noise gives the same image.
    fn euler_init_sigma(&self) -> f64 {
        let s = self.sigmas[0];
        match self.schedule.spacing {
            Spacing::Leading => (s * s + 1.0).sqrt(),
            Spacing::Trailing | Spacing::Linspace => s,
        }
    }

    /// img2img: the clean latents `x0` noised to the run's first timestep.
    pub fn add_noise(&self, x0: &Tensor, noise: &Tensor) -> candle_core::Result<Tensor> {
        if self.is_euler() {
            x0 + (noise * self.sigmas[0])?
        } else {
            let a = self.schedule.alphas_cumprod[self.timesteps[0] as usize];
            (x0 * a.sqrt())? + (noise * (1.0 - a).sqrt())?
        }
    }

    /// What the UNet sees at step `i`.
    pub fn scale_model_input(&self, x: &Tensor, i: usize) -> candle_core::Result<Tensor> {
        if self.is_euler() {
            let s = self.sigmas[i];
            x / (s * s + 1.0).sqrt()
        } else {
            Ok(x.clone())
        }
    }

    /// Step `i`: from latents `x` and the model's (guided) output to the next latents.
    pub fn step(
        &self,
        i: usize,
        model_output: &Tensor,
        x: &Tensor,
        rng: &mut NormalRng,
    ) -> candle_core::Result<StepOutput> {
        let noise = if self.step_takes_noise(i) { Some(rng.tensor(x.dims4()?)?) } else { None };
        self.step_with_noise(i, model_output, x, noise.as_ref())
    }

    /// [`Self::step`] with the fresh noise for this step given (standard normal, shaped like
    /// `x`) instead of drawn: Euler-ancestral takes one at every step (diffusers draws one at
    /// the last step too), LCM at every step but the last (where diffusers draws none). DDIM
    /// and Euler take none.
    pub fn step_with_noise(
        &self,
        i: usize,
        model_output: &Tensor,
        x: &Tensor,
        noise: Option<&Tensor>,
    ) -> candle_core::Result<StepOutput> {
        match (self.kind, noise) {
            (Scheduler::Ddim, None) => self.ddim_step(i, model_output, x),
            (Scheduler::Euler, None) => self.euler_step(i, model_output, x, None),
            (Scheduler::EulerAncestral, Some(noise)) => self.euler_step(i, model_output, x, Some(noise)),
            (Scheduler::EulerAncestral, None) => candle_core::bail!("Euler-ancestral needs fresh noise at every step"),
            (Scheduler::Lcm, noise) if noise.is_some() == self.step_takes_noise(i) => {
                self.lcm_step(i, model_output, x, noise)
            }
            (Scheduler::Lcm, Some(_)) => candle_core::bail!("LCM takes no fresh noise at its last step"),
            (Scheduler::Lcm, None) => candle_core::bail!("LCM needs fresh noise at every step but the last"),
            (kind, Some(_)) => candle_core::bail!("{kind:?} takes no fresh noise per step"),
        }
    }

    /// Whether any step takes fresh noise ([`Self::step_with_noise`]).
    pub fn takes_step_noise(&self) -> bool {
        matches!(self.kind, Scheduler::EulerAncestral | Scheduler::Lcm)
    }

    /// Whether step `i` takes fresh noise.
    pub fn step_takes_noise(&self, i: usize) -> bool {
        match self.kind {
            Scheduler::EulerAncestral => true,
            Scheduler::Lcm => i + 1 < self.timesteps.len(),
            Scheduler::Ddim | Scheduler::Euler => false,
        }
    }

    /// How many fresh-noise tensors the whole run takes.
    pub fn step_noise_draws(&self) -> usize {
        (0..self.timesteps.len()).filter(|&i| self.step_takes_noise(i)).count()
    }

    /// LCM's boundary-condition scalings `(c_skip, c_out)` at timestep `t`.
    pub fn lcm_scalings(&self, t: f64) -> (f64, f64) {
        let st = t * self.schedule.lcm.timestep_scaling;
        let d2 = LCM_SIGMA_DATA * LCM_SIGMA_DATA;
        (d2 / (st * st + d2), st / (st * st + d2).sqrt())
    }

    fn lcm_step(&self, i: usize, out: &Tensor, x: &Tensor, noise: Option<&Tensor>) -> candle_core::Result<StepOutput> {
        let ac = &self.schedule.alphas_cumprod;
        let t = self.timesteps[i];
        let a = ac[t as usize];
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        let mut x0 = match self.schedule.prediction {
            Prediction::Epsilon => ((x - (out * sb)?)? / sa)?,
            Prediction::VPrediction => ((x * sa)? - (out * sb)?)?,
            Prediction::Sample => out.clone(),
        };
        if let Some(r) = self.schedule.lcm.clip_sample {
            x0 = x0.clamp(-r, r)?;
        }
        let (c_skip, c_out) = self.lcm_scalings(t);
        let denoised = ((&x0 * c_out)? + (x * c_skip)?)?;
        let prev = match (self.timesteps.get(i + 1), noise) {
            (Some(&t_next), Some(noise)) => {
                let a_prev = ac[t_next as usize];
                ((&denoised * a_prev.sqrt())? + (noise * (1.0 - a_prev).sqrt())?)?
            }
            _ => denoised.clone(),
        };
        Ok(StepOutput { prev, pred_x0: denoised })
    }

    fn ddim_step(&self, i: usize, out: &Tensor, x: &Tensor) -> candle_core::Result<StepOutput> {
        let ac = &self.schedule.alphas_cumprod;
        // DDIM's timesteps are whole numbers (`NoiseSchedule::timesteps`).
        let t = self.timesteps[i] as usize;
        let a = ac[t];
        let a_prev = match t.checked_sub(self.ddim_stride) {
            Some(t) => ac[t],
            None => self.schedule.final_alpha_cumprod,
        };
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        let (mut x0, mut eps) = match self.schedule.prediction {
            Prediction::Epsilon => (((x - (out * sb)?)? / sa)?, out.clone()),
            Prediction::VPrediction => (((x * sa)? - (out * sb)?)?, ((out * sa)? + (x * sb)?)?),
            Prediction::Sample => (out.clone(), ((x - (out * sa)?)? / sb)?),
        };
        if let Some(r) = self.schedule.clip_sample {
            x0 = x0.clamp(-r, r)?;
            eps = ((x - (&x0 * sa)?)? / sb)?;
        }
        let prev = ((&x0 * a_prev.sqrt())? + (eps * (1.0 - a_prev).sqrt())?)?;
        Ok(StepOutput { prev, pred_x0: x0 })
    }

    fn euler_step(
        &self,
        i: usize,
        out: &Tensor,
        x: &Tensor,
        noise: Option<&Tensor>,
    ) -> candle_core::Result<StepOutput> {
        let sigma = self.sigmas[i];
        let sigma_next = self.sigmas[i + 1];
        let x0 = match self.schedule.prediction {
            Prediction::Epsilon => (x - (out * sigma)?)?,
            Prediction::VPrediction => {
                let c = sigma * sigma + 1.0;
                ((x / c)? - (out * (sigma / c.sqrt()))?)?
            }
            Prediction::Sample => out.clone(),
        };
        let d = ((x - &x0)? / sigma)?;
        let prev = match noise {
            None => (x + (d * (sigma_next - sigma))?)?,
            Some(noise) => {
                let up = (sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next) / (sigma * sigma))
                    .max(0.0)
                    .sqrt();
                let down = (sigma_next * sigma_next - up * up).max(0.0).sqrt();
                let moved = (x + (d * (down - sigma))?)?;
                if up > 0.0 { (moved + (noise * up)?)? } else { moved }
            }
        };
        Ok(StepOutput { prev, pred_x0: x0 })
    }
}

#[cfg(test)]
mod tests {
    use super::super::rng::Stream;
    use super::*;
    use candle_core::Device;

    fn sd(spacing: Spacing, offset: usize) -> NoiseSchedule {
        let betas = BetaSchedule::ScaledLinear { start: 0.00085, end: 0.012 }.betas(1000);
        NoiseSchedule::new(&betas, Prediction::Epsilon, spacing, offset, false, None)
    }

    #[test]
    fn timesteps_match_diffusers_spacings() {
        let lead = sd(Spacing::Leading, 1).timesteps(50);
        assert_eq!(lead.len(), 50);
        assert_eq!((lead[0], lead[1], lead[49]), (981, 961, 1));
        assert_eq!(sd(Spacing::Trailing, 0).timesteps(1), vec![999]);
        assert_eq!(sd(Spacing::Trailing, 0).timesteps(4), vec![999, 749, 499, 249]);
        assert_eq!(sd(Spacing::Linspace, 0).timesteps(3), vec![999, 500, 0]);
    }

    /// diffusers 0.42 `EulerDiscreteScheduler(timestep_spacing="linspace").set_timesteps(5)`
    /// on SD's betas: timesteps [999, 749.25, 499.5, 249.75, 0], sigmas 14.614647,
    /// 4.086090, 1.615583, 0.695151, 0.029168, 0; `init_noise_sigma` 14.614647.
    #[test]
    fn euler_linspace_keeps_fractional_timesteps_as_diffusers() {
        let s = sd(Spacing::Linspace, 0);
        let sampler = Sampler::new(Scheduler::Euler, &s, 5, None);
        assert_eq!(sampler.timesteps(), &[999.0, 749.25, 499.5, 249.75, 0.0]);
        let want = [14.614647, 4.086090, 1.615583, 0.695151, 0.029168, 0.0];
        for (got, want) in sampler.sigmas.iter().zip(want) {
            assert!((got - want).abs() < 2e-5 * want.max(1.0), "sigma {got} vs diffusers' {want}");
        }
        let one = Tensor::ones((1, 1, 1, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let start: f32 = sampler.initial_latents(&one).unwrap().flatten_all().unwrap().to_vec1().unwrap()[0];
        assert!((start as f64 - 14.614647).abs() < 1e-4, "init sigma {start}");
        // DDIM rounds the same spacing to whole timesteps.
        assert_eq!(Sampler::new(Scheduler::Ddim, &s, 5, None).timesteps(), &[999.0, 749.0, 500.0, 250.0, 0.0]);
    }

    /// diffusers 0.42 `LCMScheduler(original_inference_steps=o).set_timesteps(n).timesteps`.
    #[test]
    fn lcm_timesteps_match_diffusers() {
        let s = sd(Spacing::Leading, 1);
        assert_eq!(s.lcm_timesteps(1), vec![999]);
        assert_eq!(s.lcm_timesteps(4), vec![999, 759, 499, 259]);
        assert_eq!(s.lcm_timesteps(3), vec![999, 679, 339]);
        assert_eq!(s.lcm_timesteps(7), vec![999, 859, 719, 579, 439, 299, 159]);
        assert_eq!(s.lcm_timesteps(8), vec![999, 879, 759, 639, 499, 379, 259, 139]);
        let all = s.lcm_timesteps(50);
        assert_eq!((all.len(), all[0], all[1], all[49]), (50, 999, 979, 19));
        let mut seven = s.clone();
        seven.lcm.original_steps = 7;
        assert_eq!(seven.lcm_timesteps(3), vec![993, 709, 425]);
        assert_eq!(seven.max_lcm_steps(), 7);
    }

    /// diffusers' `get_scalings_for_boundary_condition_discrete` at 999, 259 and 19.
    #[test]
    fn lcm_boundary_scalings_match_diffusers() {
        let sampler = Sampler::new(Scheduler::Lcm, &sd(Spacing::Leading, 1), 4, None);
        for (t, skip, out) in [
            (999.0, 2.5050075037374525e-09, 0.9999999987474963),
            (259.0, 3.726837564778493e-08, 0.999999981365812),
            (19.0, 6.92515979806234e-06, 0.9999965374141062),
        ] {
            let (c_skip, c_out) = sampler.lcm_scalings(t);
            assert!((c_skip - skip).abs() < 1e-15 && (c_out - out).abs() < 1e-12, "t {t}: {c_skip} {c_out}");
        }
        assert_eq!(sampler.step_noise_draws(), 3, "no noise after the last step");
        assert!(!sampler.step_takes_noise(3));
    }

    #[test]
    fn sd_schedule_values() {
        let s = sd(Spacing::Leading, 1);
        assert!((s.alphas_cumprod[0] - 0.99915).abs() < 1e-9);
        assert!((s.alphas_cumprod[999] - 0.0046).abs() < 1e-4);
        assert!((s.sigma(999) - 14.6146).abs() < 1e-3);
    }

    #[test]
    fn img2img_runs_the_tail_of_the_schedule() {
        let s = sd(Spacing::Leading, 1);
        let full = Sampler::new(Scheduler::Ddim, &s, 10, None);
        let half = Sampler::new(Scheduler::Ddim, &s, 10, Some(0.5));
        assert_eq!(half.timesteps(), &full.timesteps()[5..]);
        assert_eq!(img2img_steps(10, 0.01), 1);
        assert_eq!(img2img_steps(10, 1.0), 10);
        assert_eq!(img2img_steps(10, 0.3), 3);
    }

    /// With a model that predicts the true noise exactly, every sampler recovers x₀.
    #[test]
    fn perfect_predictions_recover_the_clean_latents() {
        let dev = Device::Cpu;
        let x0 = Tensor::new(&[[[[0.5f32, -0.25], [1.0, 0.0]]]], &dev).unwrap();
        let noise = Tensor::new(&[[[[0.3f32, -1.2], [0.7, 2.0]]]], &dev).unwrap();
        for kind in [Scheduler::Ddim, Scheduler::Euler] {
            for pred in [Prediction::Epsilon, Prediction::VPrediction, Prediction::Sample] {
                let mut sched = sd(Spacing::Leading, 1);
                sched.prediction = pred;
                sched.final_alpha_cumprod = 1.0;
                let sampler = Sampler::new(kind, &sched, 5, Some(0.6));
                let mut x = sampler.add_noise(&x0, &noise).unwrap();
                let mut rng = NormalRng::new(1, Stream::Ancestral);
                for (i, &t) in sampler.timesteps().iter().enumerate() {
                    let a = sched.alphas_cumprod[t as usize];
                    let out = match pred {
                        Prediction::Epsilon => noise.clone(),
                        Prediction::VPrediction => {
                            ((&noise * a.sqrt()).unwrap() - (&x0 * (1.0 - a).sqrt()).unwrap()).unwrap()
                        }
                        Prediction::Sample => x0.clone(),
                    };
                    // The sampler's own latent space may be scaled; the model sees the VP one.
                    let _ = sampler.scale_model_input(&x, i).unwrap();
                    x = sampler.step(i, &out, &x, &mut rng).unwrap().prev;
                }
                let err: f32 = (x - &x0).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
                assert!(err < 2e-3, "{kind:?} {pred:?}: off by {err}");
            }
        }
    }
}
