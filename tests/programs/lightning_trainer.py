"""A PyTorch Lightning-style hand-rolled trainer (the pattern many repos copy when they do not
want the dependency): a LightningModule-like base class with training_step / validation_step /
configure_optimizers returning ({"optimizer", "lr_scheduler": {"scheduler", "interval"}}),
self.log into a metrics dict, a Trainer with a callback list (EarlyStopping on val_loss with
patience/min_delta, ModelCheckpoint keeping the best state_dict in a file, LearningRateMonitor),
torch.set_grad_enabled toggling, gradient_clip_val, and the best checkpoint reloaded for test."""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


class Callback:
    def on_train_start(self, trainer, module): pass
    def on_validation_end(self, trainer, module): pass
    def on_train_epoch_end(self, trainer, module): pass


class EarlyStopping(Callback):
    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode="min"):
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.wait = 0
        self.best = math.inf if mode == "min" else -math.inf

    def on_validation_end(self, trainer, module):
        current = trainer.callback_metrics[self.monitor]
        improved = (current < self.best - self.min_delta if self.mode == "min"
                    else current > self.best + self.min_delta)
        if improved:
            self.best, self.wait = current, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.should_stop = True
                print(f"early stopping at epoch {trainer.current_epoch}")


class ModelCheckpoint(Callback):
    def __init__(self, dirpath, monitor="val_loss", mode="min"):
        self.dirpath, self.monitor, self.mode = dirpath, monitor, mode
        self.best_model_score = None
        self.best_model_path = ""

    def on_validation_end(self, trainer, module):
        score = trainer.callback_metrics[self.monitor]
        if (self.best_model_score is None or (score < self.best_model_score
                                              if self.mode == "min"
                                              else score > self.best_model_score)):
            self.best_model_score = score
            os.makedirs(self.dirpath, exist_ok=True)
            path = os.path.join(self.dirpath, f"epoch={trainer.current_epoch}.ckpt")
            if self.best_model_path and os.path.exists(self.best_model_path):
                os.remove(self.best_model_path)
            torch.save({"epoch": trainer.current_epoch, "state_dict": module.state_dict(),
                        self.monitor: torch.tensor(score)}, path)
            self.best_model_path = path


class LearningRateMonitor(Callback):
    def __init__(self):
        self.lrs = []

    def on_train_epoch_end(self, trainer, module):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


class LightningModule(nn.Module):
    def __init__(self):
        super().__init__()
        self._logged = {}

    def log(self, name, value, prog_bar=False, on_epoch=True):
        if isinstance(value, torch.Tensor):
            value = value.detach().item()
        self._logged.setdefault(name, []).append(value)

    def save_hyperparameters(self, **kw):
        self.hparams = argparse.Namespace(**kw)


class Trainer:
    def __init__(self, max_epochs=10, callbacks=(), gradient_clip_val=None, log_every_n_steps=20):
        self.max_epochs = max_epochs
        self.callbacks = list(callbacks)
        self.gradient_clip_val = gradient_clip_val
        self.log_every_n_steps = log_every_n_steps
        self.should_stop = False
        self.callback_metrics = {}
        self.current_epoch = 0
        self.global_step = 0

    @property
    def checkpoint_callback(self):
        return next((c for c in self.callbacks if isinstance(c, ModelCheckpoint)), None)

    def _call(self, hook, module):
        for cb in self.callbacks:
            getattr(cb, hook)(self, module)

    def fit(self, module, train_dataloaders, val_dataloaders):
        conf = module.configure_optimizers()
        self.optimizers = [conf["optimizer"]]
        sched = conf.get("lr_scheduler")
        self._call("on_train_start", module)
        for epoch in range(self.max_epochs):
            self.current_epoch = epoch
            module.train()
            module._logged = {}
            for batch_idx, batch in enumerate(train_dataloaders):
                with torch.set_grad_enabled(True):
                    loss = module.training_step(batch, batch_idx)
                self.optimizers[0].zero_grad()
                loss.backward()
                if self.gradient_clip_val:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), self.gradient_clip_val)
                self.optimizers[0].step()
                if sched is not None and sched["interval"] == "step":
                    sched["scheduler"].step()
                self.global_step += 1
            module.eval()
            with torch.no_grad():
                for batch_idx, batch in enumerate(val_dataloaders):
                    module.validation_step(batch, batch_idx)
            self.callback_metrics = {k: float(np.mean(v)) for k, v in module._logged.items()}
            print(f"epoch {epoch} " + " ".join(f"{k}={v:.4f}"
                                               for k, v in sorted(self.callback_metrics.items())))
            self._call("on_validation_end", module)
            self._call("on_train_epoch_end", module)
            if sched is not None and sched["interval"] == "epoch":
                sched["scheduler"].step()
            if self.should_stop:
                break

    def test(self, module, dataloaders, ckpt_path=None):
        if ckpt_path == "best":
            ckpt = torch.load(self.checkpoint_callback.best_model_path)
            module.load_state_dict(ckpt["state_dict"])
            print(f"restored best epoch {ckpt['epoch']}")
        module.eval()
        module._logged = {}
        with torch.no_grad():
            for batch_idx, batch in enumerate(dataloaders):
                module.test_step(batch, batch_idx)
        return [{k: float(np.mean(v)) for k, v in module._logged.items()}]


class SpiralDataset(Dataset):
    def __init__(self, n, seed, classes=3):
        g = np.random.RandomState(seed)
        y = g.randint(0, classes, size=n)
        r = g.rand(n) * 1.0 + 0.1
        t = 4.0 * r + y * 2 * np.pi / classes + g.randn(n) * 0.25
        self.x = np.stack([r * np.sin(t), r * np.cos(t)], 1).astype(np.float32)
        self.y = y.astype(np.int64)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), int(self.y[i])


class LitClassifier(LightningModule):
    def __init__(self, hidden=64, lr=3e-3, classes=3):
        super().__init__()
        self.save_hyperparameters(hidden=hidden, lr=lr, classes=classes)
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.net(x)

    def _shared_step(self, batch, stage):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(dim=-1) == y).float().mean()
        self.log(f"{stage}_loss", loss, prog_bar=True)
        self.log(f"{stage}_acc", acc)
        return loss

    def training_step(self, batch, batch_idx):
        return self._shared_step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._shared_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._shared_step(batch, "test")

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=8, gamma=0.5)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler,
                                                         "interval": "epoch"}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_epochs", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(42)
    train_ds, val_ds, test_ds = SpiralDataset(1200, 0), SpiralDataset(300, 1), SpiralDataset(600, 2)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_ds, batch_size=256)
    test_loader = DataLoader(test_ds, batch_size=256)
    model = LitClassifier()
    lr_monitor = LearningRateMonitor()
    trainer = Trainer(max_epochs=args.max_epochs, gradient_clip_val=1.0,
                      callbacks=[EarlyStopping(monitor="val_loss", patience=4, min_delta=1e-3),
                                 ModelCheckpoint(dirpath="checkpoints"), lr_monitor])
    trainer.fit(model, train_dataloaders=train_loader, val_dataloaders=val_loader)
    print(f"best {trainer.checkpoint_callback.best_model_path} "
          f"score {trainer.checkpoint_callback.best_model_score:.4f} lrs {lr_monitor.lrs[-1]:g}")
    result = trainer.test(model, dataloaders=test_loader, ckpt_path="best")
    print(result)
    print(f"final_acc {result[0]['test_acc']:.4f}")


if __name__ == "__main__":
    main()
