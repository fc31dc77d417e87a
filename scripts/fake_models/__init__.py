"""Random-weight FunASR model directories with the released architectures and file layouts.

Model hubs are unreachable on CI and offline machines, so tests and benchmarks load these instead.
`scripts/make_test_models.py` is the command line; `builders.build_models` is the entry point.
"""
