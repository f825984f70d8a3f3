//! Curated palettes. Each has a paper (background), inks in the order styles use them (the
//! first are the main ones, later ones arrive with later stages) and an accent for blooms.
//! Indices are part of the recipe (`palette` parameter): only ever append.

pub type Rgb = [f32; 3];

pub struct Palette {
    pub name: &'static str,
    pub paper: Rgb,
    /// True for dark papers (light inks glow on them).
    pub dark: bool,
    pub inks: [Rgb; 5],
    pub accent: Rgb,
}

const fn hex(c: u32) -> Rgb {
    [((c >> 16) & 255) as f32 / 255.0, ((c >> 8) & 255) as f32 / 255.0, (c & 255) as f32 / 255.0]
}

const fn p(name: &'static str, paper: u32, dark: bool, inks: [u32; 5], accent: u32) -> Palette {
    Palette {
        name,
        paper: hex(paper),
        dark,
        inks: [hex(inks[0]), hex(inks[1]), hex(inks[2]), hex(inks[3]), hex(inks[4])],
        accent: hex(accent),
    }
}

pub static PALETTES: &[Palette] = &[
    p("Moth Night", 0x12111f, true, [0xe9dcc0, 0xc9a66b, 0x8c9ed9, 0x5d6bb0, 0xd97b66], 0xf2c14e),
    p("Sumi", 0xf1ece1, false, [0x1c1b1a, 0x3b3835, 0x6b655d, 0x9a9187, 0x2c3e50], 0xc8392b),
    p("Kyoto", 0xf4ecd8, false, [0x264653, 0x2a9d8f, 0xe9c46a, 0xf4a261, 0xe76f51], 0xb5172b),
    p("Abyss", 0x04151f, true, [0x2c7a7b, 0x4fd1c5, 0xa7e9d9, 0x1f4e5f, 0xf6e7b4], 0xff8c69),
    p("Ember", 0x1b0f0b, true, [0xf3a65a, 0xe2603a, 0xa8322d, 0xf6e3c6, 0x6e2a1f], 0xffd166),
    p("Lichen", 0xe9e5d6, false, [0x3f4f24, 0x76883f, 0xb9a96f, 0x6b4a2b, 0x2b3320], 0xd66a3c),
    p("Aurora", 0x080b1e, true, [0x2ec4b6, 0x7b5ea7, 0xcf5c9d, 0xff9671, 0xc6f1e7], 0xffd36e),
    p("Porcelain", 0xf7f4ee, false, [0x1d3557, 0x3f6e98, 0x8fb8cf, 0x0f1f33, 0xc9d8e3], 0xd1495b),
    p("Dune", 0xf1e2c6, false, [0x7a3e1d, 0xb8692f, 0xd9a35f, 0x4a2c1d, 0xe9c98f], 0x2f6f73),
    p("Orchid", 0x1a1423, true, [0xe7b8d8, 0xb784c4, 0x7d5ba6, 0xf6e1ea, 0x4c3a73], 0x9ee3c2),
];

pub fn lerp(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

pub fn scale(a: Rgb, s: f32) -> Rgb {
    [a[0] * s, a[1] * s, a[2] * s]
}

impl Palette {
    /// A colour along the inks, t in [0, 1] (clamped), smoothly interpolated.
    pub fn ramp(&self, t: f32) -> Rgb {
        let t = t.clamp(0.0, 1.0) * (self.inks.len() - 1) as f32;
        let i = (t as usize).min(self.inks.len() - 2);
        lerp(self.inks[i], self.inks[i + 1], t - i as f32)
    }
}
