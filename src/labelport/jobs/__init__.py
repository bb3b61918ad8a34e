"""Running exports in the background: one `Runner` interface, a local pool inside the server
and Celery workers on any number of machines. Job state lives in the store
(`labelport.store.jobs`); a queue only dispatches."""
