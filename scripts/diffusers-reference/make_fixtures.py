#!/usr/bin/env python3
"""Small random-weight Stable Diffusion models, and what diffusers computes with them.

Writes, for each model kind, a diffusers-layout folder (loadable by Chrysalis' production
loader) and `reference.safetensors` + `reference.json` holding diffusers' outputs for fixed
inputs. `crates/art/tests/diffusers_equivalence.rs` checks the Rust pipeline against them.

Kinds:
  sd15  SD 1.x architecture: quick-GELU CLIP text encoder, conv projections in the UNet's
        transformers, the same head count in every block, ε-prediction, "leading" spacing.
  sd2   SD 2.x architecture: GELU (erf) CLIP text encoder as OpenCLIP ViT-H is converted,
        linear projections, per-block head counts, attention upcast, v-prediction,
        "trailing" spacing, the tokenizer pads with "!".

Recorded (all float32):
  prompt_ids / negative_ids          token ids diffusers' tokenizer gives (int64)
  prompt_embeds / negative_embeds    text encoder last hidden state (after the final norm)
  unet_sample, unet_timestep, unet_out   one UNet call with prompt_embeds as context
  unet_odd_sample, unet_odd_out      the same on 9x11 latents (sides that do not halve evenly)
  vae_latents, vae_out               one VAE decode (input already divided by the scaling)
  init_noise                         the standard-normal starting latents of the full runs
  ddim_latents, ddim_image           a full DDIM run: final latents, decoded image in [-1, 1]
  euler_latents, euler_image         the same with the Euler scheduler
  euler_a_latents, euler_a_image     the same with Euler-ancestral, whose per-step noise
  euler_a_noise                      (steps, 1, 4, h, w) comes from a seeded generator: the
                                     pipeline draws nothing else from it when given latents

Weights are random (seeded), so images are noise-like; what matters is that the same
numbers go in and the same numbers should come out. The weights are stored as float16 to
keep the fixtures small: the in-memory models are rounded to float16 values *before* the
reference outputs are computed (and then computed in float32), so Rust, which reads the
f16 files into f32, runs exactly the same weights.

Text encoder key layout: transformers 5 `save_pretrained` writes `CLIPTextModel` weights
without the `text_model.` prefix that transformers 4 wrote (and the original SD
repositories ship). The fixtures are rewritten with the prefix so they test numerics, not
the loader's key handling.

Run through `scripts/make-diffusers-fixtures.sh`, which creates the pinned venv.
"""

import argparse
import json
import pathlib
import shutil

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import diffusers
import transformers
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

PROMPT = "a glowing moth in a neon forest, oil painting"
NEGATIVE = "blurry"
GUIDANCE = 7.5
SIZE = 128  # pixels; latents are SIZE / 8
DDIM_STEPS = 6
EULER_STEPS = 5
EULER_A_STEPS = 5
UNET_TIMESTEP = 501.0

# Words that get whole-word merges in the tiny vocabulary; anything else is spelled out in
# byte tokens (so the prompt exercises both).
WORDS = ["a", "photo", "of", "the", "moth", "glowing", "neon", "forest", "painting", "oil", "blurry", "in"]


