"""The pipelines, each defined once: run locally by kfp.local, compiled for Kubeflow.

- training: ingest + load features -> transform (point-in-time training set) -> validate (TFDV)
  -> train -> evaluate (TFMA vs production) -> push if blessed
- features: load the feature store up to a time (a cluster schedules it on its own clock)
"""
