from tests.support.clients import Editor, SSEReader, WSReader


async def test_an_entry_reaches_sse_and_ws_readers(server: str, editor: Editor) -> None:
    await editor.create_blog("smoke")
    sse = await SSEReader(server, "/blogs/smoke/events").connect()
    ws = await WSReader(server, "/blogs/smoke/ws").connect()
    entry = await editor.post("smoke", headline="Hello")
    (sse_event,) = await sse.wait_for(1)
    (ws_event,) = await ws.wait_for(1)
    assert sse_event.raw == ws_event.raw
    assert sse_event.type == "entry.created"
    assert sse_event.data["data"] == entry
    await sse.close()
    await ws.close()
