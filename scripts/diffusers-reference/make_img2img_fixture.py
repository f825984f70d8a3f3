"""Records diffusers' img2img (StableDiffusionImg2ImgPipeline, DDIM, eta 0) on the sd15 test
model, from a fixed source image and fixed noise, for crates/art/tests/diffusers_equivalence.rs.

Output, next to the sd15 fixture (crates/art/tests/fixtures/diffusers/sd15/):
  img2img/init.png              the source image (128x128 RGB, a smooth seeded pattern)
  img2img/reference.safetensors `noise`: the noise img2img adds to the source's latents;
                                `latents`: the final latents; `image`: their VAE decode
  img2img/reference.json        strength, steps, the timesteps that ran, versions

The source's latents are the VAE posterior's *mean*, passed to the pipeline as 4-channel
`image` (which it then uses as they are): Chrysalis encodes to the mean, while the pipeline
would otherwise draw a sample from the posterior with its generator. The noise is what the
pipeline draws with `torch.Generator().manual_seed(SEED)` once it has latents: one
`randn_tensor` of the latents' shape, recorded here and given to Chrysalis as its starting
noise (`RunOptions::init_latents`).

Seeded: a rerun writes identical bytes. Run through scripts/make-diffusers-fixtures.sh's venv:
  ~/.cache/chrysalis/diffusers-venv/bin/python scripts/diffusers-reference/make_img2img_fixture.py
"""

import json

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import diffusers
import transformers
from diffusers import DDIMScheduler, StableDiffusionImg2ImgPipeline
from sd15_fixture import open_sd15

STRENGTH = 0.6
STEPS = 10
SEED = 11
SIDE = 128


def source_image():
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64) / SIDE
    r = 0.5 + 0.5 * np.sin(6.0 * x + 2.0 * y)
    g = 0.5 + 0.5 * np.cos(4.0 * y - 3.0 * x)
    b = 0.5 + 0.5 * np.sin(5.0 * (x + y))
    rgb = np.stack([r, g, b], axis=-1)
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8), "RGB")


@torch.no_grad()
def main():
    model, out, meta = open_sd15(__doc__, "img2img")

    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(model, torch_dtype=torch.float32, safety_checker=None)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    image = source_image()
    image.save(out / "init.png")

    pixels = pipe.image_processor.preprocess(image)  # (1, 3, H, W) in [-1, 1]
    mean = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
    noise = torch.randn(mean.shape, generator=torch.Generator().manual_seed(SEED), dtype=torch.float32)
    latents = pipe(
        prompt=meta["prompt"],
        negative_prompt=meta["negative_prompt"],
        image=mean,
        strength=STRENGTH,
        num_inference_steps=STEPS,
        guidance_scale=meta["guidance"],
        generator=torch.Generator().manual_seed(SEED),
        output_type="latent",
    ).images
    decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    save_file(
        {"noise": noise.contiguous(), "latents": latents.contiguous(), "image": decoded.contiguous()},
        out / "reference.safetensors",
    )
    info = dict(
        strength=STRENGTH,
        steps=STEPS,
        timesteps=[int(t) for t in pipe.scheduler.timesteps[-int(STEPS * STRENGTH) :]],
        seed=SEED,
        versions=dict(torch=torch.__version__, diffusers=diffusers.__version__, transformers=transformers.__version__),
    )
    (out / "reference.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{out}: {sum(f.stat().st_size for f in out.iterdir()) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
