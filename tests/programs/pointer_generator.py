"""Pointer-generator network with coverage (See et al. 2017, "Get To The Point"), as the
atulkum/pointer_summarizer-style PyTorch ports write it: source words outside the fixed vocab get
temporary ids in a per-batch extended vocabulary (`enc_batch_extend_vocab`, `extra_zeros`), a
bidirectional LSTM encoder whose (h, c) are reduced by `ReduceState` (Linear + ReLU over
`torch.cat` of both directions), an attention decoder step with coverage features
(`W_c(coverage)`), masked attention renormalised by its sum, `p_gen = sigmoid(Linear([context,
s_t, x]))`, the final distribution `p_gen * vocab_dist` concatenated with `extra_zeros` and
`scatter_add_` of `(1 - p_gen) * attn_dist` at the source ids, the NLL of the gathered gold
probability plus the coverage loss `torch.sum(torch.min(attn_dist, coverage), 1)`, masked by
target padding, Adagrad with `initial_accumulator_value`, `clip_grad_norm_`, and greedy decoding
that maps extended ids back to OOV words. The task: "summaries" that copy a rare name (never in
the vocab) from a sentence of filler words. The metric is exact-match token accuracy of greedy
decodes on held-out sentences."""
import argparse
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, UNK, START, STOP = 0, 1, 2, 3
FILL = "today yesterday the a team met said that city new report shows big small and".split()
VERBS = ["visited", "praised", "called", "joined"]


def make_example(rng):
    name = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
    place = rng.choice(["paris", "rome", "oslo", "lima"])
    verb = rng.choice(VERBS)
    words = [rng.choice(FILL) for _ in range(rng.randint(2, 5))] + [name, verb, place] + \
        [rng.choice(FILL) for _ in range(rng.randint(1, 4))]
    return words, [name, verb, place]


class Vocab:
    def __init__(self, words):
        self.itos = ["<pad>", "<unk>", "<s>", "</s>"] + sorted(set(words))
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)


def batchify(examples, vocab):
    B = len(examples)
    max_src = max(len(s) for s, _ in examples)
    max_tgt = max(len(t) for _, t in examples) + 1
    enc = torch.full((B, max_src), PAD)
    enc_ext = torch.full((B, max_src), PAD)
    dec_in = torch.full((B, max_tgt), PAD)
    target = torch.full((B, max_tgt), PAD)
    oovs = []
    for i, (src, tgt) in enumerate(examples):
        art_oovs = []
        for j, w in enumerate(src):
            idx = vocab.stoi.get(w, UNK)
            enc[i, j] = idx
            if idx == UNK:
                if w not in art_oovs:
                    art_oovs.append(w)
                enc_ext[i, j] = len(vocab) + art_oovs.index(w)
            else:
                enc_ext[i, j] = idx
        oovs.append(art_oovs)
        ids_in = [START] + [vocab.stoi.get(w, UNK) for w in tgt]
        ids_out = [vocab.stoi[w] if w in vocab.stoi else len(vocab) + art_oovs.index(w)
                   for w in tgt] + [STOP]
        dec_in[i, : len(ids_in)] = torch.tensor(ids_in)
        target[i, : len(ids_out)] = torch.tensor(ids_out)
    max_oovs = max(len(o) for o in oovs)
    extra_zeros = torch.zeros(B, max_oovs) if max_oovs > 0 else None
    enc_lens = torch.tensor([len(s) for s, _ in examples])
    return enc, enc_ext, enc_lens, extra_zeros, dec_in, target, oovs


