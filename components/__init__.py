"""Kubeflow Pipelines components, one folder per stage; each compiles to its committed component.yaml."""
