"""Built-in ``text_classification`` trainable: fine-tune a transformers sequence classifier.

Reports per epoch (and every ``eval_steps`` optimizer steps when set): ``eval/f1`` (binary
for two classes, macro otherwise), ``eval/accuracy``, ``eval/loss``, ``train/loss``,
``learning_rate``, ``epoch`` (0-based) and ``step``. Epoch reports carry a checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from sweeprunner.trainables import text_assets
from sweeprunner.trainables.checkpointing import load_state, report_with_state
from sweeprunner.trainables.optim import OPTIMIZERS, SCHEDULES, build_optimizer, warmup_schedule
from sweeprunner.trainables.options import Options
from sweeprunner.trainables.runtime import ensure_isatty, pick_device, seed_everything, set_threads
from sweeprunner.trainables.text_data import load_text_data
from sweeprunner.trial import session


@dataclass(frozen=True)
class TextConfig:
    """The keys this trainable reads (flat, Hugging Face TrainingArguments names), with defaults."""

    model_name: str = "distilbert-base-uncased"
    dataset: str = "glue/sst2"
    dataset_config: str | None = None
    train_file: str | None = None
    eval_file: str | None = None
    train_split: str = "train"
    eval_split: str = "validation"
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str = "label"
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    cache_dir: str = text_assets.DEFAULT_CACHE
    max_seq_length: int = 128
    optimizer: str = "adamw"
    learning_rate: float = 5e-5
    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int | None = None
    num_train_epochs: int = 3
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 1.0
    lr_scheduler_type: str = "linear"
    fp16: bool = False
    bf16: bool = False
    eval_steps: int | None = None
    device: str = "auto"
    seed: int = 42

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> TextConfig:
        """Validate ``config``; ValueError names the first bad key."""
        o, d = Options(config), cls()
        cfg = cls(
            model_name=o.str("model_name", d.model_name),
            dataset=o.str("dataset", d.dataset),
            dataset_config=o.str("dataset_config", None),
            train_file=o.str("train_file", None),
            eval_file=o.str("eval_file", None),
            train_split=o.str("train_split", d.train_split),
            eval_split=o.str("eval_split", d.eval_split),
            text_column=o.str("text_column", None),
            text_pair_column=o.str("text_pair_column", None),
            label_column=o.str("label_column", d.label_column),
            max_train_samples=o.int("max_train_samples", None, minimum=1),
            max_eval_samples=o.int("max_eval_samples", None, minimum=1),
            cache_dir=o.str("cache_dir", d.cache_dir),
            max_seq_length=o.int("max_seq_length", d.max_seq_length, minimum=8),
            optimizer=o.choice("optimizer", d.optimizer, OPTIMIZERS),
            learning_rate=o.float("learning_rate", d.learning_rate, minimum=0.0),
            per_device_train_batch_size=o.int(
                "per_device_train_batch_size", d.per_device_train_batch_size, minimum=1
            ),
            per_device_eval_batch_size=o.int("per_device_eval_batch_size", None, minimum=1),
            num_train_epochs=o.int("num_train_epochs", d.num_train_epochs, minimum=1),
            warmup_ratio=o.float("warmup_ratio", d.warmup_ratio, minimum=0.0, maximum=1.0),
            weight_decay=o.float("weight_decay", d.weight_decay, minimum=0.0),
            adam_beta1=o.float("adam_beta1", d.adam_beta1, minimum=0.0, maximum=1.0),
            adam_beta2=o.float("adam_beta2", d.adam_beta2, minimum=0.0, maximum=1.0),
            adam_epsilon=o.float("adam_epsilon", d.adam_epsilon, minimum=0.0),
            gradient_accumulation_steps=o.int("gradient_accumulation_steps", 1, minimum=1),
            max_grad_norm=o.float("max_grad_norm", d.max_grad_norm, minimum=0.0),
            lr_scheduler_type=o.choice("lr_scheduler_type", d.lr_scheduler_type, SCHEDULES),
            fp16=o.bool("fp16", False),
            bf16=o.bool("bf16", False),
            eval_steps=o.int("eval_steps", None, minimum=1),
            device=o.choice("device", d.device, ("auto", "cpu", "cuda")),
            seed=o.int("seed", d.seed),
        )
        if cfg.fp16 and cfg.bf16:
            raise ValueError("config keys 'fp16' and 'bf16': set at most one of them")
        return cfg


def _load_model(cfg: TextConfig, num_labels: int, label_names: list[str]):
    """Tokenizer and classifier via ``from_pretrained`` (hub name, local dir, or builtin:tiny-bert)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = cfg.model_name
    if source == text_assets.TINY_BERT:
        source = str(text_assets.tiny_bert(cfg.cache_dir))
    elif source.startswith("builtin:"):
        raise ValueError(
            f"config key 'model_name': unknown builtin {source!r}; use {text_assets.TINY_BERT!r}"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            num_labels=num_labels,
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
        )
    except OSError as exc:
        raise RuntimeError(
            f"model_name {cfg.model_name!r} could not be loaded ({exc}); without internet set "
            "model_name to a local directory written by save_pretrained (tokenizer and model)"
        ) from exc
    return tokenizer, model


