"""The KFP components of loopline, one module per step, each a thin wrapper over a plain function.

The plain functions live in `loopline.steps` and `loopline.features` and never import kfp: the
KFP executor runs a component's body on its own, so everything a body needs is imported inside it.
"""
