"""Video files with PyAV: probing at import (`probe`), frame extraction for exports
(`frames`), and encoding the sample clip (`clip`)."""
