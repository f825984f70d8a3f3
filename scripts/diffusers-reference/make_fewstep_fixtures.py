#!/usr/bin/env python3
"""Few-step runs (LCM, SD-Turbo style) of the tiny sd15 fixture model, as diffusers makes them.

Reads the folder `make_fixtures.py` wrote (`--model`, normally
`crates/art/tests/fixtures/diffusers/sd15`) and its `reference.safetensors` (for `init_noise`),
and writes into `<model>/fewstep/`:

  reference.safetensors, reference.json   per run: final latents, decoded image, the per-step
                                          noise the scheduler drew, and the timesteps
  <run>/scheduler_config.json             the scheduler config diffusers ran with; the Rust
                                          test puts it in a copy of the model folder, so the
                                          run's sampler settings come from the folder as a
                                          real LCM / SD-Turbo model's would

Runs (guidance off, so one UNet pass per step, as diffusers does for guidance_scale <= 1):
  lcm4     LCMScheduler, 4 steps, guidance 1 (its noise: one draw per step but the last)
  lcm2     LCMScheduler, 2 steps, guidance 1
  lcm1     LCMScheduler, 1 step, guidance 1 (no noise at all)
  turbo2   EulerAncestralDiscreteScheduler with timestep_spacing="trailing", 2 steps, guidance 0
  turbo1   the same, 1 step

Run with the diffusers venv (`~/.cache/chrysalis/diffusers-venv/bin/python`).
"""

import argparse
import json
import pathlib

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import diffusers
import transformers
from diffusers import EulerAncestralDiscreteScheduler, LCMScheduler, StableDiffusionPipeline

PROMPT = "a glowing moth in a neon forest, oil painting"
SIZE = 128
STEP_SEED = 300


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=pathlib.Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    pipe = StableDiffusionPipeline.from_pretrained(args.model, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    base = pipe.scheduler.config
    init_noise = load_file(args.model / "reference.safetensors")["init_noise"]
    lat = SIZE // 8
    out = args.model / "fewstep"
    out.mkdir(exist_ok=True)

    runs_spec = (
        ("lcm4", lambda: LCMScheduler.from_config(base), 4, 1.0, lambda n: n - 1),
        ("lcm2", lambda: LCMScheduler.from_config(base), 2, 1.0, lambda n: n - 1),
        ("lcm1", lambda: LCMScheduler.from_config(base), 1, 1.0, lambda n: n - 1),
        ("turbo2", lambda: EulerAncestralDiscreteScheduler.from_config(base, timestep_spacing="trailing"), 2, 0.0, lambda n: n),
        ("turbo1", lambda: EulerAncestralDiscreteScheduler.from_config(base, timestep_spacing="trailing"), 1, 0.0, lambda n: n),
    )
    tensors, runs = {}, {}
    for name, make, steps, guidance, draws in runs_spec:
        pipe.scheduler = make()
        pipe.scheduler.save_config(out / name)
        # With `latents=` given, the pipeline draws nothing else from the generator: the
        # scheduler's draws are replayed by a generator with the same seed.
        replay = torch.Generator().manual_seed(STEP_SEED)
        noise = [torch.randn((1, 4, lat, lat), generator=replay) for _ in range(draws(steps))]
        if noise:
            tensors[f"{name}_noise"] = torch.stack(noise)
        latents = pipe(
            generator=torch.Generator().manual_seed(STEP_SEED),
            prompt=PROMPT,
            num_inference_steps=steps,
            guidance_scale=guidance,
            height=SIZE,
            width=SIZE,
            latents=init_noise.clone(),
            output_type="latent",
        ).images
        assert not pipe.do_classifier_free_guidance, "guidance must be off for these runs"
        tensors[f"{name}_latents"] = latents
        tensors[f"{name}_image"] = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
        runs[name] = dict(
            scheduler=type(pipe.scheduler).__name__,
            steps=steps,
            guidance=guidance,
            noise_draws=draws(steps),
            timesteps=[float(t) for t in pipe.scheduler.timesteps],
        )
    save_file({k: v.contiguous() for k, v in tensors.items()}, out / "reference.safetensors")
    meta = dict(
        prompt=PROMPT,
        width=SIZE,
        height=SIZE,
        step_seed=STEP_SEED,
        runs=runs,
        versions=dict(torch=torch.__version__, diffusers=diffusers.__version__, transformers=transformers.__version__, numpy=np.__version__),
    )
    (out / "reference.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
