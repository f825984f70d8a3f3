#!/usr/bin/env python3
"""One diffusers text-to-image run for scripts/bench-diffusers.sh: load a diffusers-layout
folder, run StableDiffusionPipeline with DDIM, write the PNG, print one `RESULT {json}` line.

Timed from the top of this file (before importing torch), with time.perf_counter():
  import_s   importing torch, diffusers and transformers
  load_s     StableDiffusionPipeline.from_pretrained (weights read and, for bf16, cast)
  pipe_s     the pipeline call: prompt encoding, the denoising steps, VAE decode, to PIL
  first_step_end_s  pipeline start to the end of step 1 (prompt encoding + step 1)
  steps      seconds of steps 2..N (between callback_on_step_end calls)
  decode_s   end of the last step to the PIL image (VAE decode + post-processing)
  save_s     writing the PNG
The caller measures the whole process (interpreter start to exit) and its peak RSS itself.
"""

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import torch  # noqa: E402
import diffusers  # noqa: E402
import transformers  # noqa: E402
from diffusers import DDIMScheduler, StableDiffusionPipeline  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--negative", default="")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (scripts/gpu-check.sh)")
    args = ap.parse_args()
    t_import = time.perf_counter()

    torch.set_num_threads(args.threads)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    pipe = StableDiffusionPipeline.from_pretrained(
        args.model, dtype=dtype, safety_checker=None, requires_safety_checker=False, local_files_only=True
    )
    # The folder's scheduler already is DDIM; say so anyway, as the Chrysalis side does.
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(args.device)
    # On a GPU the marks must wait for the queued kernels, or they time the launches.
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    sync()
    t_load = time.perf_counter()

    marks = []

    def on_step_end(_pipe, _i, _t, kwargs):
        sync()
        marks.append(time.perf_counter())
        return kwargs

    generator = torch.Generator().manual_seed(args.seed)
    t_pipe0 = time.perf_counter()
    with torch.inference_mode():
        image = pipe(
            prompt=args.prompt,
            negative_prompt=args.negative,
            height=args.size,
            width=args.size,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            generator=generator,
            callback_on_step_end=on_step_end,
        ).images[0]
    sync()
    t_pipe = time.perf_counter()
    image.save(args.out)
    t_save = time.perf_counter()

    # Step 1's start is not marked (it follows the prompt encoding): `steps` holds steps 2..N,
    # first_step_end_s is the prompt encoding plus step 1.
    steps = [b - a for a, b in zip(marks, marks[1:])]
    result = dict(
        import_s=round(t_import - T0, 3),
        load_s=round(t_load - t_import, 3),
        pipe_s=round(t_pipe - t_pipe0, 3),
        first_step_end_s=round(marks[0] - t_pipe0, 3) if marks else None,
        decode_s=round(t_pipe - marks[-1], 3) if marks else None,
        steps=[round(s, 3) for s in steps],
        save_s=round(t_save - t_pipe, 3),
        threads=torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(),
        dtype=str(dtype),
        unet_dtype=str(pipe.unet.dtype),
        vae_dtype=str(pipe.vae.dtype),
        versions=dict(torch=torch.__version__, diffusers=diffusers.__version__, transformers=transformers.__version__),
        omp=os.environ.get("OMP_NUM_THREADS"),
        device=args.device,
    )
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
