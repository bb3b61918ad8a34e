"""The web app: server-rendered pages for people, on the same FastAPI app as the API (pages at
``/``, the API at ``/api``). Pages call the store and the library the way the API's routes do,
with the same authorisation (`labelport.api.deps`) and the same export option parser
(`labelport.export.request`); see docs/web.md."""
