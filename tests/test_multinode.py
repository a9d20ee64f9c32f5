"""Two machines, simulated on this one: two ``torchrun`` launches as node 0 and node 1 (one process each, gloo over
localhost) train one run together, and score like one process on the same checkpoint. The launch command is the
README's (Scaling out), with this machine's address."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from conftest import EXPERIMENTS, QUIET, read_metrics, run_cli


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_on_two_nodes(run_dir, *arguments: str) -> None:
    """``torchrun`` on node 0 and node 1 at once, each one process; both must succeed."""
    port = free_port()
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
             "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", str(port),
             "-m", "illusioncraft.cli", "fit", *arguments, "--trainer.num_nodes", "2", "--trainer.devices", "1",
             "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp", "--run.dir", str(run_dir),
             "--run.loggers", "[csv]", *QUIET],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for rank in (0, 1)
    ]
    for rank, node in enumerate(nodes):
        _, err = node.communicate(timeout=600)
        assert node.returncode == 0, f"node {rank} failed:\n{err[-3000:]}"


@pytest.mark.parametrize(
    ("experiment", "metrics"),
    [
        ("cnn_digits.yaml", ("val/acc", "val/loss")),
        ("gan_ring8.yaml", ("val/modes", "val/high_quality", "val/reverse_kl")),
    ],
)
def test_two_torchrun_nodes_train_one_run_that_scores_like_one_process(tmp_path, experiment, metrics):
    config = ["--config", str(EXPERIMENTS / experiment), "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4",
              "--trainer.limit_val_batches", "1.0", "--trainer.log_every_n_steps", "1", "--run.test_after_fit", "false"]
    run_dir = tmp_path / "two_nodes"
    train_on_two_nodes(run_dir, *config)
    together = read_metrics(run_dir)
    alone = read_metrics(run_cli(tmp_path, "validate", *config, "--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt")))
    for name in metrics:
        assert together[name] == pytest.approx(alone[name], rel=1e-5), name
    assert (run_dir / "config.yaml").is_file() and sorted(p.name for p in (run_dir / "checkpoints").iterdir())
