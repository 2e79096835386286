# Character-level LSTM language model, unmodified torch API.
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1)
text = "hello world, hello cadenza. " * 40
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)


class CharLSTM(nn.Module):
    def __init__(self, vocab, hidden=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, hidden, num_layers=2, batch_first=True, dropout=0.1)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.emb(x), state)
        return self.head(out), state


model = CharLSTM(len(chars))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=60, gamma=0.5)
seq = 24
for step in range(150):
    ix = torch.randint(0, len(data) - seq - 1, (16,))
    xb = torch.stack([data[i:i + seq] for i in ix])
    yb = torch.stack([data[i + 1:i + seq + 1] for i in ix])
    logits, _ = model(xb)
    loss = F.cross_entropy(logits.view(-1, len(chars)), yb.view(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
print("final_loss", round(loss.item(), 3))


@torch.no_grad()
def sample(n=40):
    model.eval()
    x = data[:1].unsqueeze(0)
    state, out = None, []
    for _ in range(n):
        logits, state = model(x, state)
        probs = F.softmax(logits[:, -1] / 0.5, dim=-1)
        x = torch.multinomial(probs, num_samples=1)
        out.append(chars[x.item()])
    return "".join(out)


print("sample:", repr(sample()))
assert loss.item() < 1.0
