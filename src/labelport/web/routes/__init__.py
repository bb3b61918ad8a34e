"""The page routes, one module per part of the app: thin like the API's routers."""
