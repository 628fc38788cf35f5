"""Blogs: create (admin), list, read, update (admin or the blog's editors). The rules (defaults,
validation, who may change a blog) are ``liveblog.editorial.blogs``'s."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.body import invalid
from liveblog.api.guards import admin_write, editor_write, json_body
from liveblog.api.openapi import WRITE, operation
from liveblog.api.responses import json_response
from liveblog.editorial import blogs, editing, record, roles
from liveblog.editorial.refusals import InvalidField
from liveblog.models import Blog, BlogCreate, BlogList, BlogPatch
from liveblog.problems import Problem


async def _checked(work: Awaitable[Blog]) -> Blog:
    """The editorial rules' refusals, as this API words them."""
    try:
        return await work
    except InvalidField as exc:
        raise invalid(exc.path, exc.message) from None


@operation(
    "Create a blog", status=201, answer=Blog, body=BlogCreate, auth=True, errors=(*WRITE, 409)
)
async def create_blog(request: Request) -> Response:
    admin = await admin_write(request)
    data, _ = await json_body(request, BlogCreate)
    defaults = blogs.Defaults.of(request.app.state.settings)
    blog = await _checked(
        editing.create_blog(request.app.state.engine, data, by=record.actor(admin),
                            defaults=defaults)
    )  # fmt: skip
    return json_response(blog, 201, headers={"Location": f"/api/blogs/{blog.slug}"})


@operation("List blogs", answer=BlogList)
async def list_blogs(request: Request) -> Response:
    return json_response(BlogList(await request.app.state.engine.list_blogs()))


@operation("Read a blog", answer=Blog, errors=(404,))
async def get_blog(request: Request) -> Response:
    slug = request.path_params["slug"]
    blog = await request.app.state.engine.get_blog(slug)
    if blog is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    return json_response(blog)


@operation("Update a blog", answer=Blog, body=BlogPatch, auth=True, errors=WRITE)
async def update_blog(request: Request) -> Response:
    slug = request.path_params["slug"]
    token = await editor_write(request, slug)
    auth.allowed(roles.require_may_change_blog, token)
    patch, _ = await json_body(request, BlogPatch)
    engine = request.app.state.engine
    blog = await _checked(editing.update_blog(engine, slug, patch, by=record.actor(token)))
    return json_response(blog)
