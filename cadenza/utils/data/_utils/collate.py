"""``torch.utils.data._utils.collate``'s names (implemented in ``cadenza.data.collate``).

>>> from cadenza.utils.data._utils.collate import default_collate
>>> default_collate([1, 2])
tensor([1, 2])
"""
from ....data.collate import (collate, collate_float_fn, collate_int_fn,  # noqa: F401
                              collate_numpy_array_fn, collate_numpy_scalar_fn, collate_str_fn,
                              collate_tensor_fn, default_collate, default_collate_err_msg_format,
                              default_collate_fn_map, default_convert, np_str_obj_array_pattern)
from ....data.collate import __all__  # noqa: F401
