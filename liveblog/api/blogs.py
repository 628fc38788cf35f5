"""Blogs: create (admin), list, read, update (admin or the blog's editors)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from liveblog import editing
from liveblog.api.guards import admin_write, editor_write, json_body
from liveblog.api.problems import Problem
from liveblog.api.responses import json_response
from liveblog.models import BlogCreate, BlogList, BlogPatch


async def create_blog(request: Request) -> Response:
    await admin_write(request)
    data, _ = await json_body(request, BlogCreate)
    blog = await editing.create_blog(request.app.state.engine, data)
    return json_response(blog, 201, headers={"Location": f"/api/blogs/{blog.slug}"})


async def list_blogs(request: Request) -> Response:
    return json_response(BlogList(await request.app.state.engine.list_blogs()))


async def get_blog(request: Request) -> Response:
    slug = request.path_params["slug"]
    blog = await request.app.state.engine.get_blog(slug)
    if blog is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    return json_response(blog)


async def update_blog(request: Request) -> Response:
    slug = request.path_params["slug"]
    await editor_write(request, slug)
    patch, _ = await json_body(request, BlogPatch)
    return json_response(await editing.update_blog(request.app.state.engine, slug, patch))