def bytes_to_unicode():
    """CLIP's (GPT-2's) reversible byte -> printable character table: printable Latin-1
    bytes stand for themselves, the others are moved to code points 256 and up."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = {}
    extra = 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
    for b in range(256):
        if b not in keep:
            chars[b] = chr(256 + extra)
            extra += 1
    # Ordered as CLIP's vocabulary lists them: the kept bytes first, then the moved ones.
    return [chars[b] for b in keep] + [chars[b] for b in range(256) if b not in keep]


def write_tiny_clip_vocab(folder: pathlib.Path):
    """A CLIP-shaped BPE vocabulary: every byte alone and word-final (`</w>`), merges that
    build each word of WORDS left to right, then the two special tokens."""
    base = bytes_to_unicode()
    vocab = base + [c + "</w>" for c in base]
    merges = []
    for word in WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            if pair not in merges:
                merges.append(pair)
                vocab.append(pair[0] + pair[1])
            pieces = [pair[0] + pair[1]] + pieces[2:]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return len(vocab)


def round_to_f16(model: torch.nn.Module):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def kind_config(kind: str):
    if kind == "sd15":
        return dict(
            text=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4, hidden_act="quick_gelu"),
            pad="<|endoftext|>",
            unet=dict(
                block_out_channels=(32, 32, 64),
                down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                attention_head_dim=8,
                layers_per_block=1,
            ),
            scheduler=dict(prediction_type="epsilon", timestep_spacing="leading", steps_offset=1),
        )
    if kind == "sd2":
        return dict(
            text=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, hidden_act="gelu"),
            pad="!",
            unet=dict(
                block_out_channels=(32, 32, 64),
                down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                attention_head_dim=[2, 2, 4],
                layers_per_block=1,
                use_linear_projection=True,
                upcast_attention=True,
            ),
            scheduler=dict(prediction_type="v_prediction", timestep_spacing="trailing", steps_offset=1),
        )
    raise SystemExit(f"unknown kind {kind!r}")


def build(kind: str, seed: int, out: pathlib.Path):
    cfg = kind_config(kind)
    tok_dir = out / "_vocab"
    vocab_size = write_tiny_clip_vocab(tok_dir)
    # transformers 5's CLIPTokenizer(...) takes the vocabulary as data, not file names (a
    # file name is silently ignored, leaving a 3-token vocabulary); from_pretrained reads
    # the original vocab.json + merges.txt pair.
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir, pad_token=cfg["pad"], model_max_length=77)
    assert len(tokenizer) == vocab_size, f"tokenizer has {len(tokenizer)} tokens, expected {vocab_size}"
    shutil.rmtree(tok_dir)

    torch.manual_seed(seed)
    text_cfg = CLIPTextConfig(
        vocab_size=vocab_size,
        max_position_embeddings=77,
        projection_dim=cfg["text"]["hidden_size"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **cfg["text"],
    )
    text_encoder = CLIPTextModel(text_cfg)
    torch.manual_seed(seed + 1)
    unet = UNet2DConditionModel(
        sample_size=SIZE // 8,
        in_channels=4,
        out_channels=4,
        cross_attention_dim=cfg["text"]["hidden_size"],
        norm_num_groups=16,
        **cfg["unet"],
    )
    torch.manual_seed(seed + 2)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=(16, 32, 32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=SIZE,
        scaling_factor=0.18215,
    )
    for m in (text_encoder, unet, vae):
        round_to_f16(m)
        m.eval()
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        num_train_timesteps=1000,
        **cfg["scheduler"],
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    if out.exists():
        shutil.rmtree(out)
    pipe.save_pretrained(out, safe_serialization=True)
    to_f16_and_prefix(out)
    return pipe


def to_f16_and_prefix(out: pathlib.Path):
    """Stores every weight file as float16 and gives the text encoder's keys the
    `text_model.` prefix (see the module docstring)."""
    for f in sorted(out.glob("*/*.safetensors")):
        tensors = load_file(f)
        if f.parent.name == "text_encoder":
            tensors = {k if k.startswith("text_model.") else f"text_model.{k}": v for k, v in tensors.items()}
            # Not a weight: a constant buffer some transformers versions save.
            tensors = {k: v for k, v in tensors.items() if not k.endswith("position_ids")}
        tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
        save_file(tensors, f, metadata={"format": "pt"})


@torch.no_grad()
def record(pipe: StableDiffusionPipeline, kind: str, seed: int, out: pathlib.Path):
    tok = pipe.tokenizer
    ids = lambda text: tok(text, padding="max_length", max_length=tok.model_max_length, truncation=False, return_tensors="pt").input_ids
    prompt_ids, negative_ids = ids(PROMPT), ids(NEGATIVE)
    prompt_embeds = pipe.text_encoder(prompt_ids)[0]
    negative_embeds = pipe.text_encoder(negative_ids)[0]

    g = torch.Generator().manual_seed(seed + 100)
    lat = SIZE // 8
    unet_sample = torch.randn((1, 4, lat, lat), generator=g)
    unet_out = pipe.unet(unet_sample, torch.tensor(UNET_TIMESTEP), encoder_hidden_states=prompt_embeds).sample
    vae_latents = torch.randn((1, 4, lat, lat), generator=g)
    vae_out = pipe.vae.decode(vae_latents).sample
    init_noise = torch.randn((1, 4, lat, lat), generator=g)
    # Latent sides that do not halve evenly at every level (9 -> 5 -> 3, 11 -> 6 -> 3): the
    # up path must upsample to the skip's size, not to twice its input.
    unet_odd_sample = torch.randn((1, 4, 9, 11), generator=g)
    unet_odd_out = pipe.unet(unet_odd_sample, torch.tensor(UNET_TIMESTEP), encoder_hidden_states=prompt_embeds).sample

    tensors = dict(
        prompt_ids=prompt_ids,
        negative_ids=negative_ids,
        prompt_embeds=prompt_embeds,
        negative_embeds=negative_embeds,
        unet_sample=unet_sample,
        unet_timestep=torch.tensor([UNET_TIMESTEP]),
        unet_out=unet_out,
        vae_latents=vae_latents,
        vae_out=vae_out,
        init_noise=init_noise,
        unet_odd_sample=unet_odd_sample,
        unet_odd_out=unet_odd_out,
    )
    runs = {}
    samplers = (
        ("ddim", DDIMScheduler, DDIM_STEPS),
        ("euler", EulerDiscreteScheduler, EULER_STEPS),
        ("euler_a", EulerAncestralDiscreteScheduler, EULER_A_STEPS),
    )
    for name, sched_cls, steps in samplers:
        pipe.scheduler = sched_cls.from_config(pipe.scheduler.config)
        step_seed = seed + 200
        if name == "euler_a":
            # The scheduler draws one randn per step from the pipeline's generator (the last
            # step included); the same generator state replays those draws.
            replay = torch.Generator().manual_seed(step_seed)
            tensors["euler_a_noise"] = torch.stack([torch.randn((1, 4, lat, lat), generator=replay) for _ in range(steps)])
        latents = pipe(
            generator=torch.Generator().manual_seed(step_seed),
            prompt=PROMPT,
            negative_prompt=NEGATIVE,
            num_inference_steps=steps,
            guidance_scale=GUIDANCE,
            height=SIZE,
            width=SIZE,
            latents=init_noise.clone(),
            output_type="latent",
        ).images
        image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
        tensors[f"{name}_latents"] = latents
        tensors[f"{name}_image"] = image
        runs[name] = dict(scheduler=sched_cls.__name__, steps=steps, timesteps=[float(t) for t in pipe.scheduler.timesteps])
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)

    save_file({k: v.contiguous() for k, v in tensors.items()}, out / "reference.safetensors")
    meta = dict(
        kind=kind,
        seed=seed,
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        guidance=GUIDANCE,
        width=SIZE,
        height=SIZE,
        unet_timestep=UNET_TIMESTEP,
        runs=runs,
        versions=dict(torch=torch.__version__, diffusers=diffusers.__version__, transformers=transformers.__version__, numpy=np.__version__),
    )
    (out / "reference.json").write_text(json.dumps(meta, indent=2) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=pathlib.Path, required=True, help="folder receiving one sub-folder per kind")
    ap.add_argument("--kinds", nargs="+", default=["sd15", "sd2"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for i, kind in enumerate(args.kinds):
        seed = args.seed + 1000 * i
        folder = args.out / kind
        pipe = build(kind, seed, folder)
        record(pipe, kind, seed, folder)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"{kind}: {folder} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
