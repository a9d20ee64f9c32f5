"""Text-to-image on the embedded captioned shapes: attribute accuracy and FID of StackGAN Stage-I and Stage-II,
and what lemmatization and stemming do for captions worded unlike the training captions.

Protocol. Per seed: Stage-I trains from ``experiments/stackgan_shapes_stage1.yaml`` and Stage-II from
``experiments/stackgan_shapes_stage2.yaml`` on that Stage-I's last checkpoint, through the real CLI (epochs as
below, everything else from the YAMLs). The Stage-II run's last validation scores both stages on the same 500
validation captions with the same 64 px attribute classifier (trained apart, on real training images, half of
each batch at a random lower resolution): attribute accuracy (share of (image, attribute) pairs read as the
caption says) and FID in the classifier's feature space (Stage-I images are up-sampled to 64 px by the
classifier's input resize).

Text pipelines. Stage-I is trained once more (seed 0) with each pipeline and prompted with 500 held-out
captions (templates and word forms never used in training: plurals, -ing forms, comparatives); we report the
share of their words the vocabulary does not know and the attribute accuracy of the images drawn for them.

DF-GAN against StackGAN (``--part dfgan``). Per seed, StackGAN Stage-I then Stage-II train as above, and DF-GAN
(``experiments/dfgan_shapes.yaml``, 64 px) trains until its process CPU seconds in training (validations
included, set-up excluded) pass those of the two stages together; every run records its CPU and wall seconds
and its scores at each validation (``clock.json``). The table shows each model's last validation and the CPU
and wall seconds at its first validation with attribute accuracy >= 90 % (StackGAN: Stage-II's, counting the
whole Stage-I). Run it on one thread (``OMP_NUM_THREADS=1``) so CPU seconds stand for work done.

    python benchmarks/text_to_image.py [--seeds 0 1 2] [--stage1-epochs 30] [--stage2-epochs 3]
                                       [--part stages|pipelines|dfgan|both] [--stage1-width W] [--work-dir DIR]

``--stage1-width`` overrides the Stage-I YAML's network width (its runs are kept apart, suffixed ``_wW``).

With ``--work-dir`` the runs are kept there and a finished run (marked by ``finished``) is reused by the next
invocation with the same seed and epochs, so seeds can run in separate processes and an interrupted benchmark
resumes; delete a run's directory to train it again. A run trained from another version of its YAML or with
other arguments stops the benchmark with one line instead of being reused; after a change to the code itself,
use a new work directory.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from illusioncraft import registry
from illusioncraft.cli import main
from illusioncraft.data.shapes import CaptionedShapesDataModule
from illusioncraft.generate import load_generator
from illusioncraft.metrics.attributes import attribute_accuracy, load_attribute_classifier

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--run.loggers", "[csv]", "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
PIPELINES = {
    "lowercase + tokenize": ["lowercase", "tokenize"],
    "+ lemmatize": ["lowercase", "tokenize", "lemmatize"],
    "+ lemmatize + stem (default)": ["lowercase", "tokenize", "lemmatize", "stem"],
}


@registry.register("benchmark_clock", kind="callback")
class TrainingClock(Callback):
    """Process CPU and wall seconds since training began and the validation scores, at every validation, into
    ``path`` (JSON rows); stops the run at the first validation past ``cpu_budget`` CPU seconds."""

    def __init__(self, path: str, cpu_budget: Optional[float] = None) -> None:
        self.path, self.cpu_budget, self.rows = Path(path), cpu_budget, []
        self.start_cpu = self.start_wall = 0.0

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.start_cpu, self.start_wall = time.process_time(), time.perf_counter()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        cpu = time.process_time() - self.start_cpu
        scores = {key: float(value) for key, value in trainer.callback_metrics.items() if key.startswith("val/")}
        self.rows.append({"epoch": trainer.current_epoch, "batches": getattr(pl_module, "discriminator_steps", 0),
                          "cpu": cpu, "wall": time.perf_counter() - self.start_wall, **scores})
        self.path.write_text(json.dumps(self.rows, indent=1))
        if self.cpu_budget is not None and cpu >= self.cpu_budget:
            trainer.should_stop = True


def clocked(run_dir: Path, cpu_budget: Optional[float] = None) -> list[str]:
    """The arguments that add a ``TrainingClock`` writing ``run_dir/clock.json``."""
    arguments = ["--trainer.callbacks+=benchmark_clock", f"--trainer.callbacks.path={run_dir / 'clock.json'}"]
    return arguments + ([] if cpu_budget is None else [f"--trainer.callbacks.cpu_budget={cpu_budget:.0f}"])


def clock_rows(run_dir: Path) -> list[dict[str, Any]]:
    return json.loads((run_dir / "clock.json").read_text())


def last_scores(run_dir: Path) -> dict[str, float]:
    values: dict[str, float] = {}
    with open(run_dir / "metrics.csv") as handle:
        for row in csv.DictReader(handle):
            values.update({key: float(value) for key, value in row.items() if value not in ("", None)})
    return values


def fit(config: str, run_dir: Path, seed: int, epochs: int, *extra: str) -> Path:
    """Train ``config`` into ``run_dir``, or reuse the finished run already there if it was trained from the same
    YAML text and arguments (its ``finished`` marker records both)."""
    path = ROOT / "experiments" / config
    recipe = f"{config} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}\n{' '.join(extra)}\n"
    marker = run_dir / "finished"
    if marker.is_file():
        if marker.read_text() != recipe:
            raise SystemExit(f"text_to_image: {run_dir} was trained from another version of {config} or other "
                             "arguments; delete it or use another --work-dir")
        print(f"reusing the finished run {run_dir}", flush=True)
        return run_dir
    main(["fit", "--config", str(path), "--seed_everything", str(seed),
          "--data.init_args.seed", str(seed), "--trainer.max_epochs", str(epochs), "--run.dir", str(run_dir), *QUIET, *extra])
    marker.write_text(recipe)
    return run_dir


def summary(values: list[float], scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    return f"{values[0]:.1f}" if len(values) == 1 else f"{statistics.mean(values):.1f} +- {statistics.stdev(values):.1f}"


@torch.no_grad()
def held_out_scores(checkpoint: Path, n: int = 500) -> tuple[float, float]:
    """(share of held-out caption words unknown to the model, attribute accuracy of its images for them)."""
    model = load_generator(checkpoint)
    data = CaptionedShapesDataModule(seed=0, image_size=32)
    captions, attributes = zip(*data.held_out_captions(n, seed=123), strict=True)
    tokens, _ = model.encode_captions(list(captions))
    from illusioncraft.text import TextEncoder

    encoder = TextEncoder.from_state(model.text_state)
    words = sum(len(caption.split()) for caption in captions)
    unknown = sum(len(encoder.unknown_words(caption)) for caption in captions)
    torch.manual_seed(0)
    images = model.sample(condition=tokens)
    classifier = load_attribute_classifier("captioned_shapes", 32, 0)
    return unknown / words, attribute_accuracy(classifier, images, torch.stack(attributes))["mean"]


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--stage1-epochs", type=int, default=30)
    parser.add_argument("--stage2-epochs", type=int, default=3)
    parser.add_argument("--stage1-width", type=int, default=None,
                        help="Stage-I network width (default: the YAML's); Stage-II reads it from the checkpoint")
    parser.add_argument("--part", choices=["stages", "pipelines", "dfgan", "both"], default="both",
                        help="the two-stage table, the text-pipeline table, both, or DF-GAN against StackGAN")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep runs here and reuse finished ones")
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="text_to_image_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.part in ("stages", "both"):
        stages_table(args, work)
    if args.part in ("pipelines", "both"):
        pipelines_table(args, work)
    if args.part == "dfgan":
        dfgan_table(args, work)


def stages_table(args: argparse.Namespace, work: Path) -> None:
    rows: dict[str, list[float]] = {}
    width = [] if args.stage1_width is None else ["--model.init_args.width", str(args.stage1_width)]
    tag = f"e{args.stage1_epochs}" + ("" if args.stage1_width is None else f"_w{args.stage1_width}")
    for seed in args.seeds:
        stage1 = fit("stackgan_shapes_stage1.yaml", work / f"stage1_seed{seed}_{tag}", seed, args.stage1_epochs, *width)
        stage2 = fit("stackgan_shapes_stage2.yaml", work / f"stage2_seed{seed}_{tag}_{args.stage2_epochs}", seed,
                     args.stage2_epochs,
                     "--model.init_args.stage1_checkpoint", str(stage1 / "checkpoints" / "last.ckpt"))
        scores = last_scores(stage2)
        for key in ("val/stage1_attribute_accuracy", "val/attribute_accuracy", "val/stage1_attribute_all",
                    "val/attribute_all", "val/stage1_fid", "val/fid"):
            rows.setdefault(key, []).append(scores[key])
        shown = ", ".join(f"{key} {scores[key]:.4f}" for key in sorted(scores) if key.startswith("val/"))
        print(f"seed {seed}: {shown}", flush=True)
    print(f"\nStackGAN on captioned_shapes (32 px -> 64 px), {len(args.seeds)} seeds, Stage-I {args.stage1_epochs} epochs, "
          f"Stage-II {args.stage2_epochs} epochs{'' if args.stage1_width is None else f', Stage-I width {args.stage1_width}'}; "
          "500 validation captions, 64 px attribute classifier")
    print("| stage | attribute accuracy % | all attributes right % | FID (attribute-classifier features) |")
    print("|---|---|---|---|")
    print(f"| Stage-I (32 px) | {summary(rows['val/stage1_attribute_accuracy'], 100)} | "
          f"{summary(rows['val/stage1_attribute_all'], 100)} | {summary(rows['val/stage1_fid'])} |")
    print(f"| Stage-II (64 px) | {summary(rows['val/attribute_accuracy'], 100)} | "
          f"{summary(rows['val/attribute_all'], 100)} | {summary(rows['val/fid'])} |")


def pipelines_table(args: argparse.Namespace, work: Path) -> None:
    print("\nText pipeline on 500 held-out paraphrased captions (Stage-I, seed 0)")
    print("| text steps | unknown words % | attribute accuracy % |")
    print("|---|---|---|")
    for label, steps in PIPELINES.items():
        run_dir = fit("stackgan_shapes_stage1.yaml", work / f"pipeline_{len(steps)}_e{args.stage1_epochs}", 0, args.stage1_epochs,
                      "--data.init_args.text_steps", str(steps).replace("'", ""))
        unknown, accuracy = held_out_scores(run_dir / "checkpoints" / "last.ckpt")
        print(f"| {label} | {100 * unknown:.1f} | {100 * accuracy:.1f} |", flush=True)



def first_at_90(rows: list[dict[str, Any]], cpu_before: float = 0.0, wall_before: float = 0.0) -> str:
    """'CPU s / wall s' of the first validation with attribute accuracy >= 90 %, or 'not reached'."""
    for row in rows:
        if row.get("val/attribute_accuracy", 0.0) >= 0.9:
            return f"{cpu_before + row['cpu']:.0f} / {wall_before + row['wall']:.0f}"
    return "not reached"


def dfgan_table(args: argparse.Namespace, work: Path) -> None:
    lines = []
    for seed in args.seeds:
        tag = f"seed{seed}_e{args.stage1_epochs}_{args.stage2_epochs}"
        stage1_dir, stage2_dir = work / f"clocked_stage1_{tag}", work / f"clocked_stage2_{tag}"
        fit("stackgan_shapes_stage1.yaml", stage1_dir, seed, args.stage1_epochs, *clocked(stage1_dir))
        fit("stackgan_shapes_stage2.yaml", stage2_dir, seed, args.stage2_epochs, *clocked(stage2_dir),
            "--model.init_args.stage1_checkpoint", str(stage1_dir / "checkpoints" / "last.ckpt"))
        stage1, stage2 = clock_rows(stage1_dir)[-1], clock_rows(stage2_dir)
        budget = stage1["cpu"] + stage2[-1]["cpu"]
        dfgan_dir = work / f"clocked_dfgan_{tag}"
        fit("dfgan_shapes.yaml", dfgan_dir, seed, 1000, *clocked(dfgan_dir, budget))
        dfgan = clock_rows(dfgan_dir)
        for label, rows, before in (("StackGAN Stage-I+II", stage2, stage1), ("DF-GAN", dfgan, {"cpu": 0.0, "wall": 0.0})):
            last = rows[-1]
            lines.append(f"| {label} | {seed} | {before['cpu'] + last['cpu']:.0f} | {before['wall'] + last['wall']:.0f} | "
                         f"{100 * last['val/attribute_accuracy']:.1f} | {100 * last['val/attribute_accuracy_shape']:.1f} | "
                         f"{100 * last['val/attribute_all']:.1f} | {last['val/fid']:.1f} | "
                         f"{first_at_90(rows, before['cpu'], before['wall'])} |")
    print(f"\nDF-GAN against StackGAN on captioned_shapes (64 px) at the same training CPU seconds; StackGAN Stage-I "
          f"{args.stage1_epochs} epochs + Stage-II {args.stage2_epochs}; last validation, 500 captions, "
          "64 px attribute classifier")
    print("| model | seed | CPU s | wall s | attribute accuracy % | shape % | all four % | FID | CPU s / wall s to 90 % |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    run()
