"""Classification layouts: class folders (``imagefolder``), a table (``classification_csv``)
and Hugging Face's ``metadata.jsonl`` (``hf_imagefolder``)."""
