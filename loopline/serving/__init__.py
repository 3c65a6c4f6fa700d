"""Serving: a KServe model server that answers with the production (or canary) model on the
Feast online features of each request, built from the one model contract that training uses."""
