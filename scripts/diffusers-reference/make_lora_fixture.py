"""Writes a small random kohya-layout LoRA for the sd15 test model and records diffusers'
outputs with it applied (`load_lora_weights`, adapter weight WEIGHT).

Output, next to the sd15 fixture (crates/art/tests/fixtures/diffusers/sd15/):
  lora/tiny_kohya.safetensors   the LoRA: `lora_unet_<diffusers module, dots as _>` and
                                `lora_te_<transformers module>` keys with `.lora_down.weight`,
                                `.lora_up.weight` and `.alpha` (float16, rank RANK)
  lora/reference.safetensors    prompt embeddings, one UNet call and a DDIM run's final
                                latents and image from the sd15 fixture's `init_noise`,
                                LoRA applied
  lora/reference.json           weight, rank, alpha, steps, versions

Seeded: a rerun writes identical bytes. Run through scripts/make-diffusers-fixtures.sh's venv:
  ~/.cache/chrysalis/diffusers-venv/bin/python scripts/diffusers-reference/make_lora_fixture.py
"""

import json

import torch
from safetensors.torch import load_file, save_file

import diffusers
import peft
import transformers
from diffusers import DDIMScheduler, StableDiffusionPipeline
from sd15_fixture import open_sd15

RANK = 4
ALPHA = 2.0
WEIGHT = 0.8
DDIM_STEPS = 4
SEED = 7
# Module name suffixes that get a LoRA: attention and feed-forward linears, and the
# transformer's 1x1 conv projections (sd15 has conv proj_in / proj_out).
UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2", "proj_in", "proj_out")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")


def kohya_lora(pipe, g):
    tensors = {}
    for prefix, model, targets in (("lora_unet", pipe.unet, UNET_TARGETS), ("lora_te", pipe.text_encoder, TEXT_TARGETS)):
        for name, module in sorted(model.named_modules()):
            if not name.endswith(targets) or not isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                continue
            if prefix == "lora_te" and not name.startswith("text_model."):
                name = f"text_model.{name}"
            key = f"{prefix}_{name.replace('.', '_')}"
            w = module.weight
            out_f, in_f = w.shape[0], w.shape[1]
            extra = (1, 1) if w.dim() == 4 else ()
            tensors[f"{key}.lora_down.weight"] = (torch.randn((RANK, in_f, *extra), generator=g) * 0.3).half()
            tensors[f"{key}.lora_up.weight"] = (torch.randn((out_f, RANK, *extra), generator=g) * 0.3).half()
            tensors[f"{key}.alpha"] = torch.tensor(ALPHA).half()
    return tensors


@torch.no_grad()
def main():
    model, out, meta = open_sd15(__doc__, "lora")
    ref = load_file(model / "reference.safetensors")

    pipe = StableDiffusionPipeline.from_pretrained(model, torch_dtype=torch.float32, safety_checker=None)
    lora = kohya_lora(pipe, torch.Generator().manual_seed(SEED))
    lora_file = out / "tiny_kohya.safetensors"
    # One metadata key: safetensors writes several in a varying order (a Rust HashMap).
    save_file(lora, lora_file, metadata={"format": "pt"})

    pipe.load_lora_weights(str(lora_file), adapter_name="tiny")
    pipe.set_adapters(["tiny"], adapter_weights=[WEIGHT])
    # Every LoRA module must have landed on a layer (diffusers drops unmatched keys with a warning).
    n_unet = sum(1 for n, _ in pipe.unet.named_modules() if n.endswith("lora_A.tiny"))
    n_text = sum(1 for n, _ in pipe.text_encoder.named_modules() if n.endswith("lora_A.tiny"))
    n_file = sum(1 for k in lora if k.endswith(".alpha"))
    assert n_unet + n_text == n_file, f"diffusers applied {n_unet} + {n_text} LoRA modules, the file has {n_file}"

    prompt_embeds = pipe.text_encoder(ref["prompt_ids"])[0]
    negative_embeds = pipe.text_encoder(ref["negative_ids"])[0]
    unet_out = pipe.unet(ref["unet_sample"], ref["unet_timestep"][0], encoder_hidden_states=prompt_embeds).sample
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    latents = pipe(
        generator=torch.Generator().manual_seed(0),
        prompt=meta["prompt"],
        negative_prompt=meta["negative_prompt"],
        num_inference_steps=DDIM_STEPS,
        guidance_scale=meta["guidance"],
        height=meta["height"],
        width=meta["width"],
        latents=ref["init_noise"].clone(),
        output_type="latent",
    ).images
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    save_file(
        {
            "prompt_embeds": prompt_embeds.contiguous(),
            "negative_embeds": negative_embeds.contiguous(),
            "unet_out": unet_out.contiguous(),
            "ddim_latents": latents.contiguous(),
            "ddim_image": image.contiguous(),
        },
        out / "reference.safetensors",
    )
    info = dict(
        lora="tiny_kohya.safetensors",
        weight=WEIGHT,
        rank=RANK,
        alpha=ALPHA,
        modules=dict(unet=n_unet, text_encoder=n_text),
        ddim_steps=DDIM_STEPS,
        timesteps=[int(t) for t in pipe.scheduler.timesteps],
        versions=dict(torch=torch.__version__, diffusers=diffusers.__version__, transformers=transformers.__version__, peft=peft.__version__),
    )
    (out / "reference.json").write_text(json.dumps(info, indent=2) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{out}: {n_unet} UNet + {n_text} text encoder LoRA modules, {size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
