"""`pinnviz serve`: a local web service over the stores under a folder (API, jobs, pages).

Example::

    from pinnviz.service import create_app
    import uvicorn

    uvicorn.run(create_app("demo-out", token="secret"), host="127.0.0.1", port=8765)
"""

from pinnviz.service._app import create_app as create_app
from pinnviz.service._security import new_token as new_token

__all__ = ["create_app", "new_token"]
