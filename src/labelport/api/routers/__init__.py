"""One router per resource; `labelport.api.app` includes them under ``/api``."""