class PointerGenerator(nn.Module):
    def __init__(self, vocab_size, emb=32, hid=32):
        super().__init__()
        self.hid = hid
        self.embedding = nn.Embedding(vocab_size, emb, padding_idx=PAD)
        self.encoder = nn.LSTM(emb, hid, batch_first=True, bidirectional=True)
        self.W_h = nn.Linear(2 * hid, 2 * hid, bias=False)
        self.reduce_h = nn.Linear(2 * hid, hid)
        self.reduce_c = nn.Linear(2 * hid, hid)
        self.decode_proj = nn.Linear(2 * hid, 2 * hid)
        self.W_c = nn.Linear(1, 2 * hid, bias=False)
        self.v = nn.Linear(2 * hid, 1, bias=False)
        self.x_context = nn.Linear(2 * hid + emb, emb)
        self.decoder = nn.LSTMCell(emb, hid)
        self.p_gen_linear = nn.Linear(4 * hid + emb, 1)
        self.out1 = nn.Linear(3 * hid, hid)
        self.out2 = nn.Linear(hid, vocab_size)

    def encode(self, enc):
        out, (h, c) = self.encoder(self.embedding(enc))
        h = F.relu(self.reduce_h(torch.cat([h[0], h[1]], dim=1)))
        c = F.relu(self.reduce_c(torch.cat([c[0], c[1]], dim=1)))
        return out, self.W_h(out), (h, c)

    def attention(self, s_t, enc_out, enc_feat, mask, coverage):
        dec_fea = self.decode_proj(s_t).unsqueeze(1)
        att = enc_feat + dec_fea + self.W_c(coverage.unsqueeze(2))
        scores = self.v(torch.tanh(att)).squeeze(2)
        attn_dist_ = F.softmax(scores, dim=1) * mask
        attn_dist = attn_dist_ / attn_dist_.sum(1, keepdim=True)
        c_t = torch.bmm(attn_dist.unsqueeze(1), enc_out).squeeze(1)
        return c_t, attn_dist, coverage + attn_dist

    def step(self, y_t, state, c_t_1, enc_out, enc_feat, mask, enc_ext, extra_zeros, coverage):
        x = self.x_context(torch.cat((c_t_1, self.embedding(y_t)), 1))
        h, c = self.decoder(x, state)
        s_t = torch.cat((h, c), 1)
        c_t, attn_dist, coverage_next = self.attention(s_t, enc_out, enc_feat, mask, coverage)
        p_gen = torch.sigmoid(self.p_gen_linear(torch.cat((c_t, s_t, x), 1)))
        vocab_dist = F.softmax(self.out2(self.out1(torch.cat((h, c_t), 1))), dim=1)
        vocab_dist_ = p_gen * vocab_dist
        attn_dist_ = (1 - p_gen) * attn_dist
        if extra_zeros is not None:
            vocab_dist_ = torch.cat([vocab_dist_, extra_zeros], 1)
        final_dist = vocab_dist_.scatter_add(1, enc_ext, attn_dist_)
        return final_dist, (h, c), c_t, attn_dist, coverage_next


def run_batch(model, batch, cov_weight=1.0):
    enc, enc_ext, enc_lens, extra_zeros, dec_in, target, _ = batch
    enc_out, enc_feat, state = model.encode(enc)
    mask = (enc != PAD).float()
    c_t = torch.zeros(enc.size(0), 2 * model.hid)
    coverage = torch.zeros(enc.size())
    step_losses = []
    for di in range(dec_in.size(1)):
        y_t = dec_in[:, di].masked_fill(dec_in[:, di] >= model.embedding.num_embeddings, UNK)
        final_dist, state, c_t, attn_dist, next_cov = model.step(
            y_t, state, c_t, enc_out, enc_feat, mask, enc_ext, extra_zeros, coverage)
        gold = torch.gather(final_dist, 1, target[:, di].unsqueeze(1)).squeeze()
        step_loss = -torch.log(gold + 1e-12)
        step_loss = step_loss + cov_weight * torch.sum(torch.min(attn_dist, coverage), 1)
        coverage = next_cov
        step_losses.append(step_loss * (target[:, di] != PAD).float())
    dec_lens = (target != PAD).sum(1).float()
    return (torch.sum(torch.stack(step_losses, 1), 1) / dec_lens).mean()


@torch.no_grad()
def greedy(model, batch, vocab, max_len=5):
    enc, enc_ext, enc_lens, extra_zeros, _, _, oovs = batch
    enc_out, enc_feat, state = model.encode(enc)
    mask = (enc != PAD).float()
    c_t = torch.zeros(enc.size(0), 2 * model.hid)
    coverage = torch.zeros(enc.size())
    y_t = torch.full((enc.size(0),), START)
    outs = []
    for _ in range(max_len):
        final_dist, state, c_t, _, coverage = model.step(
            y_t, state, c_t, enc_out, enc_feat, mask, enc_ext, extra_zeros, coverage)
        ids = final_dist.argmax(1)
        outs.append(ids)
        y_t = torch.where(ids >= len(vocab), torch.full_like(ids, UNK), ids)
    outs = torch.stack(outs, 1).tolist()
    words = []
    for i, seq in enumerate(outs):
        ws = []
        for t in seq:
            if t == STOP:
                break
            ws.append(vocab.itos[t] if t < len(vocab) else oovs[i][t - len(vocab)])
        words.append(ws)
    return words


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(5)
    train = [make_example(rng) for _ in range(640)]
    test = [make_example(rng) for _ in range(128)]
    vocab = Vocab(FILL + VERBS + ["paris", "rome", "oslo", "lima"])
    model = PointerGenerator(len(vocab))
    opt = torch.optim.Adagrad(model.parameters(), lr=0.15, initial_accumulator_value=0.1)
    bs = 32
    for epoch in range(args.epochs):
        rng.shuffle(train)
        total = 0.0
        for i in range(0, len(train), bs):
            loss = run_batch(model, batchify(train[i: i + bs], vocab))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            opt.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / (len(train) // bs):.4f}")
    correct = total = 0
    for i in range(0, len(test), 64):
        chunk = test[i: i + 64]
        preds = greedy(model, batchify(chunk, vocab), vocab)
        for p, (_, tgt) in zip(preds, chunk):
            correct += sum(a == b for a, b in zip(p, tgt))
            total += len(tgt)
    print("example:", " ".join(chunk[0][0]), "->", " ".join(preds[0]))
    print(f"final_acc {correct / total:.4f}")


if __name__ == "__main__":
    main()
