"""loopline: the production ML loop on Kubeflow Pipelines, KServe and Feast.

The plain library that the KFP components (`loopline.components`), the pipelines
(`loopline.pipelines`) and the `loopline` command call. Nothing here imports kfp.
"""
