"""RandomPerspective, ElasticTransform and AugMix (v1 and v2): the classes apply the functional
ops (compared with torchvision in test_augment.py / test_tv_tensors.py) with parameters drawn
as torchvision draws them, follow cadenza.manual_seed, keep types, and reject bad arguments as
torchvision does."""
import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import transforms as T, tv_tensors
from cadenza.vision.transforms import functional as F, v2

Image = pytest.importorskip("PIL.Image")


def _img():
    rs = np.random.RandomState(0)
    return torch.from_numpy(rs.randint(0, 256, (3, 18, 26)).astype(np.uint8))


def test_random_perspective_is_the_functional_with_its_params():
    x = _img()
    torch.manual_seed(3)
    out = T.RandomPerspective(0.6, p=1.0)(x)
    torch.manual_seed(3)
    assert float(torch.rand(1)) < 1.0                      # the p draw comes first
    start, end = T.RandomPerspective.get_params(26, 18, 0.6)
    np.testing.assert_array_equal(out.numpy(), F.perspective(x, start, end, fill=[0.0] * 3)
                                  .numpy())
    assert start == [[0, 0], [25, 0], [25, 17], [0, 17]]
    for (ex, ey), (sx, sy) in zip(end, start):
        assert abs(ex - sx) <= int(0.6 * 13) + 1 and abs(ey - sy) <= int(0.6 * 9) + 1
    assert T.RandomPerspective(p=0.0)(x) is x
    pil = Image.fromarray(x.numpy().transpose(1, 2, 0))
    assert T.RandomPerspective(p=1.0)(pil).size == pil.size
    with pytest.raises(TypeError, match="Fill"):
        T.RandomPerspective(fill="red")


def test_elastic_transform_is_the_functional_with_its_params():
    x = _img()
    torch.manual_seed(1)
    out = T.ElasticTransform(alpha=20.0, sigma=3.0)(x)
    torch.manual_seed(1)
    d = T.ElasticTransform.get_params([20.0, 20.0], [3.0, 3.0], [18, 26])
    assert tuple(d.shape) == (1, 18, 26, 2)
    np.testing.assert_array_equal(out.numpy(), F.elastic_transform(x, d, fill=[0.0]).numpy())
    # zero displacement: the identity (bilinear at the pixel centres)
    same = F.elastic_transform(x.float(), torch.zeros(1, 18, 26, 2))
    np.testing.assert_allclose(same.numpy(), x.float().numpy(), atol=1e-4)
    with pytest.raises(TypeError, match="alpha"):
        T.ElasticTransform(alpha=3)
    with pytest.raises(ValueError, match="length should be 2"):
        T.ElasticTransform(sigma=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="displacement shape"):
        F.elastic_transform(x, torch.zeros(1, 4, 4, 2))


def test_v2_warps_move_masks_with_images():
    x = tv_tensors.Image(_img())
    m = tv_tensors.Mask(torch.zeros(18, 26, dtype=torch.uint8))
    torch.manual_seed(0)
    for t in (v2.RandomPerspective(p=1.0), v2.ElasticTransform(alpha=10.0)):
        a, b = t(x, m)
        assert type(a) is tv_tensors.Image and type(b) is tv_tensors.Mask
        assert tuple(b.shape) == (18, 26)


def test_augmix():
    x = _img()
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        outs.append(T.AugMix()(x))
    np.testing.assert_array_equal(outs[0].numpy(), outs[1].numpy())
    assert outs[0].dtype is torch.uint8 and tuple(outs[0].shape) == (3, 18, 26)
    assert not np.array_equal(outs[0].numpy(), x.numpy())
    batch = torch.stack([x, x.flip(-1)])
    assert tuple(T.AugMix(severity=1, mixture_width=2, chain_depth=2)(batch).shape) == \
        (2, 3, 18, 26)
    pil = Image.fromarray(x.numpy().transpose(1, 2, 0))
    assert T.AugMix(all_ops=False)(pil).size == pil.size
    img = tv_tensors.Image(x)
    assert type(v2.AugMix()(img)) is tv_tensors.Image
    with pytest.raises(ValueError, match="severity"):
        T.AugMix(severity=11)
    with pytest.raises(TypeError, match="uint8"):     # Equalize/Posterize need uint8, as in
        torch.manual_seed(0)                          # torchvision
        for _ in range(20):
            T.AugMix(chain_depth=3, mixture_width=4)(torch.rand(3, 8, 8))
