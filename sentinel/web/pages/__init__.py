"""Server-rendered pages (Jinja2); they work with no internet access (no CDN)."""
