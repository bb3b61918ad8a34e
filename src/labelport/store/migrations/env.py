"""Alembic environment: runs on the connection `labelport.store.db` hands over in
``config.attributes["connection"]``, so no alembic.ini and no URL live here."""

from alembic import context

from labelport.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
