"""The console's pages: each module adds its routes with ``add_routes(router)``."""
