"""The engines that run strategies over requests, one subpackage each.

- ``static``: keyed strategies over traces (balance, remap, NAT skew, speed);
- ``sim``: the discrete-event simulator of live traffic through balancers;
- ``experiments``: the article's claims, each measured by the engines above;
- ``ab``: interleaved A/B timing of two versions, for CI timing gates.

``metrics`` and ``timing`` are shared by the engines. None of this knows the
command line.
"""
