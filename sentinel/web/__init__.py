"""The HTTP layer: the JSON API under ``/api/v1`` and the browser pages, in one package."""
