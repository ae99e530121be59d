"""Build the optional C extension; everything else is configured in pyproject.toml.

``_cketama`` is the ketama strategy's scalar lookup (MD5 + binary search in
one call). It is optional: where it cannot be compiled, routebench installs
anyway and ketama uses its pure-Python path, with identical results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "routebench._cketama",
            ["src/routebench/_cketama.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