def _loaders(cfg: TextConfig, data, tokenizer, text_col: str, pair_col: str | None, label_col: str):
    import datasets
    from transformers import DataCollatorWithPadding

    datasets.disable_progress_bars()

    def encode(batch):
        pairs = batch[pair_col] if pair_col else None
        out = tokenizer(batch[text_col], pairs, truncation=True, max_length=cfg.max_seq_length)
        out["labels"] = batch[label_col]
        return out

    def prepare(ds):
        return ds.map(encode, batched=True, remove_columns=ds.column_names, keep_in_memory=True)

    collate = DataCollatorWithPadding(tokenizer)
    generator = torch.Generator()
    train = DataLoader(
        prepare(data.train),
        cfg.per_device_train_batch_size,
        shuffle=True,
        generator=generator,
        collate_fn=collate,
    )
    eval_batch = cfg.per_device_eval_batch_size or 2 * cfg.per_device_train_batch_size
    evaluation = DataLoader(prepare(data.eval), eval_batch, collate_fn=collate)
    return train, evaluation, generator


def train(config: dict[str, Any]) -> None:
    """Fine-tune ``config["model_name"]`` on ``config["dataset"]``, reporting once per epoch."""
    cfg = TextConfig.from_dict(config)
    ensure_isatty()
    set_threads(session.assigned_cpus())
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    amp = None
    if device.type == "cuda":
        amp = torch.float16 if cfg.fp16 else torch.bfloat16 if cfg.bf16 else None

    data, text_col, pair_col = load_text_data(
        dataset=cfg.dataset,
        dataset_config=cfg.dataset_config,
        train_file=cfg.train_file,
        eval_file=cfg.eval_file,
        train_split=cfg.train_split,
        eval_split=cfg.eval_split,
        text_column=cfg.text_column,
        text_pair_column=cfg.text_pair_column,
        label_column=cfg.label_column,
        cache_dir=cfg.cache_dir,
        max_train_samples=cfg.max_train_samples,
        max_eval_samples=cfg.max_eval_samples,
    )
    tokenizer, model = _load_model(cfg, data.num_labels, data.label_names)
    model.to(device)
    train_loader, eval_loader, generator = _loaders(
        cfg, data, tokenizer, text_col, pair_col, cfg.label_column
    )

    steps_per_epoch = math.ceil(len(train_loader) / cfg.gradient_accumulation_steps)
    total_steps = steps_per_epoch * cfg.num_train_epochs
    optimizer = build_optimizer(
        model,
        cfg.optimizer,
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_epsilon,
    )
    scheduler = warmup_schedule(
        optimizer, math.ceil(cfg.warmup_ratio * total_steps), total_steps, cfg.lr_scheduler_type
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)

    first_epoch, step = 0, 0
    with session.restored_checkpoint() as restored:
        state = load_state(restored)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        first_epoch, step = int(state["epoch"]) + 1, int(state["step"])

    def evaluate_and_report(epoch: int, train_loss: float, with_state: bool) -> None:
        metrics = {
            **_evaluate(model, eval_loader, device, amp, data.num_labels),
            "train/loss": train_loss,
            "learning_rate": scheduler.get_last_lr()[0],
            "epoch": epoch,
            "step": step,
        }
        if not with_state:
            session.report(metrics)
            return
        report_with_state(
            session.report,
            metrics,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch,
                "step": step,
            },
        )

    accum = cfg.gradient_accumulation_steps
    for epoch in range(first_epoch, cfg.num_train_epochs):
        generator.manual_seed(cfg.seed * 100_003 + epoch)  # same order after a resume
        model.train()
        loss_sum, batches = 0.0, 0
        for index, batch in enumerate(train_loader):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss = model(**batch).loss
            scaler.scale(loss / accum).backward()
            loss_sum, batches = loss_sum + loss.item(), batches + 1
            if (index + 1) % accum and index + 1 != len(train_loader):
                continue
            scaler.unscale_(optimizer)
            if cfg.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            at_epoch_end = index + 1 == len(train_loader)
            if cfg.eval_steps and step % cfg.eval_steps == 0 and not at_epoch_end:
                evaluate_and_report(epoch, loss_sum / batches, with_state=False)
                model.train()
        evaluate_and_report(epoch, loss_sum / max(batches, 1), with_state=True)


@torch.no_grad()
def _evaluate(
    model, loader: DataLoader, device: torch.device, amp, num_labels: int
) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    model.eval()
    loss_sum, count, preds, labels = 0.0, 0, [], []
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = model(**batch).logits.float()
        loss_sum += torch.nn.functional.cross_entropy(
            logits, batch["labels"], reduction="sum"
        ).item()
        count += batch["labels"].numel()
        preds += logits.argmax(-1).tolist()
        labels += batch["labels"].tolist()
    average = "binary" if num_labels == 2 else "macro"
    return {
        "eval/f1": float(f1_score(labels, preds, average=average, zero_division=0)),
        "eval/accuracy": float(accuracy_score(labels, preds)),
        "eval/loss": loss_sum / max(count, 1),
    }
