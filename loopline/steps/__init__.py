"""The pipeline steps as plain, typed functions: each KFP component in components/ calls one."""
