"""torchvision.models.feature_extraction over module nodes: values equal the modules' own
outputs, torchvision's naming of repeated calls, the forward stops after the last node."""
import pytest

import cadenza
from cadenza.vision import models
from cadenza.vision.models.feature_extraction import (create_feature_extractor,
                                                      get_graph_node_names)


@pytest.fixture(scope="module")
def resnet():
    cadenza.manual_seed(0)
    return models.resnet18(num_classes=5).eval()


def test_module_nodes_give_the_modules_outputs(resnet):
    x = cadenza.randn(2, 3, 32, 32)
    fe = create_feature_extractor(resnet, {"layer4.1.relu_1": "b", "x": "inp", "layer1": "a"})
    out = fe(x)
    assert list(out) == ["inp", "a", "b"]          # the order the forward computed them
    assert type(fe).__name__ == "ResNet"
    m = resnet
    a = m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))
    b = m.layer4(m.layer3(m.layer2(a)))
    assert out["inp"] is x
    assert cadenza.allclose(out["a"], a) and cadenza.allclose(out["b"], b)
    assert list(fe.state_dict()) == list(m.state_dict())


def test_repeated_calls_are_numbered_and_the_forward_stops_early(resnet):
    seen = []
    h = resnet.fc.register_forward_hook(lambda *a: seen.append(1))
    try:
        block = resnet.layer1[0]
        fe = create_feature_extractor(resnet, ["layer1.0.relu", "layer1.0.relu_1"])
        out = fe(cadenza.randn(1, 3, 32, 32))
    finally:
        h.remove()
    assert seen == []                              # fc never ran
    assert out["layer1.0.relu"].shape == out["layer1.0.relu_1"].shape == (1, 64, 8, 8)
    assert not cadenza.equal(out["layer1.0.relu"], out["layer1.0.relu_1"])
    assert not block._forward_hooks                # the extractor's hooks are gone


def test_gradients_flow_and_modes_follow(resnet):
    fe = create_feature_extractor(resnet, return_nodes=["layer2"])
    fe.train()
    assert resnet.training and resnet.layer2.training
    fe(cadenza.randn(2, 3, 32, 32))["layer2"].sum().backward()
    assert resnet.layer2[0].conv1.weight.grad is not None
    assert resnet.layer3[0].conv1.weight.grad is None
    fe.eval()
    resnet.zero_grad(set_to_none=True)


def test_errors():
    m = models.resnet18(num_classes=3).eval()
    with pytest.raises(ValueError, match="functional calls"):
        create_feature_extractor(m, ["layer1.0.add"])
    with pytest.raises(ValueError, match="should not be specified"):
        create_feature_extractor(m, ["layer1"], train_return_nodes=["layer1"])
    with pytest.raises(RuntimeError, match="did not reach"):
        create_feature_extractor(m, ["conv1_3"])(cadenza.randn(1, 3, 32, 32))
    train, evals = get_graph_node_names(m)
    assert train[:3] == ["x", "conv1", "bn1"] and train == evals and "fc" in train
