"""The values of labelport: geometry, label schema, items, annotations and the streamed record.
Pure data and pure conversions: no I/O and no database."""
