"""The questions the API and the pages ask, one function each (one view, two formats).

A query takes the services, the caller and a typed parameter model, and answers a typed result;
``api/`` returns it as JSON and ``pages/`` renders it. Both routes declare the same parameter model,
so the page and the JSON accept, refuse and scope exactly alike.
"""
