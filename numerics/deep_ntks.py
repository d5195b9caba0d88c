"""A user-kernel plugin module that registers the depth-3 NTKs, ``ntk_relu_d3`` and
``ntk_erf_d3``, so that every contract test, claim check and book table covers them::

    POISONCURV_KERNELS=numerics.deep_ntks bash scripts/run_tests.sh -k "d3"

They are not in the default registry only for time: on 2 cores the two add about 384
core-seconds to the test command.  Any depth is available by name without registering
(``get_spec("ntk_relu_d5")``, ``TorchKernel("nngp_erf_d3")``); see
:func:`derivations.kernels.network_spec`.
"""

from __future__ import annotations

from derivations.kernels import REGISTRY, add_to_registry, get_spec

#: the kernels this module registers
NAMES: tuple[str, ...] = ("ntk_relu_d3", "ntk_erf_d3")

for _name in NAMES:
    if _name not in REGISTRY:
        # built by derivations.ntk_kernels and checked like the built-ins (values against the
        # 40- and 50-digit references in tests/); no import-time PSD probe
        add_to_registry(get_spec(_name))
