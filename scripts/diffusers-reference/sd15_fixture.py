"""What the fixture scripts built on the sd15 test model share: the command line (`--model`,
the committed sd15 fixture by default), deterministic single-threaded torch, the output
folder beside the model, and the model's reference.json."""

import argparse
import json
import pathlib

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def open_sd15(doc, subdir):
    """Parses the command line of the script whose docstring is `doc`; returns the model
    folder, `<model>/<subdir>` (created) and the model's reference.json."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=pathlib.Path, default=ROOT / "crates/art/tests/fixtures/diffusers/sd15")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = args.model / subdir
    out.mkdir(exist_ok=True)
    meta = json.loads((args.model / "reference.json").read_text())
    return args.model, out, meta
