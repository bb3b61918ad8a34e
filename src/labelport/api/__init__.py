"""The REST service: `labelport.api.app.create_app` builds the FastAPI application."""
