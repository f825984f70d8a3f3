#!/usr/bin/env python3
"""A random-weight Stable Diffusion 1.5-architecture model for scripts/bench-diffusers.sh.

Writes a diffusers-layout folder with `StableDiffusionPipeline.save_pretrained` (float32
safetensors, as the original repository ships them) that both Chrysalis and diffusers load,
so the benchmark runs the two on the same weights. Nothing is downloaded:

- The configs are SD 1.5's own (runwayml/stable-diffusion-v1-5: UNet 320/640/1280/1280 with
  2 layers per block and 8 heads, VAE 128/256/512/512, CLIP ViT-L/14 text encoder: 12 layers,
  768 wide, quick-GELU, 49 408 tokens), written out here: 1.07 B parameters, 4.3 GB.
- The tokenizer is CLIP's real vocabulary, rebuilt from the BPE merges Chrysalis bundles
  (crates/art/assets/clip/clip_bpe_merges.txt.gz): 256 byte symbols, the same with `</w>`,
  one token per merge, `<|startoftext|>`, `<|endoftext|>` = 49 408 tokens. Both tools thus
  tokenize the prompt the same way.
- The weights are the modules' own random initialisation from a fixed seed (the images are
  noise; only the timing means anything). The scheduler is DDIM with SD 1.5's settings.

`--arch tiny` writes a fixture-sized model (the shape of make_fixtures.py's sd15 kind) with
the same tokenizer, for the benchmark's QUICK smoke run.
"""

import argparse
import gzip
import json
import pathlib
import shutil
import tempfile
import time

import torch
from safetensors.torch import load_file, save_file
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

ARCHS = {
    # https://huggingface.co/runwayml/stable-diffusion-v1-5 (unet/, vae/, text_encoder/ config.json)
    "sd15": dict(
        text=dict(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            hidden_act="quick_gelu",
            projection_dim=768,
            layer_norm_eps=1e-5,
        ),
        unet=dict(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            layers_per_block=2,
            attention_head_dim=8,
            cross_attention_dim=768,
            norm_num_groups=32,
            norm_eps=1e-5,
            act_fn="silu",
            downsample_padding=1,
            flip_sin_to_cos=True,
            freq_shift=0,
            mid_block_scale_factor=1,
            center_input_sample=False,
        ),
        vae=dict(
            sample_size=512,
            in_channels=3,
            out_channels=3,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            norm_num_groups=32,
            act_fn="silu",
            scaling_factor=0.18215,
        ),
    ),
    # make_fixtures.py's sd15 kind: every block type, a few hundred thousand parameters.
    "tiny": dict(
        text=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4, hidden_act="quick_gelu", projection_dim=32),
        unet=dict(
            sample_size=16,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 32, 64),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            layers_per_block=1,
            attention_head_dim=8,
            cross_attention_dim=32,
            norm_num_groups=16,
        ),
        vae=dict(
            sample_size=128,
            in_channels=3,
            out_channels=3,
            block_out_channels=(16, 32, 32, 32),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=8,
            scaling_factor=0.18215,
        ),
    ),
}


def bytes_to_unicode():
    """CLIP's (GPT-2's) byte -> printable character table, in the vocabulary's order: the
    printable Latin-1 bytes stand for themselves, the others move to code points 256 up."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    moved = [b for b in range(256) if b not in keep]
    return [chr(b) for b in keep] + [chr(256 + i) for i in range(len(moved))]


def write_clip_vocab(merges_gz: pathlib.Path, folder: pathlib.Path) -> int:
    """CLIP's vocab.json + merges.txt from the bundled merges (as OpenAI's tokenizer builds it)."""
    merges = gzip.decompress(merges_gz.read_bytes()).decode("utf-8").splitlines()
    merges = [m for m in merges if m and not m.startswith("#version")]
    base = bytes_to_unicode()
    vocab = base + [c + "</w>" for c in base] + ["".join(m.split(" ")) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408, f"{len(vocab)} tokens from {merges_gz}, expected CLIP's 49408"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(m + "\n" for m in merges))
    return len(vocab)


def add_text_model_prefix(folder: pathlib.Path):
    """transformers 5 saves `CLIPTextModel` without the `text_model.` level that the SD 1.5
    repository's text encoder (and transformers 4) has; put it back, as the original files
    have it (transformers 5 loads either; older Chrysalis builds read only the original)."""
    for f in sorted(folder.glob("*.safetensors")):
        tensors = load_file(f)
        tensors = {k if k.startswith("text_model.") else f"text_model.{k}": v for k, v in tensors.items()}
        tensors = {k: v.contiguous() for k, v in tensors.items() if not k.endswith("position_ids")}
        save_file(tensors, f, metadata={"format": "pt"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--arch", choices=sorted(ARCHS), default="sd15")
    ap.add_argument("--merges", type=pathlib.Path, required=True, help="crates/art/assets/clip/clip_bpe_merges.txt.gz")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = ARCHS[args.arch]
    t0 = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        vocab_size = write_clip_vocab(args.merges, pathlib.Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, pad_token="<|endoftext|>", model_max_length=77)
    assert len(tokenizer) == vocab_size, f"tokenizer has {len(tokenizer)} tokens, expected {vocab_size}"

    with torch.no_grad():
        torch.manual_seed(args.seed)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=vocab_size,
                max_position_embeddings=77,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                **cfg["text"],
            )
        )
        torch.manual_seed(args.seed + 1)
        unet = UNet2DConditionModel(**cfg["unet"])
        torch.manual_seed(args.seed + 2)
        vae = AutoencoderKL(**cfg["vae"])
    scheduler = DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
        timestep_spacing="leading",
    )
    pipe = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder))}
    if args.out.exists():
        shutil.rmtree(args.out)
    pipe.save_pretrained(args.out, safe_serialization=True)
    add_text_model_prefix(args.out / "text_encoder")
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(
        f"{args.arch}: {args.out}: {sum(params.values()) / 1e9:.3f} B parameters "
        f"({', '.join(f'{k} {v / 1e6:.1f} M' for k, v in params.items())}), {size / 1e9:.2f} GB, {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
