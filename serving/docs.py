"""/docs without the internet: Swagger UI's JS and CSS come from the swagger-ui-bundle-v2
package and are served by the app itself, where FastAPI's default page loads them from
a CDN (a blank page offline). Like /openapi.json, the page and its files need no token."""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"


def add_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs from local files; build the app with docs_url=None."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        # behind a proxy that strips a prefix, the browser must ask for the prefixed URLs
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
        )

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
