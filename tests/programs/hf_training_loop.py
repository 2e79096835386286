"""A HuggingFace-style custom training loop without transformers: a tiny BERT-like sequence
classifier (config dataclass, embeddings + LayerNorm, extended attention mask
(1 - mask[:, None, None, :]) * torch.finfo(dtype).min, GELU feed-forward, pooler on [CLS]),
AdamW with the no_decay ("bias", "LayerNorm.weight") parameter groups by name,
get_linear_schedule_with_warmup written with LambdaLR, gradient accumulation steps,
clip_grad_norm_, save_pretrained / from_pretrained with torch.save of the state_dict plus a
config.json, an optimizer+scheduler checkpoint dict, and a resumed run that must continue
exactly where the first one stopped."""
import argparse
import json
import math
import os
import random
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Dataset


@dataclass
class TinyConfig:
    vocab_size: int = 40
    hidden_size: int = 32
    num_attention_heads: int = 4
    intermediate_size: int = 64
    max_position_embeddings: int = 24
    num_labels: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_heads, self.head_dim)
        return x.view(new_x_shape).permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask):
        q = self.transpose_for_scores(self.query(hidden_states))
        k = self.transpose_for_scores(self.key(hidden_states))
        v = self.transpose_for_scores(self.value(hidden_states))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores + attention_mask
        probs = nn.functional.softmax(scores, dim=-1)
        probs = self.dropout(probs)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        context = context.view(context.size()[:-2] + (self.num_heads * self.head_dim,))
        return self.LayerNorm(self.dropout(self.dense(context)) + hidden_states)


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = SelfAttention(config)
        self.intermediate = nn.Linear(config.hidden_size, config.intermediate_size)
        self.output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, h, mask):
        h = self.attention(h, mask)
        return self.LayerNorm(self.output(F.gelu(self.intermediate(h))) + h)


class TinyBertForSequenceClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layers = nn.ModuleList([Layer(config) for _ in range(2)])
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def forward(self, input_ids, attention_mask=None, labels=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        pos = torch.arange(input_ids.size(1), dtype=torch.long, device=input_ids.device)
        h = self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(pos)[None])
        dtype = h.dtype
        ext = attention_mask[:, None, None, :].to(dtype=dtype)
        ext = (1.0 - ext) * torch.finfo(dtype).min
        for layer in self.layers:
            h = layer(h, ext)
        logits = self.classifier(torch.tanh(self.pooler(h[:, 0])))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, self.config.num_labels), labels.view(-1))
        return {"loss": loss, "logits": logits}

    def save_pretrained(self, save_directory):
        os.makedirs(save_directory, exist_ok=True)
        with open(os.path.join(save_directory, "config.json"), "w") as f:
            json.dump(asdict(self.config), f)
        torch.save(self.state_dict(), os.path.join(save_directory, "pytorch_model.bin"))

    @classmethod
    def from_pretrained(cls, save_directory):
        with open(os.path.join(save_directory, "config.json")) as f:
            config = TinyConfig(**json.load(f))
        model = cls(config)
        state = torch.load(os.path.join(save_directory, "pytorch_model.bin"), map_location="cpu")
        model.load_state_dict(state)
        return model


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps, last_epoch=-1):
    def lr_lambda(current_step: int):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) /
                   float(max(1, num_training_steps - num_warmup_steps)))
    return LambdaLR(optimizer, lr_lambda, last_epoch)


class ParityDataset(Dataset):
    """Label: does token 7 occur more often than token 8? Variable lengths, padded by the
    collator with an attention mask."""
    def __init__(self, n, seed):
        rng = random.Random(seed)
        self.items = []
        for _ in range(n):
            L = rng.randint(6, 20)
            ids = [rng.choice([7, 8] + list(range(3, 40))) for _ in range(L)]
            self.items.append(([1] + ids, int(ids.count(7) > ids.count(8))))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        ids, label = self.items[i]
        return {"input_ids": ids, "label": label}


