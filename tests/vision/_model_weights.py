"""Deterministic weights for the model fixture test: the recording script (torchvision) and the
test (Cadenza) fill the same state-dict keys with the same NumPy draws, so only the logits need
storing. Convolution/linear weights are scaled by 1/sqrt(fan_in) to keep activations O(1)."""
import numpy as np

MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_1"]
# state-dict keys (and shapes) are compared for these too
KEY_MODELS = ["resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn",
              "mobilenet_v2", "alexnet", "squeezenet1_1"]


def arrays(shapes):
    """{key: array} for an ordered {key: shape}."""
    rs = np.random.RandomState(2024)
    out = {}
    for key, shape in shapes.items():
        shape = tuple(shape)
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            out[key] = np.array(0, dtype=np.int64)
        elif leaf == "running_var":
            out[key] = rs.uniform(0.5, 1.5, shape).astype(np.float32)
        elif leaf == "running_mean":
            out[key] = (rs.standard_normal(shape) * 0.1).astype(np.float32)
        elif len(shape) == 1 and leaf == "weight":  # batch-norm scale
            out[key] = rs.uniform(0.5, 1.5, shape).astype(np.float32)
        elif leaf == "bias":
            out[key] = (rs.standard_normal(shape) * 0.05).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            out[key] = (rs.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return out


def fill(state_dict, to_tensor):
    """Copy the deterministic arrays into a model's state-dict tensors (in place)."""
    vals = arrays({k: tuple(v.shape) for k, v in state_dict.items()})
    for k, v in state_dict.items():
        v.copy_(to_tensor(vals[k]).to(v.dtype).reshape(v.shape))


def batch(name):
    return np.random.RandomState(7).standard_normal((4, 3, 32, 32)).astype(np.float32)


def no_dropout(model, dropout_cls):
    """Train mode with dropout off: batch-norm statistics are compared, not dropout masks."""
    for m in model.modules():
        if isinstance(m, dropout_cls):
            m.p = 0.0
