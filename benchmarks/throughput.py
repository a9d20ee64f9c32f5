"""Training throughput through ``illusioncraft fit``: images/s, the share of step time spent waiting for data, and GPU
utilisation, for the CNN, DCGAN (64 px, batch 128), WGAN-GP and StackGAN Stage-I, with and without
``torch.compile``, ``bf16-mixed`` and ``channels_last`` (the CNN and the image GANs); and StackGAN Stage-I's 30 epochs end to end.

Each row builds the experiment's YAML through the command line's machinery (``IllusionCraftCLI`` with ``run=False``),
trains ``--warmup`` untimed steps, then times ``--steps`` training batches (validation off): the device is
synchronised once before and once after the timed batches, never in between. Data wait is the host time spent
inside the loader's ``next`` over those batches (drawing and transferring a batch; on a GPU the copies are
queued, so it is the host-side cost). GPU utilisation is ``torch.cuda.utilization()`` sampled every 0.1 s
during the timed batches (needs pynvml; "n/a" otherwise). On a machine without a GPU the same script runs on
the CPU and says so.

    python benchmarks/throughput.py [--accelerator gpu] [--workloads cnn dcgan wgan_gp stackgan] [--steps 200]
    python benchmarks/throughput.py --accelerator gpu --stackgan-epochs 30
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch import Callback

from illusioncraft import registry
from illusioncraft.callbacks.throughput import batch_size
from illusioncraft.cli import main as illusioncraft
from illusioncraft.cli.app import IllusionCraftCLI
from illusioncraft.cli.class_paths import install_registry_class_names
from illusioncraft.cli.errors import user_error_in

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
WORKLOADS = {  # label: (YAML, overrides)
    "cnn": ("CNN, 32 px digits, batch 64", "cnn_digits.yaml", ["--data.init_args.image_size", "32"]),
    "dcgan": ("DCGAN, 64 px shapes, batch 128", "dcgan_digits.yaml",
              ["--data", "captioned_shapes", "--data.init_args.image_size", "64", "--data.init_args.batch_size", "128",
               "--trainer.callbacks", "null"]),
    "wgan_gp": ("WGAN-GP, 16 px digits, batch 64", "wgan_gp_digits.yaml", ["--trainer.callbacks", "null"]),
    "stackgan": ("StackGAN Stage-I, 32 px shapes, batch 32", "stackgan_shapes_stage1.yaml", ["--trainer.callbacks", "null"]),
}
CHANNELS_LAST = ["--model.init_args.channels_last", "true"]
VARIANTS = {"fp32": [], "compile": ["--model.init_args.compile", "true"], "bf16-mixed": ["--trainer.precision", "bf16-mixed"],
            "channels_last": CHANNELS_LAST, "bf16-mixed + channels_last": ["--trainer.precision", "bf16-mixed", *CHANNELS_LAST]}


class TimedLoader:
    """The train loader, counting the host time spent in ``next`` once ``timing`` is on."""

    def __init__(self, loader: Any) -> None:
        self.loader, self.timing, self.seconds = loader, False, 0.0
        self.sampler, self.batch_sampler = getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Any:
        iterator = iter(self.loader)
        while True:
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            if self.timing:
                self.seconds += time.perf_counter() - start
            yield batch


class Clock(Callback):
    """Times ``steps`` batches after ``warmup`` (a device synchronisation at each end only), samples utilisation."""

    def __init__(self, warmup: int, steps: int, loader: TimedLoader) -> None:
        self.warmup, self.steps, self.loader = warmup, steps, loader
        self.seen = self.batches = self.samples = 0
        self.start = self.seconds = 0.0
        self.utilisation: list[float] = []
        self.sampling: Optional[threading.Thread] = None
        self.stop_sampling = threading.Event()

    def _sync(self, trainer: Any) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()

    def _sample_utilisation(self) -> None:
        while not self.stop_sampling.wait(0.1):
            self.utilisation.append(float(torch.cuda.utilization()))

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self.seen += 1
        if self.seen == self.warmup + 1:
            self._sync(trainer)
            self.start = time.perf_counter()
            self.loader.timing = True
            if trainer.strategy.root_device.type == "cuda":
                try:
                    torch.cuda.utilization()
                    self.sampling = threading.Thread(target=self._sample_utilisation, daemon=True)
                    self.sampling.start()
                except Exception:  # no pynvml: utilisation is not reported
                    self.sampling = None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.seen <= self.warmup or self.batches == self.steps:
            return
        self.batches += 1
        self.samples += batch_size(batch)
        if self.batches == self.steps:
            self._sync(trainer)
            self.seconds = time.perf_counter() - self.start
            self.loader.timing = False
            self.stop_sampling.set()
            trainer.should_stop = True


def measure(workload: str, variant: str, accelerator: str, warmup: int, steps: int, work_dir: Path) -> dict[str, Any]:
    label, config, overrides = WORKLOADS[workload]
    arguments = ["--config", str(EXPERIMENTS / config), *overrides, *VARIANTS[variant],
                 "--trainer.accelerator", accelerator, "--trainer.devices", "1", "--trainer.max_epochs", "1000",
                 "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
                 "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
                 "--run.dir", str(work_dir / f"{workload}_{variant}"), "--run.loggers", "[]", "--run.test_after_fit", "false"]
    try:
        cli = IllusionCraftCLI(arguments, run=False)
    except Exception as error:  # a refused combination (bf16 with a gradient penalty, compile without a compiler)
        reason = user_error_in(error) or error
        return {"label": label, "variant": variant, "refused": str(reason).splitlines()[0]}
    data = cli.datamodule
    data.trainer = cli.trainer  # the loader places the data on the trainer's device
    data.setup("fit")
    loader = TimedLoader(data.train_dataloader())
    data.train_dataloader = lambda: loader
    clock = Clock(warmup, steps, loader)
    cli.trainer.callbacks.append(clock)
    cli.trainer.fit(cli.model, datamodule=data)
    utilisation = f"{statistics.mean(clock.utilisation):.0f} %" if clock.utilisation else "n/a"
    return {"label": label, "variant": variant, "images_per_s": clock.samples / clock.seconds,
            "data_wait": loader.seconds / clock.seconds, "utilisation": utilisation}


def stackgan_epochs(epochs: int, accelerator: str, work_dir: Path) -> float:
    """Wall time of ``illusioncraft fit`` of the shapes Stage-I YAML for ``epochs`` epochs (validation and scoring on)."""
    start = time.perf_counter()
    illusioncraft(["fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), "--trainer.max_epochs", str(epochs),
                   "--trainer.accelerator", accelerator, "--trainer.devices", "1", "--trainer.enable_progress_bar", "false",
                   "--run.dir", str(work_dir / "stackgan_epochs"), "--run.loggers", "[csv]"])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="gpu" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--stackgan-epochs", type=int, default=0, help="also time a whole Stage-I fit of this many epochs")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/throughput_benchmark"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.accelerator == "gpu" and not torch.cuda.is_available():
        raise SystemExit("throughput: --accelerator gpu, but this machine has no GPU; run with --accelerator cpu")
    device = torch.cuda.get_device_name(0) if args.accelerator == "gpu" else f"CPU ({torch.get_num_threads()} threads)"
    registry.load_plugins()
    install_registry_class_names()
    print(f"{device}, torch {torch.__version__}; {args.steps} timed batches after {args.warmup}")
    print("| workload | variant | images/s | data wait | GPU utilisation |")
    print("|---|---|---|---|---|")
    for workload in args.workloads:
        for variant in args.variants:
            row = measure(workload, variant, args.accelerator, args.warmup, args.steps, args.work_dir)
            if "refused" in row:
                print(f"| {row['label']} | {variant} | refused: {row['refused']} | | |", flush=True)
                continue
            print(f"| {row['label']} | {variant} | {row['images_per_s']:,.0f} | {100 * row['data_wait']:.1f} % | "
                  f"{row['utilisation']} |", flush=True)
    if args.stackgan_epochs:
        seconds = stackgan_epochs(args.stackgan_epochs, args.accelerator, args.work_dir)
        print(f"\nStackGAN Stage-I, {args.stackgan_epochs} epochs of stackgan_shapes_stage1.yaml (validation and scoring "
              f"included): {seconds:.1f} s on {device}")


if __name__ == "__main__":
    main()
