//! The channel bookkeeping of Stable Diffusion's UNet, worked out once from its config for
//! every backend that builds one (candle's [`super::unet`], libtorch's `torch::unet`): how
//! wide each level is, what each ResNet layer takes in (up-block layers also take the skip
//! they are concatenated with), where the transformers are, and where the resolution
//! changes; and the timestep's sinusoid. The backends only turn these into tensors and layers.

use candle_transformers::models::stable_diffusion::unet_2d::UNet2DConditionModelConfig;

/// One level of the down or up path (or the mid block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Level {
    /// Output channels of every layer of the level.
    pub channels: usize,
    /// Attention heads of its transformers.
    pub heads: usize,
    /// Transformer blocks after each ResNet, if the level has transformers.
    pub transformer_depth: Option<usize>,
    /// Input channels of each ResNet layer, in order (`resnets.{j}`).
    pub layer_inputs: Vec<usize>,
    /// Whether the level ends with a ↓2 (down path) or ↑2 (up path) convolution.
    pub resample: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The first level's width: `conv_in`'s output, `conv_out`'s input, the sinusoid's size.
    pub base: usize,
    /// The timestep embedding's width (4 × base).
    pub temb: usize,
    pub down: Vec<Level>,
    /// Two ResNets around one transformer (depth 1 where the deepest level has none).
    pub mid: Level,
    pub up: Vec<Level>,
}

/// The layout of `cfg`'s UNet; `None` for a config without blocks.
pub(crate) fn layout(cfg: &UNet2DConditionModelConfig) -> Option<Layout> {
    let blocks = &cfg.blocks;
    let n = blocks.len();
    if n == 0 {
        return None;
    }
    let ch: Vec<usize> = blocks.iter().map(|b| b.out_channels).collect();
    let level = |i: usize, layer_inputs: Vec<usize>, resample: bool| Level {
        channels: ch[i],
        heads: blocks[i].attention_head_dim,
        transformer_depth: blocks[i].use_cross_attn,
        layer_inputs,
        resample,
    };
    let down = (0..n)
        .map(|i| {
            let input = if i == 0 { ch[0] } else { ch[i - 1] };
            let inputs = (0..cfg.layers_per_block).map(|j| if j == 0 { input } else { ch[i] }).collect();
            level(i, inputs, i + 1 < n)
        })
        .collect();
    let mid = Level {
        transformer_depth: Some(blocks[n - 1].use_cross_attn.unwrap_or(1)),
        ..level(n - 1, vec![ch[n - 1]; 2], false)
    };
    // Up level i mirrors down level n-1-i and consumes its skips in reverse: every layer
    // but the last meets a skip of its own width; the last meets the level below's.
    let up = (0..n)
        .map(|i| {
            let l = n - 1 - i;
            let from_below = if i == 0 { ch[n - 1] } else { ch[l + 1] };
            let skip_last = ch[l.saturating_sub(1)];
            let inputs = (0..=cfg.layers_per_block)
                .map(|j| {
                    let input = if j == 0 { from_below } else { ch[l] };
                    let skip = if j == cfg.layers_per_block { skip_last } else { ch[l] };
                    input + skip
                })
                .collect();
            level(l, inputs, i + 1 < n)
        })
        .collect();
    Some(Layout { base: ch[0], temb: ch[0] * 4, down, mid, up })
}

/// The sinusoidal timestep embedding of "Attention Is All You Need" (Vaswani et al. 2017)
/// as diffusers' `get_timestep_embedding` lays it out: for `half = channels / 2` frequencies
/// `f_i = exp(−ln(10000) · i / (half − freq_shift))`, the vector `[sin(t·f), cos(t·f)]`
/// (`[cos, sin]` when `flip_sin_to_cos`). Always computed in f32 (`t·f` reaches ~1000 rad,
/// where f16 has no digits left for the phase); the UNet casts it to its dtype.
pub(crate) fn timestep_sinusoid(t: f64, channels: usize, flip_sin_to_cos: bool, freq_shift: f64) -> Vec<f32> {
    let half = channels / 2;
    let mut row = vec![0f32; channels];
    for i in 0..half {
        let freq = (-(10000f32.ln()) * i as f32 / (half as f32 - freq_shift as f32)).exp();
        let phase = t as f32 * freq;
        let (first, second) = if flip_sin_to_cos { (phase.cos(), phase.sin()) } else { (phase.sin(), phase.cos()) };
        row[i] = first;
        row[half + i] = second;
    }
    // An odd `channels` leaves the last entry 0, as diffusers pads it.
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_transformers::models::stable_diffusion::unet_2d::BlockConfig;

    /// SD 1.5's UNet: the widths diffusers' `UNet2DConditionModel` gives its layers.
    #[test]
    fn sd15_layers_have_diffusers_widths() {
        let block = |out_channels, cross| BlockConfig { out_channels, use_cross_attn: cross, attention_head_dim: 8 };
        let cfg = UNet2DConditionModelConfig {
            blocks: vec![block(320, Some(1)), block(640, Some(1)), block(1280, Some(1)), block(1280, None)],
            layers_per_block: 2,
            ..Default::default()
        };
        let l = layout(&cfg).unwrap();
        assert_eq!((l.base, l.temb), (320, 1280));
        let inputs = |v: &[Level]| v.iter().map(|l| l.layer_inputs.clone()).collect::<Vec<_>>();
        assert_eq!(inputs(&l.down), [vec![320, 320], vec![320, 640], vec![640, 1280], vec![1280, 1280]]);
        assert_eq!(
            inputs(&l.up),
            [vec![2560, 2560, 2560], vec![2560, 2560, 1920], vec![1920, 1280, 960], vec![960, 640, 640]]
        );
        assert_eq!(l.up.iter().map(|l| l.channels).collect::<Vec<_>>(), [1280, 1280, 640, 320]);
        assert_eq!(l.down.iter().map(|l| l.resample).collect::<Vec<_>>(), [true, true, true, false]);
        assert_eq!((l.mid.channels, l.mid.transformer_depth, l.mid.layer_inputs.len()), (1280, Some(1), 2));
        assert!(layout(&UNet2DConditionModelConfig { blocks: vec![], ..cfg }).is_none());
    }
}
