"""Built-in ``image_classification`` trainable: torchvision models on image datasets.

Reports per epoch: ``train/loss``, ``train/accuracy``, ``val/loss``, ``val/accuracy``,
``val/top1_accuracy``, ``val/top5_accuracy`` (5+ classes), ``learning_rate``, ``epoch``
(0-based) and ``train/samples_per_second``; checkpoints model, optimizer, scheduler and
epoch each time. With two or more GPUs (or ``ddp_workers``) it trains with DDP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from sweeprunner.trainables import ddp
from sweeprunner.trainables.checkpointing import load_state, report_with_state
from sweeprunner.trainables.optim import OPTIMIZERS, build_optimizer, warmup_schedule
from sweeprunner.trainables.options import Options
from sweeprunner.trainables.runtime import (
    amp_dtype,
    default_world_size,
    pick_device,
    seed_everything,
    set_threads,
)
from sweeprunner.trainables.vision_data import DEFAULT_SIZE, kind_of, load_image_data
from sweeprunner.trainables.vision_models import build_model, check_architecture
from sweeprunner.trial import session


@dataclass(frozen=True)
class VisionConfig:
    """The keys this trainable reads (flat), with their defaults."""

    architecture: str = "resnet18"
    pretrained: bool = False
    weights_path: str | None = None
    dropout: float = 0.0
    data: str = "digits"
    download_dir: str = "~/.cache/sweeprunner/data"
    num_classes: int | None = None
    image_size: int | None = None
    fake_samples: int = 2048
    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    nesterov: bool = False
    batch_size: int = 64
    epochs: int = 10
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    amp: str = "auto"
    channels_last: bool | None = None
    device: str = "auto"
    ddp_workers: int | None = None
    num_workers: int | None = None
    max_steps_per_epoch: int | None = None
    seed: int = 0

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> VisionConfig:
        """Validate ``config``; ValueError names the first bad key."""
        o, d = Options(config), cls()
        cfg = cls(
            architecture=o.str("architecture", d.architecture),
            pretrained=o.bool("pretrained", d.pretrained),
            weights_path=o.str("weights_path", None),
            dropout=o.float("dropout", d.dropout, minimum=0.0, maximum=1.0),
            data=o.str("data", d.data),
            download_dir=o.str("download_dir", d.download_dir),
            num_classes=o.int("num_classes", None, minimum=2),
            image_size=o.int("image_size", None, minimum=8),
            fake_samples=o.int("fake_samples", d.fake_samples, minimum=1),
            optimizer=o.choice("optimizer", d.optimizer, OPTIMIZERS),
            learning_rate=o.float("learning_rate", d.learning_rate, minimum=0.0),
            weight_decay=o.float("weight_decay", d.weight_decay, minimum=0.0),
            momentum=o.float("momentum", d.momentum, minimum=0.0, maximum=1.0),
            nesterov=o.bool("nesterov", d.nesterov),
            batch_size=o.int("batch_size", d.batch_size, minimum=1),
            epochs=o.int("epochs", d.epochs, minimum=1),
            warmup_epochs=o.float("warmup_epochs", d.warmup_epochs, minimum=0.0),
            label_smoothing=o.float("label_smoothing", d.label_smoothing, minimum=0.0, maximum=1.0),
            mixup_alpha=o.float("mixup_alpha", d.mixup_alpha, minimum=0.0),
            cutmix_alpha=o.float("cutmix_alpha", d.cutmix_alpha, minimum=0.0),
            amp=o.choice("amp", d.amp, ("auto", "bf16", "fp16", "none")),
            channels_last=None
            if o.raw("channels_last") is None
            else o.bool("channels_last", False),
            device=o.choice("device", d.device, ("auto", "cpu", "cuda")),
            ddp_workers=o.int("ddp_workers", None, minimum=1),
            num_workers=o.int("num_workers", None, minimum=0),
            max_steps_per_epoch=o.int("max_steps_per_epoch", None, minimum=1),
            seed=o.int("seed", d.seed),
        )
        check_architecture(cfg.architecture)
        kind_of(cfg.data)
        return cfg


KEYS = tuple(f.name for f in fields(VisionConfig))


def train(config: dict[str, Any]) -> None:
    """Train ``config["architecture"]`` on ``config["data"]``, reporting once per epoch."""
    cfg = VisionConfig.from_dict(config)
    world_size = cfg.ddp_workers or default_world_size(cfg.device)
    if world_size > 1:
        backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
        ddp.launch(_ddp_worker, dict(config), world_size, backend=backend)
        return
    cpus = session.assigned_cpus()
    set_threads(cpus)
    with session.restored_checkpoint() as restored:
        state = load_state(restored)
    _run(cfg, rank=0, world_size=1, reporter=session.report, state=state, cpus=cpus)


def _ddp_worker(config: dict[str, Any], rank: int, world_size: int, reporter, restore_dir) -> None:
    cfg = VisionConfig.from_dict(config)
    _run(
        cfg,
        rank=rank,
        world_size=world_size,
        reporter=reporter,
        state=load_state(restore_dir),
        cpus=torch.get_num_threads(),
    )


def _loaders(cfg: VisionConfig, data, device: torch.device, rank: int, world_size: int, cpus: int):
    workers = cfg.num_workers
    if workers is None:
        workers = 0 if data.in_memory else (cpus if device.type == "cuda" else max(0, cpus - 1))
    common = {
        "num_workers": workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": workers > 0,
    }
    generator = torch.Generator()
    if world_size > 1:
        train_sampler = DistributedSampler(
            data.train, world_size, rank, shuffle=True, seed=cfg.seed
        )
        val_sampler = DistributedSampler(data.val, world_size, rank, shuffle=False)
        train = DataLoader(
            data.train, cfg.batch_size, sampler=train_sampler, drop_last=True, **common
        )
        val = DataLoader(data.val, cfg.batch_size, sampler=val_sampler, **common)
    else:
        drop_last = len(data.train) > cfg.batch_size
        train = DataLoader(
            data.train,
            cfg.batch_size,
            shuffle=True,
            generator=generator,
            drop_last=drop_last,
            **common,
        )
        val = DataLoader(data.val, cfg.batch_size, **common)

    def start_epoch(epoch: int) -> None:
        if isinstance(train.sampler, DistributedSampler):
            train.sampler.set_epoch(epoch)
        generator.manual_seed(cfg.seed * 100_003 + epoch)  # same order after a resume

    return train, val, start_epoch


def _mixer(cfg: VisionConfig, num_classes: int):
    """torchvision.transforms.v2 MixUp/CutMix on a batch (one picked per batch if both), or None."""
    from torchvision.transforms import v2

    mixers = []
    if cfg.cutmix_alpha > 0:
        mixers.append(v2.CutMix(alpha=cfg.cutmix_alpha, num_classes=num_classes))
    if cfg.mixup_alpha > 0:
        mixers.append(v2.MixUp(alpha=cfg.mixup_alpha, num_classes=num_classes))
    if not mixers:
        return None
    return mixers[0] if len(mixers) == 1 else v2.RandomChoice(mixers)


def _logits(output: Any) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output[0]


def _run(
    cfg: VisionConfig, *, rank: int, world_size: int, reporter, state: dict | None, cpus: int
) -> None:
    seed_everything(cfg.seed + rank)
    device = pick_device(cfg.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", rank)
    amp = amp_dtype(cfg.amp, device)
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cuda"
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    size = cfg.image_size or DEFAULT_SIZE[kind_of(cfg.data)]
    data = load_image_data(
        cfg.data,
        size=size,
        download_dir=cfg.download_dir,
        num_classes=cfg.num_classes,
        fake_samples=cfg.fake_samples,
    )
    if cfg.num_classes is not None and cfg.num_classes != data.num_classes:
        raise ValueError(
            f"config key 'num_classes': {cfg.num_classes} but data {cfg.data!r} has {data.num_classes}"
        )
    num_classes = data.num_classes
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = build_model(
        cfg.architecture,
        num_classes=num_classes,
        dropout=cfg.dropout,
        pretrained=cfg.pretrained,
        weights_path=cfg.weights_path,
    )
    model = model.to(device, memory_format=memory_format)
    train_loader, val_loader, start_epoch = _loaders(cfg, data, device, rank, world_size, cpus)
    steps = (
        len(train_loader)
        if cfg.max_steps_per_epoch is None
        else min(len(train_loader), cfg.max_steps_per_epoch)
    )
    optimizer = build_optimizer(
        model,
        cfg.optimizer,
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
    )
    scheduler = warmup_schedule(
        optimizer, round(cfg.warmup_epochs * steps), cfg.epochs * steps, "cosine"
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    first_epoch = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        first_epoch = int(state["epoch"]) + 1
    net = model
    if world_size > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    mixer = _mixer(cfg, num_classes)
    train_loss = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    for epoch in range(first_epoch, cfg.epochs):
        start_epoch(epoch)
        began = time.perf_counter()
        net.train()
        sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss*n, correct, n
        for step, (images, labels) in enumerate(train_loader):
            if step >= steps:
                break
            images = images.to(device, non_blocking=True).contiguous(memory_format=memory_format)
            labels = labels.to(device, non_blocking=True)
            targets = labels
            if mixer is not None:
                images, targets = mixer(images, labels)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                logits = _logits(net(images))
                loss = train_loss(logits.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            hard = targets.argmax(1) if targets.ndim == 2 else targets
            n = images.size(0)
            sums += torch.stack(
                [
                    loss.detach().double() * n,
                    (logits.argmax(1) == hard).sum().double(),
                    torch.tensor(float(n), dtype=torch.float64, device=device),
                ]
            )
        loss_sum, correct, seen = ddp.all_reduce_sum(sums.tolist(), device)
        elapsed = time.perf_counter() - began
        val = _evaluate(net, val_loader, device, amp, memory_format, num_classes)
        metrics = {
            "train/loss": loss_sum / max(seen, 1),
            "train/accuracy": correct / max(seen, 1),
            **val,
            "learning_rate": scheduler.get_last_lr()[0],
            "epoch": epoch,
            "train/samples_per_second": seen / max(elapsed, 1e-9),
        }
        if rank == 0:
            report_with_state(
                reporter,
                metrics,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "epoch": epoch,
                },
            )


@torch.no_grad()
def _evaluate(
    net: nn.Module, loader: DataLoader, device: torch.device, amp, memory_format, num_classes: int
) -> dict[str, float]:
    net.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss*n, top1, top5, n
    k = min(5, num_classes)
    for images, labels in loader:
        images = images.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        labels = labels.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = _logits(net(images)).float()
        loss = nn.functional.cross_entropy(logits, labels, reduction="sum")
        topk = logits.topk(k, dim=1).indices
        hits = topk == labels.unsqueeze(1)
        sums += torch.stack(
            [
                loss.double(),
                hits[:, 0].sum().double(),
                hits.any(1).sum().double(),
                torch.tensor(float(labels.numel()), dtype=torch.float64, device=device),
            ]
        )
    loss_sum, top1, top5, seen = ddp.all_reduce_sum(sums.tolist(), device)
    seen = max(seen, 1.0)
    out = {
        "val/loss": loss_sum / seen,
        "val/accuracy": top1 / seen,
        "val/top1_accuracy": top1 / seen,
    }
    if num_classes >= 5:
        out["val/top5_accuracy"] = top5 / seen
    return out
