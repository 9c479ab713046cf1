"""HTTP plumbing shared by the console's API server and the node server.

It imports Starlette and the engine's safety rules, never the console, so the slim node
install (FastAPI, uvicorn, pydantic) can use it. The engine itself never imports it.
"""