def collate(batch):
    L = max(len(b["input_ids"]) for b in batch)
    ids = torch.zeros(len(batch), L, dtype=torch.long)
    mask = torch.zeros(len(batch), L, dtype=torch.long)
    for i, b in enumerate(batch):
        ids[i, :len(b["input_ids"])] = torch.tensor(b["input_ids"])
        mask[i, :len(b["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask,
            "labels": torch.tensor([b["label"] for b in batch])}


def make_optimizer(model, lr, weight_decay):
    no_decay = ["bias", "LayerNorm.weight"]
    grouped = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
         "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
         "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(grouped, lr=lr, eps=1e-8)


def train(model, loader, optimizer, scheduler, args, epochs, global_step=0):
    model.train()
    for epoch in range(epochs):
        for step, batch in enumerate(loader):
            outputs = model(**batch)
            loss = outputs["loss"] / args.gradient_accumulation_steps
            loss.backward()
            if (step + 1) % args.gradient_accumulation_steps == 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                model.zero_grad()
                global_step += 1
        print(f"epoch {epoch} step {global_step} lr {scheduler.get_last_lr()[0]:.2e} "
              f"loss {loss.item() * args.gradient_accumulation_steps:.4f}")
    return global_step


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    for batch in loader:
        out = model(**batch)
        loss_sum += out["loss"].item() * len(batch["labels"])
        correct += (out["logits"].argmax(-1) == batch["labels"]).sum().item()
        total += len(batch["labels"])
    return loss_sum / total, correct / total


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gradient_accumulation_steps", type=int, default=2)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    parser.add_argument("--learning_rate", type=float, default=3e-3)
    parser.add_argument("--weight_decay", type=float, default=0.01)
    parser.add_argument("--output_dir", default="out_tiny_bert")
    args = parser.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    train_ds, eval_ds = ParityDataset(512, 0), ParityDataset(256, 1)
    g = torch.Generator().manual_seed(0)
    train_loader = DataLoader(train_ds, batch_size=16, shuffle=True, collate_fn=collate,
                              generator=g)
    eval_loader = DataLoader(eval_ds, batch_size=64, collate_fn=collate)
    model = TinyBertForSequenceClassification(TinyConfig())
    optimizer = make_optimizer(model, args.learning_rate, args.weight_decay)
    epochs = 6
    t_total = len(train_loader) // args.gradient_accumulation_steps * epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * t_total), t_total)
    step = train(model, train_loader, optimizer, scheduler, args, epochs // 2)
    # checkpoint like Trainer: model dir + optimizer/scheduler state + rng state
    model.save_pretrained(args.output_dir)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "global_step": step, "rng": torch.get_rng_state()},
               os.path.join(args.output_dir, "training_state.pt"))
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    # resume into fresh objects
    model2 = TinyBertForSequenceClassification.from_pretrained(args.output_dir)
    assert all(torch.equal(snapshot[k], v) for k, v in model2.state_dict().items())
    opt2 = make_optimizer(model2, args.learning_rate, args.weight_decay)
    sched2 = get_linear_schedule_with_warmup(opt2, int(0.1 * t_total), t_total)
    ckpt = torch.load(os.path.join(args.output_dir, "training_state.pt"), weights_only=False)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
    assert sched2.get_last_lr() == scheduler.get_last_lr(), (sched2.get_last_lr(),
                                                             scheduler.get_last_lr())
    step = train(model2, train_loader, opt2, sched2, args, epochs - epochs // 2,
                 ckpt["global_step"])
    print("steps", step, "of", t_total, "last lr", sched2.get_last_lr())
    eval_loss, eval_acc = evaluate(model2, eval_loader)
    print(f"eval_loss {eval_loss:.4f} eval_acc {eval_acc:.4f}")
    print(f"final_acc {eval_acc:.4f}")
