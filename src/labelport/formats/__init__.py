"""One module per external format family, each a reader and/or a writer registered by a stable
name in `labelport.formats.registry`; nothing outside this package knows a layout."""
