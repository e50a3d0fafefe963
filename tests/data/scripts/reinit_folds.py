"""Sequential k-fold with one wandb.init(reinit=True) per fold, then a parent run with the mean."""

import wandb


def train():
    accs = []
    for fold in range(3):
        run = wandb.init(reinit=True, group="cv", job_type="fold", name=f"fold-{fold}")
        acc = 0.5 + 0.1 * fold * wandb.config.scale
        run.log({"fold_acc": acc})
        accs.append(acc)
        run.finish()
    with wandb.init(reinit=True, name="cv-mean") as run:
        run.log({"val_acc": sum(accs) / len(accs)})
