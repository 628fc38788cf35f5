"""Blogs: create (admin), list, read, update (admin or the blog's editors)."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from liveblog import i18n
from liveblog.api.body import invalid
from liveblog.api.guards import admin_write, editor_write, json_body
from liveblog.api.responses import json_response
from liveblog.editorial import editing, record
from liveblog.models import BlogCreate, BlogList, BlogPatch
from liveblog.problems import Problem

T = TypeVar("T", BlogCreate, BlogPatch)


def _checked(data: T) -> T:
    """A language Babel knows (so the page has its locale data) and a zone that exists."""
    if isinstance(data.language, str) and not i18n.is_language(data.language):
        raise invalid("$.language", "must be a BCP 47 language tag such as uk, de-AT or ar")
    if isinstance(data.time_zone, str) and not i18n.is_time_zone(data.time_zone):
        raise invalid("$.time_zone", "must be an IANA time zone such as Europe/Kyiv or UTC")
    return data


async def create_blog(request: Request) -> Response:
    admin = await admin_write(request)
    data, _ = await json_body(request, BlogCreate)
    settings = request.app.state.settings
    data = _checked(data)
    data = msgspec.structs.replace(
        data,
        language=data.language or settings.default_language,
        time_zone=data.time_zone or settings.default_time_zone,
    )
    blog = await editing.create_blog(request.app.state.engine, data, by=record.actor(admin))
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
    token = await editor_write(request, slug)
    if token.role == "contributor":  # a blog's title and status are its editors' to change
        raise Problem(403, "Only an admin or an editor of this blog may change it.")
    patch, _ = await json_body(request, BlogPatch)
    patch = _checked(patch)
    blog = await editing.update_blog(request.app.state.engine, slug, patch, by=record.actor(token))
    return json_response(blog)
