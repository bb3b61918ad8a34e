"""Helpers that more than one format family uses (file names, JSON and XML input, image sizes,
geometry conversions, mask painting and PNG encoding, label-file sinks). A helper used by one
family lives in that family's package instead."""
