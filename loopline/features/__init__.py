"""The feature store's data: offline tables, the outcome stream, materialization, training sets."""
