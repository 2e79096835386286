"""Neural style transfer (the official tutorial) on a tiny VGG-like feature extractor with
fixed, formula-made weights: Normalization module, ContentLoss / StyleLoss modules inserted
after chosen convs (gram matrices, F.mse_loss against detached targets), the model rebuilt
with add_module and truncated after the last loss, model.eval() + requires_grad_(False), and
optim.LBFGS over the input image with a closure that clamps it in place under no_grad.
Deterministic: the outcome does not depend on the random streams."""
import argparse
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.set_default_device(device)


def pattern_image(kind, size=32):
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    if kind == "content":
        r = ((xs - 0.5) ** 2 + (ys - 0.5) ** 2).sqrt()
        img = torch.stack([(r < 0.3).float(), xs, 1 - ys])
    else:
        img = torch.stack([0.5 + 0.5 * torch.sin(20 * xs), 0.5 + 0.5 * torch.cos(14 * ys),
                           0.5 + 0.5 * torch.sin(9 * (xs + ys))])
    return img.unsqueeze(0).to(device, torch.float)


def tiny_vgg():
    layers, c_in = [], 3
    for i, c_out in enumerate([8, 8, "M", 16, 16, "M", 16]):
        if c_out == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
        with torch.no_grad():
            n = conv.weight.numel()
            w = torch.sin(torch.arange(n, dtype=torch.float32) * 0.731 + i)
            w = w.reshape(conv.weight.shape)
            conv.weight.copy_(w * (2.0 / (c_in * 9)) ** 0.5)
            conv.bias.copy_(torch.cos(torch.arange(c_out, dtype=torch.float32)) * 0.05)
        layers += [conv, nn.ReLU(inplace=True)]
        c_in = c_out
    return nn.Sequential(*layers)


class ContentLoss(nn.Module):
    def __init__(self, target):
        super(ContentLoss, self).__init__()
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


def gram_matrix(input):
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super(StyleLoss, self).__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super(Normalization, self).__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


content_layers_default = ['conv_4']
style_layers_default = ['conv_1', 'conv_2', 'conv_3', 'conv_4', 'conv_5']


def get_style_model_and_losses(cnn, normalization_mean, normalization_std, style_img, content_img,
                               content_layers=content_layers_default,
                               style_layers=style_layers_default):
    normalization = Normalization(normalization_mean, normalization_std)
    content_losses = []
    style_losses = []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = 'conv_{}'.format(i)
        elif isinstance(layer, nn.ReLU):
            name = 'relu_{}'.format(i)
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = 'pool_{}'.format(i)
        elif isinstance(layer, nn.BatchNorm2d):
            name = 'bn_{}'.format(i)
        else:
            raise RuntimeError('Unrecognized layer: {}'.format(layer.__class__.__name__))
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module("content_loss_{}".format(i), content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module("style_loss_{}".format(i), style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
            break
    model = model[:(i + 1)]
    return model, style_losses, content_losses


def get_input_optimizer(input_img):
    optimizer = optim.LBFGS([input_img])
    return optimizer


def run_style_transfer(cnn, normalization_mean, normalization_std, content_img, style_img,
                       input_img, num_steps=300, style_weight=10000, content_weight=1):
    print('Building the style transfer model..')
    model, style_losses, content_losses = get_style_model_and_losses(
        cnn, normalization_mean, normalization_std, style_img, content_img)
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = get_input_optimizer(input_img)
    print('Optimizing..')
    run = [0]
    while run[0] <= num_steps:
        def closure():
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = 0
            content_score = 0
            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss
            style_score *= style_weight
            content_score *= content_weight
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            if run[0] % 50 == 0:
                print("run {}:".format(run))
                print('Style Loss : {:4f} Content Loss: {:4f}'.format(
                    style_score.item(), content_score.item()))
            return style_score + content_score
        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    return input_img, style_losses, content_losses, model


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    cnn = tiny_vgg().eval()
    cnn_normalization_mean = [0.485, 0.456, 0.406]
    cnn_normalization_std = [0.229, 0.224, 0.225]
    content_img = pattern_image("content")
    style_img = pattern_image("style")
    assert style_img.size() == content_img.size()
    input_img = content_img.clone()
    output, sls, cls, model = run_style_transfer(copy.deepcopy(cnn), cnn_normalization_mean,
                                                 cnn_normalization_std, content_img, style_img,
                                                 input_img, num_steps=args.steps)
    with torch.no_grad():
        model(output)
        final = sum(sl.loss for sl in sls).item() * 1e4 + sum(cl.loss for cl in cls).item()
    print(model)
    print("output range", output.min().item(), output.max().item())
    print(f"final_loss {final:.6f}")
