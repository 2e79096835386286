"""torchvision.models.feature_extraction: a model's intermediate activations by node name.

torchvision traces the model with torch.fx and names every call in it. Cadenza names the calls
of the model's submodules instead, the way torchvision names them: a module's qualified name
(``layer1``, ``layer4.1.bn2``), ``name_1``, ``name_2``... for its second, third... call in one
forward (ResNet's shared ``relu``: ``layer1.0.relu_1``), and ``x`` for the input. A module
that holds others (``layer1``) gives its own output, as torchvision's last node within it.
Nodes of functional calls (``layer1.0.add``, ``flatten``) are not available here and raise
a ValueError that says so. The extractor stops the forward once every requested node has been
computed (as torchvision's pruned graph does not run the rest).
"""
from __future__ import annotations

import re

from cadenza import nn

__all__ = ["create_feature_extractor", "get_graph_node_names"]

_REPEAT = re.compile(r"^(.*)_(\d+)$")


class _Done(Exception):
    """Raised by the last hook needed: the rest of the forward is not run."""


def _plan(model, nodes):
    """``{node: output name}`` as (output names of the input ``x``, {(module name, call
    index): output name}); a name that is no node of ``model`` raises ValueError."""
    names = {n for n, _ in model.named_modules() if n}
    inputs, wanted = [], {}
    for node, out in nodes.items():
        m = _REPEAT.match(node)
        if node == "x":
            inputs.append(out)
        elif node in names:
            wanted[node, 0] = out
        elif m and m.group(1) in names:
            wanted[m.group(1), int(m.group(2))] = out
        else:
            raise ValueError(
                f"node: '{node}' is not present in model. Hint: use `get_graph_node_names` to "
                f"make sure the `return_nodes` you specified are present. Cadenza names the "
                f"outputs of submodules (and 'x', the input); nodes of functional calls (e.g. "
                f"'add', 'flatten') are not available: return the enclosing module instead.")
    return inputs, wanted


def _as_dict(nodes):
    if nodes is None:
        return None
    if isinstance(nodes, (list, tuple)):
        return {str(n): str(n) for n in nodes}
    if isinstance(nodes, dict):
        return {str(k): str(v) for k, v in nodes.items()}
    raise TypeError(f"create_feature_extractor: return_nodes must be a list or a dict of "
                    f"node names, got {type(nodes).__name__}")


class FeatureExtractor(nn.Module):
    """``model`` returning ``{output name: activation}``. It shares the model's parameters,
    buffers and submodules under the same names (its state_dict keys are the model's; torchvision
    drops the modules its pruned graph does not use, such as ResNet's ``fc``)."""

    def __init__(self, model, train_nodes, eval_nodes):
        super().__init__()
        self._parameters = model._parameters
        self._buffers = model._buffers
        self._modules = model._modules
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_plans", {True: _plan(model, train_nodes),
                                             False: _plan(model, eval_nodes)})
        self.training = model.training

    def train(self, mode: bool = True):
        self._model.train(mode)
        self.training = mode
        return self

    def forward(self, x, *args, **kwargs):
        inputs, wanted = self._plans[self.training]
        out = dict.fromkeys(inputs, x)
        total = len(inputs) + len(wanted)
        modules = dict(self._model.named_modules())
        calls: dict = {}
        handles = []

        def hook_for(module_name):
            def hook(module, args, output):
                i = calls.get(module_name, 0)
                calls[module_name] = i + 1
                name = wanted.get((module_name, i))
                if name is not None:
                    out[name] = output
                    if len(out) == total:
                        raise _Done
            return hook

        try:
            for module_name in {m for m, _ in wanted}:
                handles.append(modules[module_name].register_forward_hook(hook_for(module_name)))
            if wanted:
                self._model(x, *args, **kwargs)
        except _Done:
            pass
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in wanted.values() if n not in out]
        if missing:
            raise RuntimeError(f"create_feature_extractor: the forward did not reach the "
                               f"node(s) {missing} (a module called fewer times than its "
                               f"'_N' suffix asks for?)")
        return out      # in the order the forward computed them, as torchvision's graph


def create_feature_extractor(model, return_nodes=None, train_return_nodes=None,
                             eval_return_nodes=None, tracer_kwargs=None,
                             suppress_diff_warning=False, concrete_args=None):
    """A module whose forward returns ``{name: activation}`` for ``return_nodes`` (a list of
    node names, or ``{node name: output name}``), or separate ``train_return_nodes`` and
    ``eval_return_nodes`` for the two modes."""
    if return_nodes is not None and (train_return_nodes is not None or
                                     eval_return_nodes is not None):
        raise ValueError("If any of `train_return_nodes` and `eval_return_nodes` are "
                         "specified, then `return_nodes` should not be specified")
    if return_nodes is None and (train_return_nodes is None) != (eval_return_nodes is None):
        raise ValueError("If any of `train_return_nodes` and `eval_return_nodes` are "
                         "specified, then both should be specified")
    if return_nodes is None and train_return_nodes is None:
        raise ValueError("Either `return_nodes` or `train_return_nodes` and "
                         "`eval_return_nodes` together, should be specified")
    train = _as_dict(return_nodes if return_nodes is not None else train_return_nodes)
    evals = _as_dict(return_nodes if return_nodes is not None else eval_return_nodes)
    # named after the model's class, as torchvision's GraphModule
    cls = type(type(model).__name__, (FeatureExtractor,), {"__module__": __name__})
    return cls(model, train, evals)


def get_graph_node_names(model, tracer_kwargs=None, suppress_diff_warning=False,
                         concrete_args=None):
    """(train node names, eval node names): ``x`` and every leaf submodule's name, in
    registration order (the order of the calls in most models). Without running the model
    Cadenza cannot list a module's repeated calls (``relu_1``) or functional calls."""
    names = ["x"] + [n for n, m in model.named_modules()
                     if n and not any(True for _ in m.children())]
    return names, list(names)
