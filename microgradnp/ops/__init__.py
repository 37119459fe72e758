"""Every differentiable op, as functions on tensors.

Each file lists its public ops in `__all__`; this package re-exports them, and `mg.*`
re-exports this package's `__all__`: one list, in the file where the op is defined. The
names imported explicitly below are internal helpers (in-place machinery, broadcasting,
the fused cross-entropy) that the rest of the package uses.
"""

import sys

from .. import tensor as _tensor
from . import einsum as _einsum
from . import elementwise as _elementwise
from . import linalg as _linalg
from . import reduce as _reduce
from . import sampling as _sampling
from . import scan as _scan
from . import shape as _shape
from . import softmax as _softmax
from . import sorting as _sorting
from . import special as _special
from . import tensor_ops as _tensor_ops
from .einsum import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .elementwise import astype, pow_scalar, pow_tensor
from .inplace import inplace, setitem_
from .linalg import *  # noqa: F403
from .reduce import *  # noqa: F403
from .reduce import dim_args
from .sampling import *  # noqa: F403
from .scan import *  # noqa: F403
from .shape import *  # noqa: F403
from .shape import expand_as, getitem, index_add, index_put, normalize_index, sum_to, view
from .softmax import *  # noqa: F403
from .softmax import softmax_cross_entropy
from .sorting import *  # noqa: F403
from .special import *  # noqa: F403
from .tensor_ops import *  # noqa: F403

__all__ = (
    _elementwise.__all__
    + _linalg.__all__
    + _reduce.__all__
    + _shape.__all__
    + _softmax.__all__
    + _sampling.__all__
    + _scan.__all__
    + _sorting.__all__
    + _special.__all__
    + _einsum.__all__
    + _tensor_ops.__all__
)

# The one edge from Tensor back to its ops (see tensor.py): its methods call these.
_tensor._ops = sys.modules[__name__]
